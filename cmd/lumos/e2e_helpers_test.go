package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
)

const testPassword = "test-pass"

// testOptions are serve options for tests: loopback, an ephemeral port, small limits.
func testOptions(dir string) serveOptions {
	return serveOptions{
		addr: "127.0.0.1:0", dataDir: dir, defaultRuntime: "wasm-aot", bundled: true,
		adminUser: "admin", adminPassword: testPassword,
		maxBody: 1 << 20, maxArtifact: 32 << 20,
		defaultTimeout: 20 * time.Second, maxTimeout: time.Minute, logLevel: "warn",
		logOut: io.Discard,
	}
}

func startTestServer(t *testing.T, dir string) *server {
	t.Helper()
	srv, err := startServer(context.Background(), testOptions(dir))
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return srv
}

func adminClient(srv *server) *client {
	return &client{base: srv.url, user: "admin", pass: testPassword, http: &http.Client{Timeout: 5 * time.Minute}} // a deploy compiles: minutes under -race on a busy 2-core machine
}

// answer is an HTTP answer read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %q", a.body)
	}
	if e.Message == "" {
		t.Fatalf("error body without a message: %q", a.body)
	}
	return e.Error
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) answer {
	t.Helper()
	a, err := tryDo(method, url, body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryDo is do for goroutines other than the test's: it returns its error.
func tryDo(method, url string, body []byte, hdr map[string]string) (answer, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return answer{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return answer{resp.StatusCode, resp.Header, b}, nil
}

func invoke(t *testing.T, srv *server, name, query string, body []byte) answer {
	t.Helper()
	u := srv.url + "/function/" + name
	if query != "" {
		u += "?" + query
	}
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	return do(t, method, u, body, nil)
}

// deploy uploads mod (when not nil) and deploys it under name with the given
// annotations and labels; it returns the gateway's error, if any.
func deploy(t *testing.T, c *client, name string, mod []byte, image string, ann, labels map[string]string) error {
	t.Helper()
	ctx := context.Background()
	if mod != nil {
		var art struct {
			Digest string `json:"digest"`
		}
		if err := c.do(ctx, http.MethodPost, "/system/artifacts", bytes.NewReader(mod), "application/wasm", &art); err != nil {
			return err
		}
		image = art.Digest
	}
	return c.doJSON(ctx, http.MethodPost, "/system/functions",
		gateway.FunctionDeployment{Service: name, Image: image, Annotations: ann, Labels: labels}, nil)
}

func mustDeploy(t *testing.T, c *client, name string, mod []byte, ann, labels map[string]string) {
	t.Helper()
	if err := deploy(t, c, name, mod, "", ann, labels); err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// thirdPartyModule reads a WASI program shipped in wazero's testdata (built by
// the Rust, Zig and TinyGo toolchains, so not our code).
func thirdPartyModule(t *testing.T, rel string) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Fatalf("locate wazero module: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}
