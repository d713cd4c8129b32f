package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/lumos-edge/lumos/invoker/wasm/internal/interrupt"
)

// engine is one wazero.Runtime: wazero bounds memory per runtime
// (WithMemoryLimitPages), so there is one per distinct memory limit, all
// sharing the Runtime's CompilationCache.
type engine struct {
	rt    wazero.Runtime
	pages uint32
	// host holds the signature of every function the host provides, by
	// module and name, for import validation at deploy time.
	host map[string]map[string]api.FunctionDefinition
}

// pageSize is the WebAssembly page size.
const pageSize = 65536

// maxPages is the most pages a 32-bit linear memory can have.
const maxPages = 65536

// pagesFor converts a memory limit in bytes to whole pages, at least one.
func pagesFor(limit int64) uint32 {
	p := limit / pageSize
	switch {
	case p < 1:
		return 1
	case p > maxPages:
		return maxPages
	}
	return uint32(p)
}

// engineFor returns the engine for a memory limit in pages, creating it on
// first use.
func (r *Runtime) engineFor(ctx context.Context, pages uint32) (*engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("wasm: %s: runtime closed", r.name)
	}
	if e := r.engines[int64(pages)]; e != nil {
		return e, nil
	}
	var rc wazero.RuntimeConfig
	if r.cfg.Engine == Compiler {
		rc = wazero.NewRuntimeConfigCompiler()
	} else {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithCompilationCache(r.cache).WithMemoryLimitPages(pages)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	e := &engine{rt: rt, pages: pages, host: make(map[string]map[string]api.FunctionDefinition)}
	if err := e.defineHost(ctx); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	r.engines[int64(pages)] = e
	return e, nil
}

// defineHost instantiates the host modules every guest may import: WASI
// (with environ_get and environ_sizes_get reading the calling instance's
// environment, see environ.go) and the interrupt module.
func (e *engine) defineHost(ctx context.Context) error {
	b := e.rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(environSizesGet), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("result.environc", "result.environv_len").
		Export("environ_sizes_get")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(environGet), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("environ", "environ_buf").
		Export("environ_get")
	wasi, err := b.Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("wasm: instantiate %s: %w", wasi_snapshot_preview1.ModuleName, err)
	}
	e.host[wasi_snapshot_preview1.ModuleName] = wasi.ExportedFunctionDefinitions()
	if err := interrupt.DefineHost(ctx, e.rt); err != nil {
		return fmt.Errorf("wasm: %w", err)
	}
	lm := e.rt.Module(interrupt.ImportModule)
	if lm == nil {
		return fmt.Errorf("wasm: host module %q missing after DefineHost", interrupt.ImportModule)
	}
	e.host[interrupt.ImportModule] = lm.ExportedFunctionDefinitions()
	return nil
}
