package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/wasm/internal/interrupt"
)

// guest is what both ABIs share: one wazero module instance, its interrupt
// controller, its stderr tail and the goroutine that runs its _start.
type guest struct {
	f      *function
	id     string
	mod    api.Module
	ctrl   *interrupt.Controller
	env    *guestEnv
	stderr tailWriter
	// callCtx carries the controller and the environment to host functions.
	callCtx context.Context

	kill     chan struct{} // closed by stop
	killOnce sync.Once
	exited   chan struct{} // closed when _start returned
	exitErr  error         // written before exited is closed

	mu      sync.Mutex
	started bool
	closed  bool

	// hasMem: the module exports a memory (wazero's Memory() returns a
	// typed nil for a module without one).
	hasMem bool
	mem    atomic.Int64 // linear memory size, updated while the guest is parked
}

// newGuest instantiates cm with no start function, wired to stdin and
// stdout, and binds its interrupt controller.
func (f *function) newGuest(ctx context.Context, cm wazero.CompiledModule, env []string, stdin io.Reader, stdout io.Writer) (*guest, error) {
	g := &guest{
		f:      f,
		id:     f.nextID(),
		ctrl:   interrupt.NewController(f.r.cfg.Quantum),
		env:    &guestEnv{vars: env},
		kill:   make(chan struct{}),
		exited: make(chan struct{}),
		hasMem: len(cm.ExportedMemories()) > 0,
	}
	cfg := wazero.NewModuleConfig().
		WithName(g.id).
		WithStartFunctions().
		WithArgs(f.args...).
		WithStdin(stdin).
		WithStdout(stdout).
		WithStderr(&g.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(g.sleep).
		WithOsyield(runtime.Gosched).
		WithRandSource(rand.Reader)
	if f.fs != nil {
		cfg = cfg.WithFSConfig(f.fs)
	}
	mod, err := f.eng.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("wasm: %s: instantiate: %w", f.spec.Name, g.classify(err))
	}
	g.mod = mod
	if err := g.ctrl.Bind(mod); err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("wasm: %s: %w", f.spec.Name, err)
	}
	r := f.r
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("wasm: %s: runtime closed: %w", f.spec.Name, invoker.ErrUnavailable)
	}
	r.live[g] = struct{}{}
	r.mu.Unlock()
	g.callCtx = interrupt.WithController(withEnv(f.r.ctx, g.env), g.ctrl)
	g.storeMem()
	return g, nil
}

// storeMem records the linear memory size; call it only while the guest is
// not running (parked in a host call, or exited).
func (g *guest) storeMem() {
	if g.hasMem {
		g.mem.Store(int64(g.mod.Memory().Size()))
	}
}

// sleep implements the guest's nanosleep (and poll_oneoff timeouts): a real
// sleep that a kill cuts short, so a sleeping guest still honours timeouts.
func (g *guest) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.kill:
	}
}

// run starts _start on its own goroutine. It reports false if the guest
// was closed or already started.
func (g *guest) run() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.started {
		return false
	}
	r := g.f.r
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.running.Add(1)
	r.mu.Unlock()
	g.started = true
	go func() {
		defer r.running.Done()
		_, err := g.mod.ExportedFunction("_start").Call(g.callCtx)
		g.storeMem()
		g.exitErr = err
		close(g.exited)
	}()
	return true
}

// stop aborts the guest at its next yield (about one quantum away at
// most), wakes it from sleep and (through the kill channel) from a blocking
// stdin read. Nobody waits for the guest to return.
func (g *guest) stop() {
	g.killOnce.Do(func() {
		g.ctrl.Kill()
		close(g.kill)
	})
}

// close stops the guest and closes its module, at once if the guest is not
// running, else in the background once it returned: close never waits for
// guest code.
func (g *guest) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	started := g.started
	g.mu.Unlock()
	g.stop()
	release := func() {
		g.ctrl.Stop()
		_ = g.mod.Close(g.f.r.ctx)
		g.f.r.mu.Lock()
		delete(g.f.r.live, g)
		g.f.r.mu.Unlock()
	}
	if !started {
		release()
		return
	}
	select {
	case <-g.exited:
		release()
	default:
		go func() {
			<-g.exited
			release()
		}()
	}
}

// timeout returns the error of an invocation whose ctx ended: the guest is
// stopped and the caller does not wait for it.
func (g *guest) timeout(ctx context.Context) error {
	g.stop()
	return fmt.Errorf("wasm %s: %w (%w)", g.id, invoker.ErrTimeout, context.Cause(ctx))
}

// classify maps an error of the guest's code to the invoker sentinels. It
// returns nil for a clean exit (code 0).
func (g *guest) classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, invoker.ErrTimeout) {
		return fmt.Errorf("wasm %s: %w", g.id, err)
	}
	tail := g.stderr.String()
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == 0 {
			return nil
		}
		if g.stderr.sawOutOfMemory() {
			return fmt.Errorf("wasm %s: exit code %d: %w; stderr: %q", g.id, ee.ExitCode(), invoker.ErrOutOfMemory, tail)
		}
		return fmt.Errorf("wasm %s: %w with code %d; stderr: %q", g.id, invoker.ErrExit, ee.ExitCode(), tail)
	}
	if g.stderr.sawOutOfMemory() {
		return fmt.Errorf("wasm %s: %w: %v; stderr: %q", g.id, invoker.ErrOutOfMemory, err, tail)
	}
	return fmt.Errorf("wasm %s: %w: %v; stderr: %q", g.id, invoker.ErrTrap, err, tail)
}

// looksOutOfMemory recognizes the messages runtimes print when memory.grow
// fails: Go ("fatal error: out of memory"), Rust ("memory allocation of N
// bytes failed"), C ("Cannot allocate memory").
func looksOutOfMemory(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "out of memory") ||
		strings.Contains(s, "memory allocation of") ||
		strings.Contains(s, "cannot allocate memory")
}

// stderrTail is how much of a guest's stderr is kept for error messages.
const stderrTail = 4 << 10

// tailWriter keeps the last stderrTail bytes written to it, and notes
// whether an out-of-memory message went through (it may be long gone from
// the tail, behind a goroutine dump).
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	oom bool
}

// Write implements io.Writer; it never fails.
func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.oom {
		// Messages arrive in pieces: look at p with some of what preceded it.
		prev := t.buf[max(0, len(t.buf)-oomWindow):]
		t.oom = looksOutOfMemory(string(prev) + string(p[:min(len(p), stderrTail)]))
	}
	if len(p) >= stderrTail {
		t.buf = append(t.buf[:0], p[len(p)-stderrTail:]...)
		return len(p), nil
	}
	if over := len(t.buf) + len(p) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// oomWindow is how much earlier output joins a write when looking for an
// out-of-memory message split across writes.
const oomWindow = 64

// sawOutOfMemory reports whether an out-of-memory message was written.
func (t *tailWriter) sawOutOfMemory() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.oom
}

// String returns the kept tail.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
