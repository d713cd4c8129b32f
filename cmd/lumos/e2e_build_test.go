package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"github.com/lumos-edge/lumos/invoker/container"
)

// cliGateway are the client flags that reach srv.
func cliGateway(srv *server) []string {
	return []string{"--gateway", srv.url, "--password", testPassword}
}

// TestBuildDeployEndToEnd builds functions from source with `lumos deploy
// --build`, for the container runtime with both ABIs and for a wasm
// runtime, and invokes them over HTTP.
func TestBuildDeployEndToEnd(t *testing.T) {
	srv, _ := startContainerServer(t)
	for _, tc := range []struct {
		name  string
		args  []string
		query string
		body  []byte
		want  string
	}{
		{"b-hello", []string{"--build", "../../functions/hello", "--abi", "loop"}, "", nil, "Hello, world!\n"},
		{"b-echo-cgi", []string{"--build", "../../functions/echo", "--abi", "cgi"}, "", []byte("ping"), "ping"},
		{"b-fib-wasm", []string{"--build", "../../functions/fib", "--runtime", "wasm-interp"}, "n=10", nil, `"result":55`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"deploy", tc.name}, tc.args...), cliGateway(srv)...)
			if out, err := runCLI(t, "", args...); err != nil || !strings.Contains(out, "deployed "+tc.name) {
				t.Fatalf("deploy: %v %q", err, out)
			}
			for range 2 {
				a := invoke(t, srv, tc.name, tc.query, tc.body)
				if a.status != 200 || !strings.Contains(string(a.body), tc.want) {
					t.Fatalf("%d %q, want 200 containing %q", a.status, a.body, tc.want)
				}
			}
		})
	}
	// The runtime each was deployed on.
	out, err := runCLI(t, "", append([]string{"list"}, cliGateway(srv)...)...)
	if err != nil {
		t.Fatal(err)
	}
	runtimes := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			runtimes[f[0]] = f[1]
		}
	}
	for name, want := range map[string]string{"b-hello": "container", "b-echo-cgi": "container", "b-fib-wasm": "wasm-interp"} {
		if runtimes[name] != want {
			t.Errorf("%s runs on %q, want %s:\n%s", name, runtimes[name], want, out)
		}
	}

	// A library and a compile error: the build fails with its reason and
	// nothing is deployed.
	lib := writeModule(t, map[string]string{"lib.go": "package lib\n"})
	broken := writeModule(t, map[string]string{"main.go": "package main\n\nfunc main() { nope() }\n"})
	for dir, want := range map[string]string{lib: "not a main package", broken: "undefined: nope"} {
		_, err := runCLI(t, "", append([]string{"deploy", "b-bad", "--build", dir}, cliGateway(srv)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("deploy --build %s: %v, want an error saying %q", dir, err, want)
		}
	}
	if a := do(t, http.MethodGet, srv.url+"/system/function/b-bad", nil, map[string]string{"Authorization": "Bearer " + testPassword}); a.status != 404 {
		t.Errorf("b-bad after failed builds: %d %q", a.status, a.body)
	}
}

// TestDeployImageByName deploys images imported into containerd's
// namespace beforehand, by name, and checks that removing the functions
// leaves the images alone; a missing image, another architecture and an
// image name on a wasm runtime answer 400.
func TestDeployImageByName(t *testing.T) {
	srv, socket := startContainerServer(t)
	c := adminClient(srv)

	cc, err := containerd.New(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := namespaces.WithNamespace(context.Background(), container.DefaultNamespace)
	other := "arm64"
	if goruntime.GOARCH == "arm64" {
		other = "amd64"
	}
	hello, err := buildFunction(context.Background(), "../../functions/hello", buildOptions{runtime: runtimeContainer, tag: "lumos.test/hello:v1"})
	if err != nil {
		t.Fatal(err)
	}
	echo, err := buildFunction(context.Background(), "../../functions/echo", buildOptions{runtime: runtimeContainer, tag: "docker.io/library/echo-fn:v1"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := container.BuildImageWith([]byte("not run"), container.ImageOptions{Arch: other, Tag: "lumos.test/foreign:v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tarball := range [][]byte{hello, echo, foreign} {
		if _, err := cc.Import(ctx, bytes.NewReader(tarball), containerd.WithAllPlatforms(true)); err != nil {
			t.Fatal(err)
		}
	}

	// By the stored name through the API, and by a familiar name through
	// the CLI (whose --image then defaults to the container runtime).
	if err := deploy(t, c, "n-hello", nil, "lumos.test/hello:v1", map[string]string{"lumos.runtime": "container", "lumos.abi": "loop"}, nil); err != nil {
		t.Fatalf("deploy n-hello: %v", err)
	}
	if out, err := runCLI(t, "", append([]string{"deploy", "n-echo", "--image", "echo-fn:v1", "--abi", "cgi"}, cliGateway(srv)...)...); err != nil {
		t.Fatalf("deploy n-echo: %v %q", err, out)
	}
	if a := invoke(t, srv, "n-hello", "", nil); a.status != 200 || string(a.body) != "Hello, world!\n" {
		t.Fatalf("n-hello: %d %q", a.status, a.body)
	}
	if a := invoke(t, srv, "n-echo", "", []byte("by name")); a.status != 200 || string(a.body) != "by name" {
		t.Fatalf("n-echo: %d %q", a.status, a.body)
	}

	for _, tc := range []struct {
		name, image, runtime, want string
	}{
		{"n-missing", "lumos.test/missing:v1", "container", "lumos.test/missing:v1"},
		{"n-foreign", "lumos.test/foreign:v1", "container", "linux/" + goruntime.GOARCH},
		{"n-wasm", "lumos.test/hello:v1", "wasm-aot", "uploaded modules only"},
		{"n-reserved", "lumos.local/artifact:sha256-" + strings.Repeat("0", 64), "container", "uploaded artifacts"},
	} {
		err := deploy(t, c, tc.name, nil, tc.image, map[string]string{"lumos.runtime": tc.runtime}, nil)
		if ae := wantAPIError(t, err, 400, "bad_request"); !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: message %q lacks %q", tc.name, ae.Message, tc.want)
		}
	}

	for _, name := range []string{"n-hello", "n-echo"} {
		if out, err := runCLI(t, "", append([]string{"rm", name}, cliGateway(srv)...)...); err != nil {
			t.Fatalf("rm %s: %v %q", name, err, out)
		}
	}
	for _, name := range []string{"lumos.test/hello:v1", "docker.io/library/echo-fn:v1", "lumos.test/foreign:v1"} {
		if _, err := cc.ImageService().Get(ctx, name); err != nil {
			t.Errorf("image %s after its functions were removed: %v", name, err)
		}
	}
}

// TestDeployImageByNameUnavailable: naming an image while containerd is
// absent answers 503.
func TestDeployImageByNameUnavailable(t *testing.T) {
	o := testOptions(t.TempDir())
	o.bundled, o.defaultRuntime = false, "wasm-interp"
	o.containerd = filepath.Join(t.TempDir(), "no-containerd.sock")
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	err = deploy(t, adminClient(srv), "n-hello", nil, "lumos.test/hello:v1", map[string]string{"lumos.runtime": "container"}, nil)
	if ae := wantAPIError(t, err, 503, "unavailable"); !strings.Contains(ae.Message, "containerd") {
		t.Errorf("message %q does not name containerd", ae.Message)
	}
}
