// Package wasm runs WebAssembly functions with wazero: the "wasm-interp"
// runtime (wazero's interpreter) and the "wasm-aot" runtime (wazero's
// optimizing compiler, with a persistent on-disk compilation cache so that a
// restarted gateway does not recompile).
//
// A Runtime turns a Spec into a Function (Load validates, instruments for
// timeouts and compiles at deploy time) and a Function into Instances. Two
// ABIs are served: "loop" instances stay alive and serve request frames in
// sequence over stdin/stdout (package invoker/frame); "cgi" instances are
// instantiated ahead of demand and run their _start once per request, CGI
// style. Every guest is instrumented by package internal/interrupt so that a
// timed-out or killed guest stops at its next loop header or function entry,
// with either engine.
//
// See RATIONALE.md for the design choices and the measured size estimates.
package wasm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/lumos-edge/lumos/invoker/wasm/internal/interrupt"
)

// Engine selects wazero's execution engine.
type Engine int

const (
	// Interpreter is wazero's interpreter: fast to compile, slow to run.
	Interpreter Engine = iota
	// Compiler is wazero's optimizing ahead-of-time compiler.
	Compiler
)

// String returns the runtime name of the engine.
func (e Engine) String() string {
	switch e {
	case Interpreter:
		return "wasm-interp"
	case Compiler:
		return "wasm-aot"
	}
	return fmt.Sprintf("wasm-engine(%d)", int(e))
}

// Defaults for Config fields left zero.
const (
	// DefaultCompiledCacheBytes bounds the estimated memory of the compiled
	// modules kept in memory.
	DefaultCompiledCacheBytes int64 = 1 << 30
	// DefaultMemoryLimit caps an instance's linear memory.
	DefaultMemoryLimit int64 = 128 << 20
	// DefaultQuantum is about how often a running guest yields.
	DefaultQuantum = interrupt.DefaultQuantum
)

// Config configures a Runtime. Zero fields take their defaults.
type Config struct {
	// Engine is the wazero engine.
	Engine Engine
	// CacheDir is the compilation cache directory (Compiler engine only);
	// "" keeps compiled code in memory only.
	CacheDir string
	// CompiledCacheBytes bounds (estimated bytes) the compiled modules kept
	// in memory; least recently used ones are closed past it.
	// Default DefaultCompiledCacheBytes.
	CompiledCacheBytes int64
	// DefaultMemoryLimit caps an instance's linear memory in bytes when the
	// Spec sets none. Default DefaultMemoryLimit.
	DefaultMemoryLimit int64
	// Quantum is how often a running guest yields (a Go safe point).
	// Default DefaultQuantum.
	Quantum time.Duration
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// Stats describes the compiled-module cache of a Runtime.
type Stats struct {
	// Modules is the number of compiled modules held in memory.
	Modules int
	// EstimatedBytes is their estimated memory (see RATIONALE.md).
	EstimatedBytes int64
	// Hits and Misses count NewInstance lookups of the compiled module.
	Hits, Misses uint64
	// Evictions counts modules closed to stay under CompiledCacheBytes.
	Evictions uint64
	// Compiles counts compilations that produced code, CacheLoads those
	// served by the on-disk compilation cache.
	Compiles, CacheLoads uint64
}

// Log keys.
const (
	logKeyFunction = "function"
	logKeyRuntime  = "runtime"
	logKeyMemLimit = "memory_limit"
	logKeyErr      = "err"
)

// Runtime runs WebAssembly functions with one wazero engine. It is safe for
// concurrent use.
type Runtime struct {
	cfg   Config
	name  string
	log   *slog.Logger
	cache wazero.CompilationCache
	// diskDir is the directory wazero writes cache entries into ("" when
	// there is no disk cache).
	diskDir string

	mu       sync.Mutex
	closed   bool
	engines  map[int64]*engine // by memory limit in pages
	compiled *moduleCache

	// compileMu serializes compilations on a disk-cached compiler, so that
	// a new cache entry can be attributed to the compilation that wrote it.
	compileMu sync.Mutex

	// live holds the instances not yet closed (guarded by mu); running
	// counts their guest goroutines, so Close can stop and wait for them
	// before closing the wazero runtimes under them.
	live    map[*guest]struct{}
	running sync.WaitGroup

	instances atomic.Uint64
	ctx       context.Context // for background closes
}

// New returns a Runtime configured by cfg.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Engine != Interpreter && cfg.Engine != Compiler {
		return nil, fmt.Errorf("wasm: unknown engine %d", int(cfg.Engine))
	}
	if cfg.CompiledCacheBytes <= 0 {
		cfg.CompiledCacheBytes = DefaultCompiledCacheBytes
	}
	if cfg.DefaultMemoryLimit <= 0 {
		cfg.DefaultMemoryLimit = DefaultMemoryLimit
	}
	if cfg.Quantum <= 0 {
		cfg.Quantum = DefaultQuantum
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{
		cfg:     cfg,
		name:    cfg.Engine.String(),
		engines: make(map[int64]*engine),
		live:    make(map[*guest]struct{}),
		ctx:     context.WithoutCancel(ctx),
	}
	r.log = log.With(logKeyRuntime, r.name)
	r.compiled = newModuleCache(cfg.CompiledCacheBytes)
	if cfg.CacheDir != "" && cfg.Engine == Compiler {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = c
		r.diskDir = cfg.CacheDir
	} else {
		r.cache = wazero.NewCompilationCache()
	}
	return r, nil
}

// countCacheEntries counts the finished entries of the on-disk compilation
// cache under dir (wazero writes them, one file per module, into a
// version-specific subdirectory; temporary files end in ".tmp").
func countCacheEntries(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == instrumentedDir {
			return filepath.SkipDir // ours, not wazero's
		}
		if err == nil && !d.IsDir() && !strings.HasSuffix(d.Name(), ".tmp") {
			n++
		}
		return nil
	})
	return n
}

// Name returns "wasm-interp" or "wasm-aot".
func (r *Runtime) Name() string { return r.name }

// Stats returns the compiled-module cache statistics.
func (r *Runtime) Stats() Stats { return r.compiled.stats() }

// Close stops every instance still alive (as Instance.Close does), waits
// until their guests returned (or ctx ends), then closes every compiled
// module and wazero runtime.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	engines := r.engines
	r.engines = nil
	live := make([]*guest, 0, len(r.live))
	for g := range r.live {
		live = append(live, g)
	}
	r.mu.Unlock()

	for _, g := range live {
		g.close()
	}
	done := make(chan struct{})
	go func() {
		r.running.Wait()
		close(done)
	}()
	var errs []error
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("waiting for guests to stop: %w", context.Cause(ctx)))
	}
	for _, cm := range r.compiled.purge() {
		errs = append(errs, cm.Close(ctx))
	}
	for _, e := range engines {
		errs = append(errs, e.rt.Close(ctx))
	}
	errs = append(errs, r.cache.Close(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wasm: close %s: %w", r.name, err)
	}
	return nil
}
