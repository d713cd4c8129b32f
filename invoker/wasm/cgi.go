package wasm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
	"github.com/lumos-edge/lumos/invoker/internal/cgi"
)

// cgiInstance serves exactly one request: it is instantiated ahead of
// demand (memory and data segments ready, nothing run) and runs its _start
// at Invoke with the request's CGI environment, body on stdin.
type cgiInstance struct {
	g    *guest
	in   bodyReader
	out  *limitBuffer
	used atomic.Bool
}

var _ invoker.Instance = (*cgiInstance)(nil)

func (f *function) newCGIInstance(ctx context.Context, cm wazero.CompiledModule, tl *invoker.Timeline) (invoker.Instance, error) {
	start := time.Now()
	c := &cgiInstance{out: &limitBuffer{max: frame.DefaultMaxBodyBytes + frame.DefaultMaxMetaBytes}}
	g, err := f.newGuest(ctx, cm, nil, &c.in, c.out)
	if err != nil {
		return nil, err
	}
	c.g = g
	tl.Add(invoker.PhaseInstantiate, start)
	return c, nil
}

// Invoke runs the guest once for req.
func (c *cgiInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	if !c.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("wasm %s: a cgi instance serves one request", c.g.id)
	}
	start := time.Now()
	// Copies: req's buffers belong to the caller once Invoke returns, and
	// a timed-out guest may still be reading.
	c.in.b = append([]byte(nil), req.Body...)
	c.g.env.vars = cgi.Env(c.g.f.spec.Name, c.g.f.spec.Env, req)
	tl.Add(invoker.PhaseRequestWrite, start)

	start = time.Now()
	deadline, _ := ctx.Deadline()
	c.g.ctrl.Arm(deadline)
	if !c.g.run() {
		c.g.ctrl.Disarm()
		return nil, fmt.Errorf("wasm %s: instance closed", c.g.id)
	}
	var err error
	select {
	case <-c.g.exited:
		err = c.g.classify(c.g.exitErr)
	case <-ctx.Done():
		err = c.g.timeout(ctx)
	}
	c.g.ctrl.Disarm()
	tl.Add(invoker.PhaseExecute, start)
	if err != nil {
		return nil, err
	}

	start = time.Now()
	out, err := c.out.bytes()
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", c.g.id, err)
	}
	resp, err := cgi.Parse(out)
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", c.g.id, err)
	}
	tl.Add(invoker.PhaseResponseRead, start)
	return resp, nil
}

// ID returns the instance's unique ID.
func (c *cgiInstance) ID() string { return c.g.id }

// Reusable reports false: a cgi instance serves one request.
func (c *cgiInstance) Reusable() bool { return false }

// MemoryBytes returns the linear memory size (as instantiated, or at exit).
func (c *cgiInstance) MemoryBytes() int64 { return c.g.mem.Load() }

// Close stops the guest; it never waits for guest code.
func (c *cgiInstance) Close(context.Context) error {
	c.g.close()
	return nil
}

// bodyReader is a cgi guest's stdin: the request body, set before _start
// runs (the goroutine start orders the write before the guest's reads).
type bodyReader struct {
	b   []byte
	off int
}

// Read implements io.Reader.
func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// limitBuffer is a cgi guest's stdout: a buffer that fails writes past max.
type limitBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
	err error
}

// Write implements io.Writer.
func (w *limitBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if len(w.buf)+len(p) > w.max {
		w.err = fmt.Errorf("%w: more than %d bytes on stdout", invoker.ErrProtocol, w.max)
		w.buf = nil
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *limitBuffer) bytes() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf, w.err
}
