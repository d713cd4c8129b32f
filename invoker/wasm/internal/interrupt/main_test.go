package interrupt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// guestWasm is the Go reactor built from testdata/guest by TestMain.
var guestWasm []byte

// compileCache shares compiled modules between the tests' runtimes (the Go
// guest takes seconds to compile under -race).
var compileCache = wazero.NewCompilationCache()

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "interrupt-guest")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build Go guest: %v\n%s", err, b)
		return 1
	}
	if guestWasm, err = os.ReadFile(out); err != nil {
		fmt.Fprintln(os.Stderr, "read Go guest:", err)
		return 1
	}
	return m.Run()
}

// engines are the two wazero engines every behavioural test runs on.
var engines = []struct {
	name string
	cfg  func() wazero.RuntimeConfig
}{
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
	{"compiler", wazero.NewRuntimeConfigCompiler},
}

// startedKey carries the channel the guest's lumos_test.started import closes.
type startedKey struct{}

// newRuntime returns a runtime with WASI, the lumos host module and the
// lumos_test module the Go guest imports.
func newRuntime(tb testing.TB, cfg wazero.RuntimeConfig) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, cfg.WithCompilationCache(compileCache))
	tb.Cleanup(func() { _ = r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := DefineHost(ctx, r); err != nil {
		tb.Fatal(err)
	}
	_, err := r.NewHostModuleBuilder("lumos_test").
		NewFunctionBuilder().
		WithFunc(func(ctx context.Context) {
			if ch, ok := ctx.Value(startedKey{}).(chan struct{}); ok {
				close(ch)
			}
		}).
		Export("started").
		Instantiate(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// reactor is one instantiated Go guest.
type reactor struct {
	mod  api.Module
	ctrl *Controller // nil when not instrumented
}

// newReactor instantiates the Go guest, instrumented or not, and binds a
// controller to the instrumented one.
func newReactor(tb testing.TB, r wazero.Runtime, instrumented bool, quantum time.Duration) *reactor {
	tb.Helper()
	ctx := context.Background()
	bin := guestWasm
	if instrumented {
		var err error
		if bin, err = Instrument(guestWasm); err != nil {
			tb.Fatal(err)
		}
	}
	cm, err := r.CompileModule(ctx, bin)
	if err != nil {
		tb.Fatal(err)
	}
	mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").
		WithStartFunctions("_initialize"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = mod.Close(ctx) })
	rc := &reactor{mod: mod}
	if instrumented {
		rc.ctrl = NewController(quantum)
		tb.Cleanup(rc.ctrl.Stop)
		if err := rc.ctrl.Bind(mod); err != nil {
			tb.Fatal(err)
		}
	}
	return rc
}

// call runs an export of the guest under the reactor's controller (armed
// with deadline when instrumented).
func (rc *reactor) call(ctx context.Context, deadline time.Time, name string, args ...uint64) ([]uint64, error) {
	if rc.ctrl != nil {
		ctx = WithController(ctx, rc.ctrl)
		rc.ctrl.Arm(deadline)
		defer rc.ctrl.Disarm()
	}
	return rc.mod.ExportedFunction(name).Call(ctx, args...)
}
