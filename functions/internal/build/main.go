// Command build rebuilds the embedded Wasm modules of package functions:
// run it through `go generate ./functions` (it expects the functions
// directory as its working directory).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lumos-edge/lumos/functions/internal/wasmbuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	out := "wasm"
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := wasmbuild.Names()
	if err := wasmbuild.Build(context.Background(), ".", out, names); err != nil {
		return err
	}
	// The C modules need clang and wasi-libc; without them the committed
	// ones stay.
	if ok, why := wasmbuild.CAvailable(); ok {
		if err := wasmbuild.BuildC(context.Background(), ".", out, wasmbuild.CNames()); err != nil {
			return err
		}
		names = append(names, wasmbuild.CNames()...)
	} else {
		fmt.Fprintf(os.Stderr, "not rebuilding %v: %s\n", wasmbuild.CNames(), why)
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(out, n+".wasm"))
		if err != nil {
			return err
		}
		fmt.Printf("%-10s %9d bytes\n", n, fi.Size())
	}
	return nil
}
