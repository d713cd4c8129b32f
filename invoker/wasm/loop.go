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
)

// loopInstance serves request frames in sequence: its _start runs for the
// instance's whole life, reading requests from stdin and writing responses
// to stdout.
type loopInstance struct {
	g   *guest
	in  *frameIn
	out *frameOut
	// req is the encoded request frame, reused across invocations; the
	// guest reads it through in.
	req    []byte
	broken bool
}

var _ invoker.Instance = (*loopInstance)(nil)

func (f *function) newLoopInstance(ctx context.Context, cm wazero.CompiledModule, tl *invoker.Timeline) (invoker.Instance, error) {
	start := time.Now()
	l := &loopInstance{out: newFrameOut()}
	l.in = &frameIn{frames: make(chan []byte, 1), ready: make(chan struct{})}
	env := append(append([]string(nil), f.env...), envABI+"="+string(invoker.ABILoop))
	g, err := f.newGuest(ctx, cm, env, l.in, l.out)
	if err != nil {
		return nil, err
	}
	l.g = g
	l.in.g = g
	tl.Add(invoker.PhaseInstantiate, start)

	// Run the guest's initialization until it waits for its first request.
	start = time.Now()
	deadline, _ := ctx.Deadline()
	g.ctrl.Arm(deadline)
	g.run()
	select {
	case <-l.in.ready:
	case <-g.exited:
	case <-ctx.Done():
		err = g.timeout(ctx)
	}
	g.ctrl.Disarm()
	if err == nil {
		select {
		case <-g.exited:
			err = g.exitedErr("before serving")
		default:
		}
	}
	if err != nil {
		g.close()
		return nil, err
	}
	tl.Add(invoker.PhaseFirstReady, start)
	return l, nil
}

// exitedErr returns the error of a loop guest that returned from _start,
// which it must never do; a clean exit is still invoker.ErrExit.
func (g *guest) exitedErr(when string) error {
	if err := g.classify(g.exitErr); err != nil {
		return err
	}
	return fmt.Errorf("wasm %s: %w with code 0 %s; stderr: %q", g.id, invoker.ErrExit, when, g.stderr.String())
}

// Invoke writes req as a frame to the guest's stdin and waits for its
// response frame, its exit or ctx's end.
func (l *loopInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	if l.broken {
		return nil, fmt.Errorf("wasm %s: %w: broken by an earlier error", l.g.id, invoker.ErrInstanceLost)
	}
	if err := ctx.Err(); err != nil {
		// Nothing was sent: the instance stays as healthy as it was.
		return nil, fmt.Errorf("wasm %s: %w before the request was sent (%w)", l.g.id, invoker.ErrTimeout, err)
	}
	start := time.Now()
	select {
	case <-l.g.exited:
		l.broken = true
		return nil, fmt.Errorf("wasm %s: %w: %w", l.g.id, invoker.ErrInstanceLost, l.g.exitedErr("while idle"))
	default:
	}
	if n := l.in.pending.Load(); n != 0 {
		l.broken = true
		return nil, fmt.Errorf("wasm %s: %w: %w: %d bytes of the previous request left unread", l.g.id, invoker.ErrInstanceLost, invoker.ErrProtocol, n)
	}
	if err := l.out.begin(); err != nil {
		l.broken = true
		return nil, fmt.Errorf("wasm %s: %w: %w", l.g.id, invoker.ErrInstanceLost, err)
	}
	l.broken = true // until this invocation succeeds
	var err error
	if l.req, err = frame.AppendRequest(l.req[:0], req); err != nil {
		return nil, fmt.Errorf("wasm %s: encode request: %w", l.g.id, err)
	}
	if cap(l.req) > maxKeptBuffer {
		defer func() { l.req = nil }()
	}
	// Armed before the guest can take the frame: the guest computes as soon
	// as it has it, and computing while disarmed past the idle grace is
	// taken for misbehaviour.
	deadline, _ := ctx.Deadline()
	l.g.ctrl.Arm(deadline)
	select {
	case l.in.frames <- l.req:
	default: // the previous frame was never taken: the guest broke the protocol
		l.g.ctrl.Disarm()
		return nil, fmt.Errorf("wasm %s: %w: previous request never read", l.g.id, invoker.ErrProtocol)
	}
	tl.Add(invoker.PhaseRequestWrite, start)

	start = time.Now()
	got := false
	select {
	case <-l.out.ready:
		got = true
	case <-l.g.exited:
	case <-ctx.Done():
	}
	l.g.ctrl.Disarm()
	tl.Add(invoker.PhaseExecute, start)
	if !got {
		select { // a response may have raced the guest's exit
		case <-l.out.ready:
			got = true
		default:
		}
	}
	if !got {
		if ctx.Err() != nil {
			return nil, l.g.timeout(ctx)
		}
		return nil, l.g.exitedErr("while serving")
	}

	start = time.Now()
	resp, err := l.out.take()
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", l.g.id, err)
	}
	tl.Add(invoker.PhaseResponseRead, start)
	l.broken = false
	return resp, nil
}

