package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lumos-edge/lumos/invoker/container"
)

// Runtimes that `lumos build` builds for.
const (
	runtimeContainer  = "container"
	runtimeWasmAOT    = "wasm-aot"
	runtimeWasmInterp = "wasm-interp"
)

// buildOptions say what to build a function's source into.
type buildOptions struct {
	// runtime is container (an image tarball) or wasm-aot/wasm-interp (a
	// wasip1 module).
	runtime string
	// arch is the GOARCH of a container image; "" is this machine's.
	arch string
	// tag names a container image inside its tarball; "" is container.DefaultImageTag.
	tag string
}

// wasm reports whether o builds a WebAssembly module.
func (o buildOptions) wasm() bool {
	return o.runtime == runtimeWasmAOT || o.runtime == runtimeWasmInterp
}

// artifact turns the program compiled at bin into what the build yields:
// the module itself for the Wasm runtimes, else an image holding it.
func (o buildOptions) artifact(name, bin string) ([]byte, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	if o.wasm() {
		return b, nil
	}
	img, err := container.BuildImageWith(b, container.ImageOptions{Arch: o.arch, Tag: o.tag})
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	return img, nil
}

// buildFunction compiles the Go main package in dir (a handler served by
// functions/sdk, like functions/hello) into the artifact of o.runtime: for
// container, a static Linux binary (CGO_ENABLED=0) packaged by
// container.BuildImageWith into a docker-archive tarball; for the wasm
// runtimes, a GOOS=wasip1 module built the way `go generate ./functions`
// builds the bundled ones (functions/internal/wasmbuild: -trimpath,
// -buildvcs=false, the name section kept). The go command must be on PATH.
//
// A C source file, or a directory holding .c files and no .go files, is
// built by buildC instead.
func buildFunction(ctx context.Context, dir string, o buildOptions) ([]byte, error) {
	if o.runtime != runtimeContainer && !o.wasm() {
		return nil, fmt.Errorf("--runtime %q: want %s, %s or %s", o.runtime, runtimeContainer, runtimeWasmAOT, runtimeWasmInterp)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	if srcs, err := cSources(dir, fi); err != nil {
		return nil, err
	} else if len(srcs) > 0 {
		return buildC(ctx, srcs, o)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build %s: not a directory (give the directory of a Go main package, or a .c file)", dir)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWASM=", "GOEXPERIMENT=")
	if o.wasm() {
		env = append(env, "GOOS=wasip1", "GOARCH=wasm")
	} else {
		arch := o.arch
		if arch == "" {
			arch = goruntime.GOARCH
		}
		env = append(env, "GOOS=linux", "GOARCH="+arch)
	}
	goCmd := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = dir, env
		return cmd
	}

	// A clear error for a directory that is not a main package, before
	// the build's own (which for a library succeeds and writes nothing).
	out, err := goCmd("list", "-f", "{{.Name}}", ".").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("build %s: not a Go package:\n%s", dir, strings.TrimSpace(string(out)))
	}
	if name := strings.TrimSpace(string(out)); name != "main" {
		return nil, fmt.Errorf("build %s: package %s is not a main package (a function is a main package whose main calls sdk.Serve)", dir, name)
	}

	tmp, err := os.MkdirTemp("", "lumos-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "fn")
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", bin}
	if !o.wasm() {
		// No symbol table or DWARF: a smaller image; panics still print
		// their stack (the pclntab stays).
		args = append(args, "-ldflags=-s -w")
	}
	if out, err := goCmd(append(args, ".")...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: go %s failed:\n%s", dir, strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
	return o.artifact(dir, bin)
}

func newBuildCmd() *cobra.Command {
	var (
		o            buildOptions
		output       string
		suite        bool
		functionsDir string
	)
	cmd := &cobra.Command{
		Use:   "build DIR|FILE.c [-o FILE] | build --suite [NAME...] [-o DIR]",
		Short: "Build a function's Go source into a container image tarball or a Wasm module",
		Long: `Build compiles the Go main package in DIR (a handler served by functions/sdk) into
the artifact of a runtime: for container (the default), a static Linux binary
packaged as a docker-archive image tarball (entrypoint /fn, user 65534, nothing
else in it); for wasm-aot and wasm-interp, a GOOS=wasip1 module. Upload the result
with 'lumos deploy --wasm' (modules), POST /system/artifacts, or import it into
containerd; 'lumos deploy NAME --build DIR' does all of it in one step.

A C source file (or a directory of .c files and no .go file) speaking the cgi
ABI, like functions/c/fib.c, builds with clang and wasi-libc for the wasm
runtimes and with gcc -static for container.

With --suite, build builds the workload suite (functions.Suite and the C
functions; NAME arguments pick some) for every target from the sources under
--functions, writes NAME.wasm, NAME.tar, aot/NAME/ (wazero's compilation
cache) and sizes.json into the -o directory, and prints a table of artifact
sizes: the Wasm module, the AoT-compiled artifact, and the container image
as a docker-archive tarball, its compressed layers and its unpacked layers.`,
		Example: `  lumos build ./myfunc -o myfunc.tar
  lumos build ./myfunc --tag registry.local/myfunc:v1 -o myfunc.tar && ctr -n lumos images import myfunc.tar
  lumos build ./myfunc --runtime wasm-aot -o myfunc.wasm
  lumos build functions/c/fib.c --runtime wasm-aot -o c-fib.wasm
  lumos build --suite -o suite-build
  lumos build --suite hello fib c-fib`,
		Args: func(cmd *cobra.Command, args []string) error {
			if suite {
				return nil
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if suite {
				fns, err := suiteFunctions(functionsDir, args)
				if err != nil {
					return err
				}
				if output == "" {
					output = "suite-build"
				}
				sizes, err := buildSuite(cmd.Context(), fns, output, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if err := printSizes(cmd.OutOrStdout(), sizes); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "artifacts and sizes.json in %s\n", output)
				return nil
			}
			art, err := buildFunction(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if output == "" {
				output = defaultBuildOutput(args[0], o)
			}
			if err := os.WriteFile(output, art, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s for %s: %s (%d bytes)\n", args[0], o.runtime, output, len(art))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "file to write (default DIRNAME.tar, or DIRNAME.wasm for the wasm runtimes); with --suite, the directory (default suite-build)")
	fl.BoolVar(&suite, "suite", false, "build the workload suite (or the NAMEs given) for every target and print the artifact sizes")
	fl.StringVar(&functionsDir, "functions", "functions", "with --suite: the functions directory of the Lumos repository")
	fl.StringVar(&o.runtime, "runtime", runtimeContainer, "runtime to build for: container, wasm-aot or wasm-interp")
	fl.StringVar(&o.arch, "arch", "", "GOARCH of a container image (default: this machine's)")
	fl.StringVar(&o.tag, "tag", "", "image name inside a container tarball, used by 'ctr images import' (default "+container.DefaultImageTag+")")
	return cmd
}

// defaultBuildOutput is DIRNAME.tar, or DIRNAME.wasm for a module.
func defaultBuildOutput(dir string, o buildOptions) string {
	base := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil {
		base = filepath.Base(abs)
	}
	base = strings.TrimSuffix(base, ".c")
	if o.wasm() {
		return base + ".wasm"
	}
	return base + ".tar"
}
