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

// Names returns the function directories (under the functions package) that
// are built into modules: the defaults, then the test functions.
func Names() []string {
	return []string{"hello", "echo", "fib", "json", "spin", "crash", "trap"}
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
