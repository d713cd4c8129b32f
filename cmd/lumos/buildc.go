package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// clangWasmArgs are clang's flags for a C function's Wasm module, the same
// as functions/internal/wasmbuild.CArgs (which cmd/lumos cannot import):
// wasm32-wasi against Debian's wasi-libc, -O2, debug sections stripped.
var clangWasmArgs = []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-Werror", "-Wl,--strip-debug"}

// gccStaticArgs are gcc's flags for a C function's container binary: a
// static executable (glibc linked in), -O2, symbols stripped.
var gccStaticArgs = []string{"-static", "-O2", "-Wall", "-Werror", "-s"}

// cSources returns the C sources path names: itself when it is a .c file,
// the .c files of a directory that holds no .go file, or none.
func cSources(path string, fi os.FileInfo) ([]string, error) {
	if !fi.IsDir() {
		if strings.HasSuffix(path, ".c") {
			return []string{path}, nil
		}
		return nil, nil
	}
	gos, err := filepath.Glob(filepath.Join(path, "*.go"))
	if err != nil || len(gos) > 0 {
		return nil, err
	}
	return filepath.Glob(filepath.Join(path, "*.c"))
}

// buildC compiles C sources speaking the cgi ABI (like functions/c/fib.c)
// into the artifact of o.runtime: a wasm32-wasi module with clang and
// wasi-libc, or a static binary with gcc in a container image tarball. The
// sources compile in their directory, so #include "x.h" finds its
// neighbours.
func buildC(ctx context.Context, srcs []string, o buildOptions) ([]byte, error) {
	name := strings.Join(srcs, " ")
	dir := filepath.Dir(srcs[0])
	var rel []string
	for _, s := range srcs {
		if filepath.Dir(s) != dir {
			return nil, fmt.Errorf("build %s: C sources must share a directory", name)
		}
		rel = append(rel, filepath.Base(s))
	}
	tmp, err := os.MkdirTemp("", "lumos-build-c-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "fn")
	cc, args := "gcc", gccStaticArgs
	if o.wasm() {
		cc, args = "clang", clangWasmArgs
	} else if o.arch != "" && o.arch != goruntime.GOARCH {
		return nil, fmt.Errorf("build %s: --arch %s: C functions build for this machine's architecture (%s) only", name, o.arch, goruntime.GOARCH)
	}
	if _, err := exec.LookPath(cc); err != nil {
		hint := "apt-get install gcc"
		if o.wasm() {
			hint = "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"
		}
		return nil, fmt.Errorf("build %s: %s is not installed (%s)", name, cc, hint)
	}
	args = append(append(append([]string{}, args...), "-o", bin), rel...)
	cmd := exec.CommandContext(ctx, cc, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %s %s failed:\n%s", name, cc, strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	return o.artifact(name, bin)
}
