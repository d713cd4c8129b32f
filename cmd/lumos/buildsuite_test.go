package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lumos-edge/lumos/functions"
)

// TestBuildSuite builds a Go and a C suite function for every target
// through the command line and checks the table and sizes.json.
func TestBuildSuite(t *testing.T) {
	needTools(t, "clang", "gcc")
	dir := t.TempDir()
	out, err := runCLI(t, "", "build", "--suite", "hello", "c-fib", "--functions", "../../functions", "-o", dir)
	if err != nil {
		t.Fatalf("build --suite: %v\n%s", err, out)
	}
	for _, want := range []string{"function", "wasm KiB", "AoT KiB", "image compressed KiB", "image unpacked KiB", "hello", "c-fib"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "sizes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []suiteSizes
	if err := json.Unmarshal(b, &sizes); err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 2 || sizes[0].Name != "hello" || sizes[0].Language != "go" || sizes[1].Name != "c-fib" || sizes[1].Language != "c" {
		t.Fatalf("sizes.json: %+v", sizes)
	}
	for _, s := range sizes {
		mod, err := os.ReadFile(filepath.Join(dir, s.Name+".wasm"))
		if err != nil || int64(len(mod)) != s.Wasm {
			t.Errorf("%s.wasm: %v, %d bytes, sizes.json says %d", s.Name, err, len(mod), s.Wasm)
		}
		// Built as `go generate ./functions` builds the embedded module.
		if embedded, err := functions.Wasm(s.Name); err != nil || (os.Getenv("GOFLAGS") == "" && !bytes.Equal(mod, embedded)) {
			t.Errorf("%s.wasm differs from the embedded module (%v)", s.Name, err)
		}
		// Machine code is bigger than the module it comes from.
		if s.AOT <= s.Wasm {
			t.Errorf("%s: AoT artifact %d bytes, module %d", s.Name, s.AOT, s.Wasm)
		}
		tarImg, err := os.ReadFile(filepath.Join(dir, s.Name+".tar"))
		if err != nil || int64(len(tarImg)) != s.ImageTar {
			t.Fatalf("%s.tar: %v, %d bytes, sizes.json says %d", s.Name, err, len(tarImg), s.ImageTar)
		}
		// The unpacked size is the layer's tar: the binary, rounded up to
		// 512-byte blocks, plus headers; the compressed one is smaller.
		bin := layerFile(t, tarImg)
		if s.ImageUnpacked < int64(len(bin)) || s.ImageUnpacked > int64(len(bin))+16<<10 ||
			s.ImageCompressed <= 0 || s.ImageCompressed >= s.ImageUnpacked || s.ImageTar < s.ImageCompressed {
			t.Errorf("%s: binary %d bytes, image %+v", s.Name, len(bin), s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "aot", "hello")); err != nil {
		t.Error(err)
	}
}

// layerFile returns the one regular file of the image's layers.
func layerFile(t *testing.T, tarImg []byte) []byte {
	t.Helper()
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarImg)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers: %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("no file in the layer")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestBuildC builds functions/c/fib.c into a container image with gcc and
// runs the binary it holds as a CGI program, as the container runtime
// would.
func TestBuildC(t *testing.T) {
	needTools(t, "gcc")
	img, err := buildFunction(context.Background(), "../../functions/c/fib.c", buildOptions{runtime: runtimeContainer})
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fn")
	if err := os.WriteFile(bin, layerFile(t, img), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"REQUEST_METHOD=GET", "QUERY_STRING=n=20"}
	out, err := cmd.Output()
	if err != nil || string(out) != "Content-Type: application/json\r\n\r\n"+`{"number":20,"result":6765}`+"\n" {
		t.Fatalf("%v %q", err, out)
	}
	if got := defaultBuildOutput("../../functions/c/fib.c", buildOptions{runtime: runtimeWasmAOT}); got != "fib.wasm" {
		t.Errorf("default output %q", got)
	}
}

func TestBuildSuiteErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--suite", "nope", "--functions", "../../functions"}, `"nope" is not a suite function`},
		{[]string{"build", "--suite", "echo", "--functions", "../../functions"}, `"echo" is not a suite function`},
		{[]string{"build", "--suite", "--functions", t.TempDir()}, "not the functions directory"},
		{[]string{"build"}, "accepts 1 arg"},
		{[]string{"build", "../../functions/c/fib.c", "--arch", "riscv64"}, "this machine's architecture"},
	} {
		out, err := runCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v %q, want an error holding %q", tc.args, err, out, tc.want)
		}
	}
}

// needTools skips the test when a tool is missing, or fails it under
// CI=true, where .ci/test installs them (clang, lld, wasi-libc, gcc).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true: %s is required: %v", tool, err)
			}
			t.Skipf("%s is not installed (CI=true makes this a failure)", tool)
		}
	}
}
