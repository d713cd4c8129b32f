package interrupt

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Names the instrumented module uses to talk to the host.
const (
	// ImportModule is the module name of the imported yield function.
	ImportModule = "lumos"
	// ImportName is the field name of the imported yield function, type () -> ().
	ImportName = "yield"
	// FlagExport is the export name of the mutable i32 global the guest
	// counts down (its yield budget).
	FlagExport = "lumos.interrupt"
)

// ErrInterrupted is returned (wrapped, together with invoker.ErrTimeout) by a
// guest call that was aborted because its controller was killed or its
// deadline passed. errors.Is(err, invoker.ErrTimeout) holds for it.
var ErrInterrupted = errors.New("interrupt: guest interrupted")

// ctxKey is the context key under which WithController stores a Controller.
type ctxKey struct{}

// WithController returns a context carrying c. Pass it to the guest's
// api.Function.Call (or to InstantiateModule when _start runs there) so that
// the yield host function finds the controller of the running instance.
func WithController(ctx context.Context, c *Controller) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

func controllerFrom(ctx context.Context) *Controller {
	c, _ := ctx.Value(ctxKey{}).(*Controller)
	return c
}

// DefineHost instantiates the "lumos" host module (function yield) into r.
// Call it once per wazero.Runtime, before instantiating instrumented modules.
func DefineHost(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yield), nil, nil).
		WithName(ImportName).
		Export(ImportName).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("interrupt: define host module %q: %w", ImportModule, err)
	}
	return nil
}

// yield is the host function the instrumented guest calls when its budget
// runs out. Running Go code here is a safe point: a pending GC
// stop-the-world or preemption request proceeds, and runtime.Gosched lets
// other goroutines run. If the controller was killed or its deadline passed,
// yield panics with an error wrapping ErrInterrupted and invoker.ErrTimeout;
// wazero recovers the panic and returns the error, wrapped with %w, from the
// guest's Call (the instance must then be discarded, as after any trap).
func yield(ctx context.Context, mod api.Module, _ []uint64) {
	c := controllerFrom(ctx)
	if c == nil {
		// No controller (e.g. _initialize): grant a large budget. The guest
		// still yields now and then, so it stays a good GC citizen.
		if g, ok := mod.ExportedGlobal(FlagExport).(api.MutableGlobal); ok {
			g.Set(idleBudget)
		}
		runtime.Gosched()
		return
	}
	if err := c.yield(); err != nil {
		panic(err)
	}
	runtime.Gosched()
}
