package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"

	"github.com/lumos-edge/lumos/invoker"
)

// Bounds of the waits that clean up after a task; containerd answers these
// in milliseconds unless it is in trouble.
const (
	cleanupTimeout = 10 * time.Second
	// loadTimeout bounds a Load: importing and unpacking an image.
	loadTimeout = 5 * time.Minute
	// ioDrainTimeout bounds the wait for a dead task's stdout and stderr
	// copies to finish.
	ioDrainTimeout = time.Second
	// stderrTail is how much of a task's stderr is kept for error messages.
	stderrTail = 4 << 10
)

// proc is one container and, while it runs, its task.
type proc struct {
	r  *Runtime
	f  *function
	id string
	c  containerd.Container

	task   containerd.Task
	stderr *tailBuffer
	// exited is closed when the task has exited; status holds its exit.
	exited chan struct{}
	status containerd.ExitStatus
	// cancelWait stops the goroutine waiting for the task's exit.
	cancelWait context.CancelFunc

	// closeStdin ends the task's stdin (loop instances), so that
	// containerd's copy goroutine returns.
	closeStdin func()

	// memUsage is the cgroup file of the task's memory use ("" when unknown).
	memUsage string

	closeOnce sync.Once
	closeErr  error
}

// startTask creates and starts the container's task with the given stdio,
// recording task_create and task_start.
func (p *proc) startTask(ctx context.Context, stdin io.Reader, stdout io.Writer, tl *invoker.Timeline) error {
	p.stderr = &tailBuffer{max: stderrTail}
	creator := cio.NewCreator(cio.WithStreams(stdin, stdout, p.stderr), cio.WithFIFODir(p.r.fifoDir))
	start := time.Now()
	cctx, cancel := p.r.callCtx(ctx)
	task, err := p.c.NewTask(cctx, creator)
	cancel()
	if err != nil {
		return wrapCall(cctx, "create task "+p.id, err)
	}
	p.task = task
	tl.Add(invoker.PhaseTaskCreate, start)

	// The wait outlives ctx (the request's): it ends at close.
	wctx, cancel := context.WithCancel(p.r.withNS(context.WithoutCancel(ctx)))
	p.cancelWait = cancel
	exitC, err := task.Wait(wctx)
	if err != nil {
		return wrap("wait task "+p.id, err)
	}
	start = time.Now()
	cctx, cancel = p.r.callCtx(ctx)
	err = task.Start(cctx)
	cancel()
	if err != nil {
		return wrapCall(cctx, "start task "+p.id, err)
	}
	tl.Add(invoker.PhaseTaskStart, start)
	usage, _, err := memoryFiles(task.Pid())
	if err != nil {
		// The process may be gone already (a cgi task that died at once):
		// containerd puts every task in the cgroup /<namespace>/<id>.
		usage, _, err = memoryFilesAt(filepath.Join("/", p.r.cfg.Namespace, p.id))
	}
	if err == nil {
		p.memUsage = usage
	}
	go func() {
		p.status = <-exitC
		close(p.exited)
	}()
	return nil
}

// memoryBytes returns the task's memory use from its cgroup, or the limit
// when the cgroup cannot be read.
func (p *proc) memoryBytes() int64 {
	if p.memUsage != "" {
		if n, err := readBytes(p.memUsage); err == nil {
			return n
		}
	}
	return p.f.memory
}

// kill sends SIGKILL to the task without waiting for its exit.
func (p *proc) kill() {
	if p.task == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.r.withNS(p.r.ctx), cleanupTimeout)
	defer cancel()
	if err := p.task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		p.r.log.Warn("kill task", "id", p.id, "err", err)
	}
}

// drain waits a little for the task's stdout and stderr copies to finish,
// so that a dead task's output is complete.
func (p *proc) drain() {
	done := make(chan struct{})
	go func() {
		p.task.IO().Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ioDrainTimeout):
	}
}

// exitErr describes the task's exit, which is always an error for a loop
// instance, and for a cgi instance unless the code is 0. A wait that failed
// (containerd went away: the task may still run, but nothing supervises it)
// is reported at once, wrapping invoker.ErrUnavailable.
func (p *proc) exitErr(when string) error {
	if _, _, err := p.status.Result(); err != nil {
		return wrap("wait for task "+p.id, err)
	}
	p.drain()
	code, _, err := p.status.Result()
	if err != nil {
		return wrap("task "+p.id+" exit status", err)
	}
	if err := p.oomErr(code, when); err != nil {
		return err
	}
	return fmt.Errorf("container %s: %w with code %d %s; stderr: %q", p.id, invoker.ErrExit, code, when, p.stderr.String())
}

// timeout kills the task and returns the error of an invocation past its deadline.
func (p *proc) timeout(ctx context.Context) error {
	p.kill()
	cause := context.Cause(ctx)
	if cause == nil {
		// The deadline passed but the context's timer has not fired yet
		// (see expired).
		cause = context.DeadlineExceeded
	}
	return fmt.Errorf("container %s: %w: %w", p.id, invoker.ErrTimeout, cause)
}

// expired reports whether ctx is done or its deadline has passed. A gRPC
// call checks the deadline itself and can fail with DeadlineExceeded a
// moment before the context's own timer fires and sets ctx.Err.
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// close deletes the task (killing it), the container and its snapshot. It
// is safe to call more than once.
func (p *proc) close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		if p.closeStdin != nil {
			p.closeStdin()
		}
		ctx, cancel := context.WithTimeout(p.r.withNS(context.WithoutCancel(ctx)), cleanupTimeout)
		defer cancel()
		var errs []error
		if p.task != nil {
			if _, err := p.task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, wrap("delete task "+p.id, err))
			}
			p.cancelWait()
		}
		errs = append(errs, p.deleteContainer(ctx))
		p.closeErr = errors.Join(errs...)
		p.r.untrack(p, p.closeErr == nil)
	})
	return p.closeErr
}

// deleteContainer deletes the container and its snapshot.
func (p *proc) deleteContainer(ctx context.Context) error {
	if err := p.c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return wrap("delete container "+p.id, err)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer; it never fails.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
