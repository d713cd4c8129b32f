package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/invoker/container"
)

// writeModule writes a Go module named m with the given files into a new
// directory and returns it.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/m\n\ngo 1.22\n"
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuildErrors: what is not a buildable main package fails with a
// message saying why, compiler output included.
func TestBuildErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.go")
	if err := os.WriteFile(file, []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		o         buildOptions
		want      []string
	}{
		{"missing dir", filepath.Join(t.TempDir(), "nope"), buildOptions{runtime: runtimeContainer}, []string{"no such file"}},
		{"a file", file, buildOptions{runtime: runtimeContainer}, []string{"not a directory"}},
		{"no Go files", writeModule(t, map[string]string{}), buildOptions{runtime: runtimeContainer}, []string{"not a Go package", "no Go files"}},
		{"library", writeModule(t, map[string]string{"lib.go": "package lib\n\nfunc F() {}\n"}), buildOptions{runtime: runtimeContainer}, []string{"package lib is not a main package"}},
		{"compile error", writeModule(t, map[string]string{"main.go": "package main\n\nfunc main() { undefinedThing() }\n"}),
			buildOptions{runtime: runtimeContainer}, []string{"go build", "main.go:3", "undefined: undefinedThing"}},
		{"compile error in wasm", writeModule(t, map[string]string{"main.go": "package main\n\nfunc main() { var x int = \"s\" }\n"}),
			buildOptions{runtime: runtimeWasmAOT}, []string{"go build", "main.go:3"}},
		{"unknown runtime", "../../functions/hello", buildOptions{runtime: "jvm"}, []string{`--runtime "jvm"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildFunction(context.Background(), tc.dir, tc.o)
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestBuildCommand builds functions/hello into an image tarball and into a
// module through the command line.
func TestBuildCommand(t *testing.T) {
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "hello.tar")
	out, err := runCLI(t, "", "build", "../../functions/hello", "-o", tarFile, "--tag", "lumos.test/hello:v1")
	if err != nil || !strings.Contains(out, "built ../../functions/hello for container") {
		t.Fatalf("build: %v %q", err, out)
	}
	tag, err := name.NewTag("lumos.test/hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarFile, &tag)
	if err != nil {
		t.Fatalf("the tarball holds no image lumos.test/hello:v1: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != goruntime.GOARCH || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != container.BinaryPath {
		t.Fatalf("image config: %s/%s entrypoint %v", cf.OS, cf.Architecture, cf.Config.Entrypoint)
	}

	// The module, written to the default name in the working directory.
	hello, err := filepath.Abs("../../functions/hello")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if out, err := runCLI(t, "", "build", hello, "--runtime", "wasm-interp"); err != nil {
		t.Fatalf("build: %v %q", err, out)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "hello.wasm"))
	if err != nil || !bytes.HasPrefix(mod, []byte("\x00asm")) {
		t.Fatalf("hello.wasm: %v, %d bytes", err, len(mod))
	}
	// Built as `go generate ./functions` builds the bundled module.
	bundledHello, err := functions.Wasm("hello")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GOFLAGS") == "" && !bytes.Equal(mod, bundledHello) {
		t.Errorf("lumos build --runtime wasm-interp: %d bytes, unlike the bundled module (%d bytes)", len(mod), len(bundledHello))
	}
}
