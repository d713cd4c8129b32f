package wasm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/lumos-edge/lumos/invoker"
)

// Estimated in-memory cost of a compiled module per byte of module, by
// engine (wazero does not expose sizes). Measured with BenchmarkMemory on
// the 2.8 MB Go test guest: the interpreter's compiled module holds 22.4x
// its size in Go heap; the compiler's holds 2.0x in heap plus machine code
// mmapped outside the heap (about 5.7x per the project's NOTES: 20 MB RSS
// for a 3.5 MB module; RSS growth across a Load, 24-26x here, also counts
// the compiler's transient memory). See RATIONALE.md.
const (
	compilerBytesPerModuleByte    = 8
	interpreterBytesPerModuleByte = 22
)

// envABI names the environment variable telling a guest its ABI; it
// overrides any value of the spec's.
const envABI = "LUMOS_ABI"

// compileWorkers is how many goroutines the compiler engine uses for one
// module (experimental.WithCompilationWorkers).
const compileWorkers = 2

// estimateSize estimates the memory a compiled module of n bytes holds.
func (r *Runtime) estimateSize(n int) int64 {
	if r.cfg.Engine == Compiler {
		return int64(n) * compilerBytesPerModuleByte
	}
	return int64(n) * interpreterBytesPerModuleByte
}

// function is a validated, compiled Spec.
type function struct {
	r    *Runtime
	spec invoker.Spec
	eng  *engine
	key  cacheKey
	// env is the spec's environment as sorted KEY=VALUE strings, without
	// LUMOS_ABI (the runtime sets it).
	env []string
	// args is argv: the function's name, then the spec's Args.
	args []string
	// fs grants the spec's read-only mounts; nil means no filesystem at all.
	fs wazero.FSConfig

	compileMu sync.Mutex
	closed    atomic.Bool
}

var _ invoker.Function = (*function)(nil)

// Load validates spec's artifact and compiles it, so that a bad artifact
// fails at deploy time with an error wrapping invoker.ErrInvalidArtifact.
// The compiled module is kept in the Runtime's LRU; NewInstance recompiles
// it if it was evicted.
func (r *Runtime) Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
	switch {
	case spec.Name == "":
		return nil, fmt.Errorf("wasm: load: empty function name")
	case !spec.ABI.Valid():
		return nil, fmt.Errorf("wasm: load %s: unknown ABI %q", spec.Name, spec.ABI)
	case spec.Image != "":
		return nil, fmt.Errorf("wasm: load %s: image %q: %w: the wasm runtimes run uploaded modules only (deploy the digest of an uploaded module)", spec.Name, spec.Image, invoker.ErrInvalidArtifact)
	case spec.Artifact == nil:
		return nil, fmt.Errorf("wasm: load %s: no artifact", spec.Name)
	case spec.Digest == "":
		return nil, fmt.Errorf("wasm: load %s: no digest", spec.Name)
	case spec.MemoryLimit < 0:
		return nil, fmt.Errorf("wasm: load %s: negative memory limit", spec.Name)
	}
	limit := spec.MemoryLimit
	if limit == 0 {
		limit = r.cfg.DefaultMemoryLimit
	}
	pages := pagesFor(limit)
	eng, err := r.engineFor(ctx, pages)
	if err != nil {
		return nil, err
	}
	spec.Env = maps.Clone(spec.Env)
	f := &function{
		r:    r,
		spec: spec,
		eng:  eng,
		key:  cacheKey{digest: spec.Digest, pages: pages, instrument: instrumentVersion},
	}
	f.args = append([]string{spec.Name}, spec.Args...)
	if len(spec.Mounts) > 0 {
		f.fs = wazero.NewFSConfig()
		for _, m := range spec.Mounts {
			f.fs = f.fs.WithReadOnlyDirMount(m.HostPath, m.GuestPath)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		if k != envABI {
			f.env = append(f.env, k+"="+spec.Env[k])
		}
	}
	r.compiled.own(f.key)
	e, err := f.compiled(ctx, nil, false)
	if err != nil {
		r.closeModules(ctx, r.compiled.disown(f.key)...)
		return nil, fmt.Errorf("wasm: load %s: %w", spec.Name, err)
	}
	r.closeModules(ctx, r.compiled.release(e))
	r.log.Info("function loaded", logKeyFunction, spec.Name, logKeyMemLimit, int64(pages)*pageSize)
	return f, nil
}