// ID returns the instance's unique ID.
func (l *loopInstance) ID() string { return l.g.id }

// Reusable reports true: a loop instance serves requests until an error.
func (l *loopInstance) Reusable() bool { return true }

// MemoryBytes returns the linear memory size, as of the guest's last read
// of a request.
func (l *loopInstance) MemoryBytes() int64 { return l.g.mem.Load() }

// Close stops the guest; it never waits for guest code.
func (l *loopInstance) Close(context.Context) error {
	l.g.close()
	return nil
}

// maxKeptBuffer is the largest request or response buffer an idle instance
// keeps for reuse. It is well above 1 MiB: a frame holding a 1 MiB body is
// a little larger, and at 1 MiB it made every call allocate its buffers
// anew (echo of 1 MiB on wasm-aot: request_write 0.31 ms against 0.01 ms
// at 256 KiB), the same bound as the SDK's on the guest side.
const maxKeptBuffer = 4 << 20

// frameIn is a loop guest's stdin: Read blocks until the host hands it a
// request frame, or the guest is stopped (then io.EOF).
type frameIn struct {
	g       *guest
	frames  chan []byte // capacity 1
	ready   chan struct{}
	once    sync.Once
	cur     []byte       // guest goroutine only
	pending atomic.Int64 // bytes of the current frame not yet read
}

// Read implements io.Reader on the guest's goroutine.
func (in *frameIn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(in.cur) == 0 {
		// Parked: memory is stable, and the first park means "ready".
		in.g.storeMem()
		in.once.Do(func() { close(in.ready) })
		select {
		case in.cur = <-in.frames:
		case <-in.g.kill:
			return 0, io.EOF
		}
	}
	n := copy(p, in.cur)
	in.cur = in.cur[n:]
	in.pending.Store(int64(len(in.cur)))
	return n, nil
}

// frameOut is a loop guest's stdout: it collects the guest's writes and
// signals ready once a whole response frame (frame.FrameLen) arrived, or
// the output broke the protocol.
type frameOut struct {
	lim   frame.Limits
	max   int
	ready chan struct{} // capacity 1

	mu   sync.Mutex
	buf  []byte
	want int // length of the frame being received, 0 until its header arrived
	err  error
	// inflight: a request was sent and its response not yet taken.
	inflight bool
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

// Write implements io.Writer on the guest's goroutine. It keeps at most one
// response frame: a write while no request is in flight, or past the end of
// the frame its header announced, breaks the protocol, and every later write
// fails at once, so a guest flooding stdout never grows the host's memory.
func (o *frameOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	switch {
	case !o.inflight:
		o.err = fmt.Errorf("%w: %d bytes written to stdout between requests", invoker.ErrProtocol, len(p))
	case o.want > 0 && len(o.buf)+len(p) > o.want:
		o.err = fmt.Errorf("%w: stdout past the end of a %d-byte response frame", invoker.ErrProtocol, o.want)
	}
	if o.err == nil {
		o.buf = append(o.buf, p...)
		if o.want == 0 {
			n, ok, err := frame.FrameLen(o.buf)
			switch {
			case err != nil:
				o.err = fmt.Errorf("%w: stdout: %w", invoker.ErrProtocol, err)
			case ok && n > o.max:
				o.err = fmt.Errorf("%w: response frame of %d bytes, limit %d", invoker.ErrProtocol, n, o.max)
			case ok && len(o.buf) > n:
				o.err = fmt.Errorf("%w: stdout past the end of a %d-byte response frame", invoker.ErrProtocol, n)
			case ok:
				o.want = n
			}
		}
	}
	if o.err != nil {
		o.buf = nil
		o.signal()
		return 0, o.err
	}
	if o.want > 0 && len(o.buf) == o.want {
		o.signal()
	}
	return len(p), nil
}

// begin readies o for the response to a request about to be sent; it fails
// if the guest broke the protocol while idle.
func (o *frameOut) begin() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.inflight = true
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
	o.inflight = false
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
