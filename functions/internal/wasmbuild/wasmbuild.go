// Package wasmbuild builds the bundled functions into WebAssembly modules,
// one way for both `go generate ./functions` and the test that checks the
// committed modules are current.
package wasmbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CNames returns the functions written in C: c-NAME is built from
// c/NAME.c into c-NAME.wasm.
func CNames() []string { return []string{"c-fib", "c-prime"} }

// CSource returns the source file of the C function name, relative to the
// functions directory.
func CSource(name string) string {
	return filepath.Join("c", strings.TrimPrefix(name, "c-")+".c")
}

// Clang is the C compiler; Debian's clang with wasi-libc
// (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).
const Clang = "clang"

// wasiLibc is where Debian's wasi-libc package puts the C library.
const wasiLibc = "/usr/lib/wasm32-wasi/libc.a"

// CArgs returns clang's arguments for building src into out: wasm32-wasi
// against the Debian sysroot, -O2, debug sections stripped (clang's output
// then depends only on the source and the toolchain) and the name section
// kept, as for the Go modules.
func CArgs(src, out string) []string {
	return []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-Werror", "-Wl,--strip-debug", "-o", out, src}
}

// CAvailable reports whether clang and wasi-libc are installed, and if
// not, what is missing.
func CAvailable() (bool, string) {
	if _, err := exec.LookPath(Clang); err != nil {
		return false, "clang is not on PATH"
	}
	if _, err := os.Stat(wasiLibc); err != nil {
		return false, "wasi-libc is not installed (" + wasiLibc + ")"
	}
	return true, ""
}

// BuildC builds the named C functions found under functionsDir into
// outDir/<name>.wasm with clang.
func BuildC(ctx context.Context, functionsDir, outDir string, names []string) error {
	for _, n := range names {
		out, err := filepath.Abs(filepath.Join(outDir, n+".wasm"))
		if err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
		tmp := out + ".tmp"
		cmd := exec.CommandContext(ctx, Clang, CArgs(CSource(n), tmp)...)
		cmd.Dir = functionsDir
		if b, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("wasmbuild: clang %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, b)
		}
		if err := os.Chmod(tmp, 0o644); err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
	}
	return nil
}

// Names returns the function directories (under the functions package) that
// are built into modules: the defaults, the test functions, then the rest
// of the workload suite.
func Names() []string {
	return []string{"hello", "echo", "fib", "json", "spin", "crash", "trap",
		"prime", "nbody", "mandelbrot", "audio", "thumbnail", "fuzzy", "langdetect", "aes", "gzip"}
}

// Args returns the go command's arguments for building names, relative to
// the functions directory, into dir. One invocation builds them all: the go
// command compiles shared packages once and in parallel.
//
// -trimpath and -buildvcs=false make the output depend only on the sources
// and the toolchain: without the latter, every commit (or uncommitted change
// anywhere in the repository) would change the embedded VCS stamp. The name
// section is kept (no -ldflags=-s -w): it costs about 2% of the size and
// lets wazero name Go functions in trap stack traces.
func Args(dir string, names []string) []string {
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	return args
}

// Env returns the environment of the build: the caller's, with the target
// fixed and the variables that would change the output cleared.
func Env() []string {
	return append(os.Environ(),
		"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0",
		"GOWASM=", "GOEXPERIMENT=", "GOFLAGS=",
	)
}

// Build builds the named functions found under functionsDir into
// outDir/<name>.wasm, replacing existing files only once all are built.
func Build(ctx context.Context, functionsDir, outDir string, names []string) error {
	tmp, err := os.MkdirTemp(outDir, ".build-")
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", Args(tmp, names)...)
	cmd.Dir = functionsDir
	cmd.Env = Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wasmbuild: go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	for _, n := range names {
		// The go command names wasip1 executables after the package directory, without an extension.
		// Modules are data, not programs to run on the build machine: 0644.
		src := filepath.Join(tmp, n)
		if err := os.Chmod(src, 0o644); err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
		if err := os.Rename(src, filepath.Join(outDir, n+".wasm")); err != nil {
			return fmt.Errorf("wasmbuild: %w", err)
		}
	}
	return nil
}
