package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/gateway"
)

func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	srv, err := startServer(context.Background(), testOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	c := adminClient(srv)
	mustDeploy(t, c, "echo-kept", bundled(t, "echo"), map[string]string{"lumos.abi": "cgi", "lumos.runtime": "wasm-interp"}, nil)
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv = startTestServer(t, dir)
	a := invoke(t, srv, "echo-kept", "", []byte("still here"))
	if a.status != 200 || string(a.body) != "still here" {
		t.Fatalf("after restart: %d %q", a.status, a.body)
	}
	st := status(t, adminClient(srv), "echo-kept")
	if st.Annotations["lumos.abi"] != "cgi" || st.Annotations["lumos.runtime"] != "wasm-interp" {
		t.Fatalf("settings lost across restart: %+v", st.Annotations)
	}
}

// buildLumos builds the binary once per test that needs a real process.
func buildLumos(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lumos")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var deployedRE = regexp.MustCompile(`^f[0-9]+$`)

var servingRE = regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)

// startProcess runs `lumos serve` with extra flags and returns its URL once it serves.
func startProcess(t *testing.T, bin, dir string, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--admin-password", testPassword, "--log-level", "warn"}, flags...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(2 * time.Minute):
		t.Fatal("lumos serve did not start")
		return nil, ""
	}
}

// slowBody yields n bytes slowly, so a kill lands in the middle of an upload.
type slowBody struct{ left int }

func (s *slowBody) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(5 * time.Millisecond)
	n := min(len(p), s.left, 4096)
	for i := range n {
		p[i] = byte(i)
	}
	s.left -= n
	return n, nil
}

// TestKillDuringDeploy kills the gateway with SIGKILL while deploys and an
// upload are in flight, restarts it on the same data, and checks that what
// it lists is whole: every function answers and every artifact matches its digest.
func TestKillDuringDeploy(t *testing.T) {
	bin := buildLumos(t)
	dir := t.TempDir()
	cmd, url := startProcess(t, bin, dir)
	c := &client{base: url, user: "admin", pass: testPassword, http: &http.Client{Timeout: time.Minute}}
	echo := bundled(t, "echo")

	// Deploys in a loop, each a distinct artifact (a custom section changes the digest).
	deployErr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			mod := append(append([]byte{}, echo...), customSection(fmt.Sprintf("v%d", i))...)
			if err := deployNoT(c, fmt.Sprintf("f%d", i), mod); err != nil {
				deployErr <- err
				return
			}
		}
	}()
	go func() { // and a slow upload that never finishes before the kill
		req, _ := http.NewRequest(http.MethodPost, url+"/system/artifacts", &slowBody{left: 8 << 20})
		req.SetBasicAuth("admin", testPassword)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "some deploys landed", func() bool {
		select {
		case err := <-deployErr:
			t.Fatalf("deploy before the kill: %v", err)
		default:
		}
		var fns []gateway.FunctionStatus
		return c.doJSON(context.Background(), http.MethodGet, "/system/functions", nil, &fns) == nil && len(fns) >= 6
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, url = startProcess(t, bin, dir)
	// A new client: the deploy goroutine may still read the old one's base.
	c = &client{base: url, user: "admin", pass: testPassword, http: &http.Client{Timeout: time.Minute}}
	var fns []gateway.FunctionStatus
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/functions", nil, &fns); err != nil {
		t.Fatal(err)
	}
	deployed := 0
	for _, f := range fns {
		if !deployedRE.MatchString(f.Name) {
			continue
		}
		deployed++
		a := do(t, http.MethodPost, url+"/function/"+f.Name, []byte(f.Name), nil)
		if a.status != 200 || string(a.body) != f.Name {
			t.Errorf("%s after kill -9: %d %q", f.Name, a.status, a.body)
		}
	}
	if deployed < 6-len(functions.List()) {
		t.Fatalf("only %d of the deploys made before the kill survived it", deployed)
	}
	var arts []struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	}
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/artifacts", nil, &arts); err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		if a.Size == 8<<20 {
			t.Errorf("the interrupted upload is listed: %+v", a)
		}
		hexd := strings.TrimPrefix(a.Digest, "sha256:")
		b, err := os.ReadFile(filepath.Join(dir, "artifacts", "sha256", hexd))
		if err != nil {
			t.Errorf("artifact %s listed but unreadable: %v", a.Digest, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexd {
			t.Errorf("artifact %s does not match its digest", a.Digest)
		}
	}
}

func deployNoT(c *client, name string, mod []byte) error {
	ctx := context.Background()
	var art struct {
		Digest string `json:"digest"`
	}
	if err := c.do(ctx, http.MethodPost, "/system/artifacts", strings.NewReader(string(mod)), "application/wasm", &art); err != nil {
		return err
	}
	return c.doJSON(ctx, http.MethodPost, "/system/functions", gateway.FunctionDeployment{Service: name, Image: art.Digest}, nil)
}

// customSection encodes a Wasm custom section named name with a one-byte
// payload (wazero rejects an empty one).
func customSection(name string) []byte {
	body := append(append([]byte{byte(len(name))}, name...), 0)
	return append([]byte{0, byte(len(body))}, body...)
}
