package container

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// maxKeptBuffer is the largest request or response buffer an idle instance
// keeps for reuse. It is well above 1 MiB: a frame holding a 1 MiB body is
// a little larger, and at 1 MiB it made every call allocate its buffers
// anew (echo of 1 MiB on wasm-aot: request_write 0.31 ms against 0.01 ms
// at 256 KiB), the same bound as the SDK's on the guest side.
const maxKeptBuffer = 4 << 20

// loopInstance is one long-lived task serving request frames written to its
// stdin with response frames on its stdout.
type loopInstance struct {
	p     *proc
	stdin *io.PipeWriter
	out   *frameOut
	// req is the encoded request frame, reused across invocations.
	req    []byte
	werr   chan error // capacity 1
	broken bool
}

var _ invoker.Instance = (*loopInstance)(nil)

func newLoopInstance(ctx context.Context, p *proc, tl *invoker.Timeline) (invoker.Instance, error) {
	pr, pw := io.Pipe()
	l := &loopInstance{p: p, stdin: pw, out: newFrameOut(), werr: make(chan error, 1)}
	p.closeStdin = func() { pw.CloseWithError(io.EOF) }
	if err := p.startTask(ctx, pr, l.out, tl); err != nil {
		l.Close(ctx)
		return nil, err
	}
	// Wait until the program reads its stdin (phase first_ready), as the
	// Wasm runtime runs a guest until its first read, so that a prewarmed
	// instance has started its program. Not seeing it is no error: the
	// FIFO holds the first request until the program reads it.
	start := time.Now()
	ready, err := p.waitReady(ctx, p.task.Pid())
	if err != nil {
		l.Close(ctx)
		return nil, err
	}
	if ready {
		tl.Add(invoker.PhaseFirstReady, start)
	}
	return l, nil
}

// Invoke writes req as a frame to the task's stdin and waits for its
// response frame, its exit or ctx's end (then the task is killed).
func (l *loopInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	if l.broken {
		return nil, fmt.Errorf("container %s: instance broken by an earlier error", l.p.id)
	}
	select {
	case <-l.p.exited:
		// Its task ended (or containerd went away, which also wraps
		// invoker.ErrUnavailable) while idle: nothing was sent, so the
		// gateway may retry on a fresh instance.
		l.broken = true
		return nil, fmt.Errorf("container %s: %w: %w", l.p.id, invoker.ErrInstanceLost, l.p.exitErr("while idle"))
	default:
	}
	l.broken = true // until this invocation succeeds
	start := time.Now()
	if err := l.out.idle(); err != nil {
		return nil, fmt.Errorf("container %s: %w", l.p.id, err)
	}
	var err error
	if l.req, err = frame.AppendRequest(l.req[:0], req); err != nil {
		return nil, fmt.Errorf("container %s: encode request: %w", l.p.id, err)
	}
	if cap(l.req) > maxKeptBuffer {
		defer func() { l.req = nil }()
	}
	// The pipe write returns once containerd's copy took the frame into
	// the FIFO, which blocks while the task does not read: write from
	// another goroutine and wait for it, the exit, or the deadline.
	go func(b []byte) {
		_, err := l.stdin.Write(b)
		l.werr <- err
	}(l.req)
	select {
	case err = <-l.werr:
	case <-l.p.exited:
		return nil, l.p.exitErr("while reading a request")
	case <-ctx.Done():
		return nil, l.p.timeout(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w: write request: %w", l.p.id, invoker.ErrProtocol, err)
	}
	tl.Add(invoker.PhaseRequestWrite, start)

	start = time.Now()
	got := false
	select {
	case <-l.out.ready:
		got = true
	case <-l.p.exited:
	case <-ctx.Done():
	}
	tl.Add(invoker.PhaseExecute, start)
	if !got {
		select { // a response may have raced the exit
		case <-l.out.ready:
			got = true
		default:
		}
	}
	if !got {
		if expired(ctx) {
			return nil, l.p.timeout(ctx)
		}
		return nil, l.p.exitErr("while serving")
	}

	start = time.Now()
	resp, err := l.out.take()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", l.p.id, err)
	}
	tl.Add(invoker.PhaseResponseRead, start)
	l.broken = false
	return resp, nil
}

// ID returns the container ID.
func (l *loopInstance) ID() string { return l.p.id }

// Reusable reports true: a loop instance serves requests until an error.
func (l *loopInstance) Reusable() bool { return true }

// MemoryBytes returns the task's memory use as its cgroup counts it (page
// cache included), or its limit when the cgroup cannot be read.
func (l *loopInstance) MemoryBytes() int64 { return l.p.memoryBytes() }

// Close ends the task's stdin, then deletes task, container and snapshot.
func (l *loopInstance) Close(ctx context.Context) error { return l.p.close(ctx) }

// frameOut is a loop task's stdout: it collects what containerd copies from
// the FIFO and signals ready once a whole response frame (frame.FrameLen)
// arrived, or the output broke the protocol.
type frameOut struct {
	lim   frame.Limits
	max   int
	ready chan struct{} // capacity 1

	mu   sync.Mutex
	buf  []byte
	want int // length of the frame being received, 0 until its header arrived
	err  error
}

func newFrameOut() *frameOut {
	lim := frame.DefaultLimits()
	return &frameOut{lim: lim, max: int(lim.MaxFrameLen(frame.KindResponse)), ready: make(chan struct{}, 1)}
}

func (o *frameOut) signal() {
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// Write implements io.Writer on containerd's copy goroutine. After a
// protocol error it swallows the output, so that the copy does not stop
// and block the task.
func (o *frameOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return len(p), nil
	}
	o.buf = append(o.buf, p...)
	if o.want == 0 {
		n, ok, err := frame.FrameLen(o.buf)
		switch {
		case err != nil:
			o.err = fmt.Errorf("%w: stdout: %w", invoker.ErrProtocol, err)
		case ok && n > o.max:
			o.err = fmt.Errorf("%w: response frame of %d bytes, limit %d", invoker.ErrProtocol, n, o.max)
		case ok:
			o.want = n
			if cap(o.buf) < n { // one allocation for the whole frame
				o.buf = append(make([]byte, 0, n), o.buf...)
			}
		}
		if o.err != nil {
			o.buf = nil
			o.signal()
			return len(p), nil
		}
	}
	if o.want > 0 && len(o.buf) >= o.want {
		o.signal()
	}
	return len(p), nil
}

// idle checks that nothing was written since the last response.
func (o *frameOut) idle() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if len(o.buf) > 0 {
		return fmt.Errorf("%w: %d bytes written to stdout between requests", invoker.ErrProtocol, len(o.buf))
	}
	return nil
}

// take decodes the response frame and empties the buffer.
func (o *frameOut) take() (*invoker.Response, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, o.err
	}
	if o.want == 0 || len(o.buf) != o.want {
		return nil, fmt.Errorf("%w: %d bytes on stdout after a %d-byte response frame", invoker.ErrProtocol, len(o.buf)-o.want, o.want)
	}
	resp, err := frame.DecodeResponse(o.buf, o.lim)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", invoker.ErrProtocol, err)
	}
	o.want = 0
	if cap(o.buf) > maxKeptBuffer {
		o.buf = nil
	} else {
		o.buf = o.buf[:0]
	}
	select { // consume the signal
	case <-o.ready:
	default:
	}
	return resp, nil
}