// closeModules closes compiled modules dropped from the cache (nil ones are
// skipped).
func (r *Runtime) closeModules(ctx context.Context, cms ...wazero.CompiledModule) {
	for _, cm := range cms {
		if cm != nil {
			if err := cm.Close(ctx); err != nil {
				r.log.Warn("close compiled module", logKeyErr, err)
			}
		}
	}
}

// compiled returns f's compiled module with a reference held (release it
// with r.compiled.release), compiling it when the cache misses and then
// appending a compile or cache_load phase to tl.
func (f *function) compiled(ctx context.Context, tl *invoker.Timeline, countStats bool) (*compiledEntry, error) {
	if e := f.r.compiled.acquire(f.key, countStats); e != nil {
		return e, nil
	}
	f.compileMu.Lock()
	defer f.compileMu.Unlock()
	if e := f.r.compiled.acquire(f.key, false); e != nil {
		return e, nil
	}
	bin, err := f.spec.Artifact(ctx)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	start := time.Now()
	cm, fromDisk, err := f.r.compile(ctx, f.eng, f.spec.Digest, bin)
	if err != nil {
		return nil, err
	}
	if fromDisk {
		tl.Add(invoker.PhaseCacheLoad, start)
	} else {
		tl.Add(invoker.PhaseCompile, start)
	}
	e, closers := f.r.compiled.add(f.key, cm, f.r.estimateSize(len(bin)), fromDisk)
	f.r.closeModules(ctx, closers...)
	return e, nil
}

// compile instruments (see instrument) and compiles bin, then validates its imports and
// exports. fromDisk reports that the compiler's disk cache (or its
// in-memory engine) already held the code: no new cache entry was written.
func (r *Runtime) compile(ctx context.Context, eng *engine, digest string, bin []byte) (cm wazero.CompiledModule, fromDisk bool, err error) {
	if err := checkMagic(bin); err != nil {
		return nil, false, err
	}
	inst, err := r.instrument(digest, bin)
	if err != nil {
		return nil, false, fmt.Errorf("instrument: %w", err)
	}
	if r.cfg.Engine == Compiler {
		ctx = experimental.WithCompilationWorkers(ctx, compileWorkers)
	}
	if r.diskDir != "" {
		// Attribute a new cache entry to this compilation.
		r.compileMu.Lock()
		before := countCacheEntries(r.diskDir)
		cm, err = eng.rt.CompileModule(ctx, inst)
		fromDisk = err == nil && countCacheEntries(r.diskDir) == before
		r.compileMu.Unlock()
	} else {
		cm, err = eng.rt.CompileModule(ctx, inst)
	}
	if err != nil {
		return nil, false, fmt.Errorf("compile: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	if err := eng.validateModule(inst, cm); err != nil {
		_ = cm.Close(ctx)
		return nil, false, err
	}
	return cm, fromDisk, nil
}

// NewInstance instantiates the function, recompiling it first if the
// compiled module was evicted (phase compile, or cache_load when the disk
// cache served it). A loop instance is started and waited for until it reads
// its first request (phase first_ready); a cgi instance is only instantiated
// (memory and data segments ready), its _start runs at Invoke.
func (f *function) NewInstance(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
	if f.closed.Load() {
		return nil, fmt.Errorf("wasm: %s: function closed: %w", f.spec.Name, invoker.ErrUnavailable)
	}
	e, err := f.compiled(ctx, tl, true)
	if err != nil {
		return nil, fmt.Errorf("wasm: %s: %w", f.spec.Name, err)
	}
	defer func() { f.r.closeModules(ctx, f.r.compiled.release(e)) }()
	if f.spec.ABI == invoker.ABILoop {
		return f.newLoopInstance(ctx, e.cm, tl)
	}
	return f.newCGIInstance(ctx, e.cm, tl)
}

// Close drops the compiled module from the cache once no other open
// Function uses it. Live instances stay usable.
func (f *function) Close(ctx context.Context) error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	f.r.closeModules(ctx, f.r.compiled.disown(f.key)...)
	return nil
}

// nextID returns a unique instance ID.
func (f *function) nextID() string {
	return fmt.Sprintf("%s-%d", f.spec.Name, f.r.instances.Add(1))
}
