package functions_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/functions/internal/wasmbuild"
)

// allBundled returns every bundled function once, in the build's order:
// the defaults, the test functions, the rest of the suite, the C ones.
func allBundled() []functions.Bundled {
	var all []functions.Bundled
	seen := map[string]bool{}
	for _, l := range [][]functions.Bundled{functions.List(), functions.TestFunctions(), functions.Suite(), functions.CFunctions()} {
		for _, b := range l {
			if !seen[b.Name] {
				seen[b.Name] = true
				all = append(all, b)
			}
		}
	}
	return all
}

func TestCatalogue(t *testing.T) {
	var names []string
	for _, b := range allBundled() {
		names = append(names, b.Name)
		if !b.ABI.Valid() || b.Description == "" {
			t.Errorf("%s: ABI %q, description %q", b.Name, b.ABI, b.Description)
		}
		mod, err := functions.Wasm(b.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(mod, []byte("\x00asm\x01\x00\x00\x00")) {
			t.Errorf("%s: not a WebAssembly 1.0 module", b.Name)
		}
	}
	if built := append(wasmbuild.Names(), wasmbuild.CNames()...); !slices.Equal(names, built) {
		t.Fatalf("catalogue %v, build list %v", names, built)
	}
	for _, bad := range []string{"", "nope", "../functions", "hello.wasm", "wasm/hello"} {
		if _, err := functions.Wasm(bad); !errors.Is(err, functions.ErrNotBundled) {
			t.Errorf("Wasm(%q): %v, want ErrNotBundled", bad, err)
		}
	}
	// Callers own what they get.
	a, err := functions.Wasm("hello")
	if err != nil {
		t.Fatal(err)
	}
	a[0] = 'X'
	b, err := functions.Wasm("hello")
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 {
		t.Fatal("Wasm returned shared bytes")
	}
	l := functions.List()
	l[0].Name = "changed"
	if functions.List()[0].Name != "hello" {
		t.Fatal("List returned shared state")
	}
}

// TestEmbeddedModulesUpToDate rebuilds every module with the generator's
// own command and compares it with the embedded one. The go command builds
// all functions in one parallel invocation, from the build cache when warm.
func TestEmbeddedModulesUpToDate(t *testing.T) {
	// go test caches a result by the files the test process opened: read the
	// sources that only the go build subprocess would see, so an edit to
	// a function's main package reruns this test. (Edits to packages the
	// test imports, sdk and frame, change the test binary anyway.)
	for _, name := range wasmbuild.Names() {
		srcs, err := filepath.Glob(filepath.Join(name, "*.go"))
		if err != nil || len(srcs) == 0 {
			t.Fatalf("sources of %s: %v", name, err)
		}
		for _, src := range append(srcs, "../go.mod", "../go.sum") {
			if _, err := os.ReadFile(src); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	if err := wasmbuild.Build(context.Background(), ".", dir, wasmbuild.Names()); err != nil {
		t.Fatal(err)
	}
	for _, name := range wasmbuild.Names() {
		built, err := readFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := functions.Wasm(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, embedded) {
			t.Errorf("%s.wasm is stale (%d bytes built, %d embedded): run go generate ./functions", name, len(built), len(embedded))
		}
	}

	// The C modules, when clang and wasi-libc are here; CI must have them.
	ok, why := wasmbuild.CAvailable()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: cannot check %v: %s (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)", wasmbuild.CNames(), why)
		}
		t.Logf("not checking %v: %s", wasmbuild.CNames(), why)
		return
	}
	for _, name := range wasmbuild.CNames() {
		for _, src := range []string{wasmbuild.CSource(name), "c/cgi.h"} {
			if _, err := os.ReadFile(src); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wasmbuild.BuildC(context.Background(), ".", dir, wasmbuild.CNames()); err != nil {
		t.Fatal(err)
	}
	for _, name := range wasmbuild.CNames() {
		built, err := readFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		embedded, err := functions.Wasm(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, embedded) {
			t.Errorf("%s.wasm is stale (%d bytes built, %d embedded): run go generate ./functions", name, len(built), len(embedded))
		}
	}
}
