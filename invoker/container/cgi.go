package container

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/oci"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
	"github.com/lumos-edge/lumos/invoker/internal/cgi"
)

// cgiInstance is one container created ahead of demand; Invoke puts the
// request's CGI variables into its spec, then creates and runs its task
// once, body on stdin.
type cgiInstance struct {
	p    *proc
	used atomic.Bool
}

var _ invoker.Instance = (*cgiInstance)(nil)

// Invoke runs the container's task once for req.
func (c *cgiInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	if !c.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("container %s: a cgi instance serves one request", c.p.id)
	}
	ctx = c.p.r.withNS(ctx)
	start := time.Now()
	if err := c.setEnv(ctx, cgi.Env(c.p.f.spec.Name, nil, req)); err != nil {
		if expired(ctx) {
			return nil, c.p.timeout(ctx)
		}
		return nil, err
	}
	tl.Add(invoker.PhaseRequestWrite, start)

	// Copies: req's buffers belong to the caller once Invoke returns, and
	// containerd's copy may still be reading after a timeout.
	stdin := bytes.NewReader(append([]byte(nil), req.Body...))
	out := &limitBuffer{max: frame.DefaultMaxBodyBytes + frame.DefaultMaxMetaBytes}
	if err := c.p.startTask(ctx, stdin, out, tl); err != nil {
		if expired(ctx) {
			return nil, c.p.timeout(ctx)
		}
		return nil, err
	}

	start = time.Now()
	select {
	case <-c.p.exited:
	case <-ctx.Done():
		tl.Add(invoker.PhaseExecute, start)
		return nil, c.p.timeout(ctx)
	}
	tl.Add(invoker.PhaseExecute, start)

	start = time.Now()
	c.p.drain()
	if code, _, err := c.p.status.Result(); err != nil || code != 0 {
		return nil, c.p.exitErr("")
	}
	b, err := out.bytes()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.p.id, err)
	}
	resp, err := cgi.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.p.id, err)
	}
	tl.Add(invoker.PhaseResponseRead, start)
	return resp, nil
}

// setEnv adds vars to the environment of the container's spec.
func (c *cgiInstance) setEnv(ctx context.Context, vars []string) error {
	cctx, cancel := c.p.r.callCtx(ctx)
	defer cancel()
	spec, err := c.p.c.Spec(cctx)
	if err != nil {
		return wrapCall(cctx, "spec of "+c.p.id, err)
	}
	if err := oci.WithEnv(vars)(ctx, nil, nil, spec); err != nil {
		return fmt.Errorf("container %s: set CGI environment: %w", c.p.id, err)
	}
	if err := c.p.c.Update(cctx, containerd.UpdateContainerOpts(containerd.WithSpec(spec))); err != nil {
		return wrapCall(cctx, "update spec of "+c.p.id, err)
	}
	return nil
}

// ID returns the container ID.
func (c *cgiInstance) ID() string { return c.p.id }

// Reusable reports false: a cgi instance serves one request.
func (c *cgiInstance) Reusable() bool { return false }

// MemoryBytes returns the memory limit: the task has exited by the time
// anyone asks.
func (c *cgiInstance) MemoryBytes() int64 { return c.p.f.memory }

// Close deletes task, container and snapshot.
func (c *cgiInstance) Close(ctx context.Context) error { return c.p.close(ctx) }

// limitBuffer is a cgi task's stdout: a buffer that drops output past max
// and remembers that it did.
type limitBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
	err error
}

// Write implements io.Writer. Past max it keeps accepting (and dropping)
// output so that containerd's copy never blocks the task.
func (w *limitBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return len(p), nil
	}
	if len(w.buf)+len(p) > w.max {
		w.err = fmt.Errorf("%w: more than %d bytes on stdout", invoker.ErrProtocol, w.max)
		w.buf = nil
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *limitBuffer) bytes() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf, w.err
}
