package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
)

// containerImage builds the bundled function pkg (under functions/) as a
// static Linux binary and packages it as an image tarball.
func containerImage(t *testing.T, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fn")
	cmd := exec.Command("go", "build", "-o", out, "../../functions/"+pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := container.BuildImage(bin)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestContainerUnavailable deploys to the container runtime while
// containerd is absent: 503, and the Wasm functions keep serving.
func TestContainerUnavailable(t *testing.T) {
	// Without the bundled functions and with the interpreter as default,
	// the server starts in milliseconds even under the race detector.
	o := testOptions(t.TempDir())
	o.bundled, o.defaultRuntime = false, "wasm-interp"
	o.containerd = filepath.Join(t.TempDir(), "no-containerd.sock")
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	c := adminClient(srv)
	img, err := container.BuildImage([]byte("not run"))
	if err != nil {
		t.Fatal(err)
	}
	err = deploy(t, c, "ctr-hello", img, "", map[string]string{"lumos.runtime": "container"}, nil)
	ae := wantAPIError(t, err, 503, "unavailable")
	if !strings.Contains(ae.Message, "containerd") {
		t.Errorf("message %q does not say containerd is the cause", ae.Message)
	}
	mustDeploy(t, c, "hello", bundled(t, "hello"), nil, nil)
	if a := invoke(t, srv, "hello", "", nil); a.status != 200 {
		t.Fatalf("wasm hello: %d %q", a.status, a.body)
	}
}

// TestContainerEndToEnd deploys container functions through the admin API
// on a private containerd and invokes them over HTTP.
func TestContainerEndToEnd(t *testing.T) {
	srv, _ := startContainerServer(t)
	c := adminClient(srv)
	for _, tc := range []struct {
		name, pkg string
		ann       map[string]string
		query     string
		body      []byte
		status    int
		want      string
	}{
		{"c-hello", "hello", map[string]string{"lumos.abi": "loop"}, "", nil, 200, "Hello, world!\n"},
		{"c-echo-cgi", "echo", map[string]string{"lumos.abi": "cgi"}, "", []byte("ping"), 200, "ping"},
		{"c-fib", "fib", map[string]string{"lumos.abi": "loop"}, "n=25", nil, 200, `"result":75025`},
		{"c-spin", "spin", map[string]string{"lumos.abi": "loop", "lumos.timeout": "500ms"}, "", nil, 504, ""},
		{"c-crash", "crash", map[string]string{"lumos.abi": "cgi"}, "", nil, 502, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ann["lumos.runtime"] = "container"
			mustDeploy(t, c, tc.name, containerImage(t, tc.pkg), tc.ann, nil)
			for range 2 {
				a := invoke(t, srv, tc.name, tc.query, tc.body)
				if a.status != tc.status || !strings.Contains(string(a.body), tc.want) {
					t.Fatalf("%d %q, want %d containing %q", a.status, a.body, tc.status, tc.want)
				}
			}
		})
	}
	if err := deploy(t, c, "c-bad", []byte("not an image"), "", map[string]string{"lumos.runtime": "container"}, nil); err != nil {
		wantAPIError(t, err, 400, "bad_request")
	} else {
		t.Fatal("a malformed image deployed")
	}
}

// privateContainerd starts a containerd of the test's own, stopped at its
// end (after the cleanups registered later, which run first).
func privateContainerd(t *testing.T) *containerdtest.Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "lumos-e2e-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d, err := containerdtest.Start(dir)
	containerdtest.Require(t, err)
	t.Cleanup(d.Stop)
	return d
}

// startContainerServer starts a private containerd and a gateway on it
// (without the bundled functions, Wasm interpreted by default). It returns
// the gateway and the containerd socket.
func startContainerServer(t *testing.T) (*server, string) {
	t.Helper()
	d := privateContainerd(t)
	return serveOnContainerd(t, d, t.TempDir()), d.Socket
}

// serveOnContainerd starts a gateway on containerd d with its data in
// dataDir (without the bundled functions, Wasm interpreted by default),
// closed at the test's end.
func serveOnContainerd(t *testing.T, d *containerdtest.Daemon, dataDir string) *server {
	t.Helper()
	o := testOptions(dataDir)
	o.bundled, o.defaultRuntime, o.containerd = false, "wasm-interp", d.Socket
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after d.Stop, so it runs first: instances are deleted
	// while containerd is still up.
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return srv
}
