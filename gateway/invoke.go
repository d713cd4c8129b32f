package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// Response headers the gateway adds to every invocation.
const (
	headerCallID   = "X-Call-Id"
	headerDuration = "X-Duration-Seconds"
	headerStart    = "X-Lumos-Start"
	headerInstance = "X-Lumos-Instance"
	headerTraceID  = "X-Trace-Id"
	// The W3C trace context headers, read from the caller and set for the function.
	headerTraceParent = "traceparent"
	headerTraceState  = "tracestate"
	// headerTimeout lets a client lower the function's timeout (Go duration or seconds).
	headerTimeout = "X-Timeout"
)

// maxLookups bounds re-lookups of a function being redeployed.
const maxLookups = 8

// maxLostRetries bounds the retries of an invocation whose instance was lost
// before the request reached it (invoker.ErrInstanceLost).
const maxLostRetries = 2

// invocationPool recycles invocation records that no Recorder keeps.
var invocationPool = sync.Pool{New: func() any { return new(invoker.Invocation) }}

// invoke serves /function/{name}{sub}. It is the hot path: no logging, no
// JSON on success, one copy of the request's metadata and none of the
// bodies, a lock-free function lookup.
func (g *Gateway) invoke(rc *fasthttp.RequestCtx, name, sub []byte) {
	begin := time.Now()
	v, inFlight := g.enterCurrent(name)
	if v == nil {
		err := fmt.Errorf("%w: function %q", ErrNotFound, name)
		switch perr := g.pendingError(string(name)); {
		case g.closed.Load():
			err = ErrClosed
		case perr != nil:
			err = perr
		default:
			// A restore installs its version before it drops the pending
			// entry: it may have done both since the lookup.
			v, inFlight = g.enterCurrent(name)
		}
		if v == nil {
			writeError(rc, err)
			return
		}
	}
	defer g.leave(v)
	v.calls.Add(1)

	vr := &v.variants[0]
	if len(v.variants) > 1 {
		vr = &v.variants[g.choose(v, len(rc.PostBody()))]
	}
	inv := invocationPool.Get().(*invoker.Invocation)
	resetInvocation(inv, v, vr.runtime, begin)
	inv.InFlight = inFlight
	var idBuf [32]byte
	id := append(idBuf[:0], g.idPrefix...)
	id = strconv.AppendUint(id, g.idSeq.Add(1), 16)
	var trace TraceContext
	if g.cfg.Recorder != nil {
		inv.ID = string(id)
		trace = g.begin(rc, inv)
	}

	resp, err := g.serve(rc, v, vr, sub, inv)
	status := 0
	if err != nil {
		status = writeError(rc, err)
		logInternal(g.log, status, err)
	} else {
		status = writeResponse(rc, resp)
		inv.ResponseBytes = len(resp.Body)
	}
	inv.BodyBytes = len(rc.Response.Body())
	h := &rc.Response.Header
	h.SetBytesV(headerCallID, id)
	if inv.Start != "" {
		h.Set(headerStart, string(inv.Start))
		h.Set(headerInstance, inv.Instance)
	}
	if tid := trace.TraceID(); tid != "" {
		h.Set(headerTraceID, tid)
	}
	total := time.Since(begin)
	var dBuf [24]byte
	h.SetBytesV(headerDuration, strconv.AppendFloat(dBuf[:0], total.Seconds(), 'f', 6, 64))
	if wantsTiming(&rc.Request.Header) {
		setServerTiming(h, &inv.Phases, total)
	}

	if g.cfg.Recorder == nil {
		invocationPool.Put(inv)
		return
	}
	inv.Total = total
	inv.Status = status
	inv.Err = err
	if !g.cfg.Recorder.Record(inv) {
		invocationPool.Put(inv)
	}
}

// enterCurrent counts an invocation into name's current version and returns
// it with the invocations in flight; nil if name has no version.
func (g *Gateway) enterCurrent(name []byte) (*version, int) {
	for range maxLookups {
		v := g.lookup(name)
		if v == nil {
			return nil, 0
		}
		if n := v.enter(); n > 0 {
			return v, n
		}
		// retired between lookup and enter: the table has its successor
	}
	return nil, 0
}

// begin hands the invocation to Recorder.Begin and sets the trace context it
// returns on the request, so the copy the function gets carries it.
func (g *Gateway) begin(rc *fasthttp.RequestCtx, inv *invoker.Invocation) TraceContext {
	rh := &rc.Request.Header
	call := Call{
		Method:      methodString(rc.Method()),
		Path:        aliasString(rc.Path()),
		TraceParent: aliasString(rh.Peek(headerTraceParent)),
		TraceState:  aliasString(rh.Peek(headerTraceState)),
	}
	tc := g.cfg.Recorder.Begin(inv, call)
	if tc.Parent == "" {
		return tc
	}
	rh.Set(headerTraceParent, tc.Parent)
	switch {
	case tc.State != "":
		rh.Set(headerTraceState, tc.State)
	case call.TraceState != "":
		rh.Del(headerTraceState) // the caller's, stale now
	}
	return tc
}

// aliasString views b as a string without copying; valid while b is.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// resetInvocation readies a recycled record field by field: assigning a
// whole Invocation would rewrite its 16 phases (and their pointers) each time.
// runtime is the runtime of the variant that serves it.
func resetInvocation(inv *invoker.Invocation, v *version, runtime string, begin time.Time) {
	inv.ID, inv.Function, inv.Runtime, inv.ABI = "", v.name, runtime, v.set.abi
	inv.Start, inv.Instance, inv.Begin, inv.Total = "", "", begin, 0
	inv.Phases.Reset()
	inv.RequestBytes, inv.ResponseBytes, inv.Status, inv.Err, inv.MemoryBytes = 0, 0, 0, nil, 0
	inv.BodyBytes = 0
	inv.MaxMemory, inv.Trace = v.set.memoryLimit, nil
}

// serve runs one invocation of v on its variant vr: admission, the
// per-invocation context, lease, Invoke, release.
func (g *Gateway) serve(rc *fasthttp.RequestCtx, v *version, vr *variant, sub []byte, inv *invoker.Invocation) (*invoker.Response, error) {
	body := rc.PostBody()
	inv.RequestBytes = len(body)
	if int64(len(body)) > g.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: request body of %d bytes exceeds %d", ErrTooLarge, len(body), g.cfg.MaxBodyBytes)
	}
	if err := checkFrameLimits(rc, sub, body); err != nil {
		return nil, err
	}
	timeout := v.set.timeout
	if raw := rc.Request.Header.Peek(headerTimeout); len(raw) > 0 {
		d, err := parseClientTimeout(raw)
		if err != nil {
			return nil, err
		}
		timeout = min(timeout, d)
	}
	timeout = min(timeout, g.cfg.MaxTimeout)
	req := copyRequest(rc, sub)

	ctx, cancel := context.WithTimeout(g.base, timeout)
	defer cancel()
	var resp *invoker.Response
	var err error
	// An instance that broke while idle is replaced; the request never
	// reached it, so a retry cannot run it twice.
	for attempt := 0; attempt <= maxLostRetries; attempt++ {
		if err = ctx.Err(); err != nil {
			break // spent before an instance was even asked: destroy none
		}
		resp, err = g.call(ctx, v, vr, req, inv)
		if !errors.Is(err, invoker.ErrInstanceLost) {
			break
		}
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded && !errors.Is(err, invoker.ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", invoker.ErrTimeout, timeout, err)
	}
	return resp, err
}

// call leases an instance of vr, invokes it and releases it, turning a panic
// of the instance into an error so the pool's accounting stays right.
func (g *Gateway) call(ctx context.Context, v *version, vr *variant, req *invoker.Request, inv *invoker.Invocation) (resp *invoker.Response, err error) {
	acquired := time.Now()
	lease, err := vr.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", v.name, err)
	}
	inst := lease.Instance
	inv.Start = lease.Start
	inv.Instance = inst.ID()
	if lease.QueueWait > 0 {
		inv.Phases.AddDuration(invoker.PhaseQueueWait, acquired, lease.QueueWait)
	}
	if lease.Start == invoker.StartCold {
		inv.Phases.Append(&lease.Created)
	}
	healthy := false
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("function %q: instance %s panicked: %v", v.name, inv.Instance, r)
		}
		inv.MemoryBytes = inst.MemoryBytes()
		vr.pool.Release(lease, healthy) // lease is the pool's again: not touched after
	}()
	resp, err = inst.Invoke(ctx, req, &inv.Phases)
	switch {
	case err != nil:
	case resp == nil:
		err = fmt.Errorf("function %q: %w: instance returned no response", v.name, invoker.ErrProtocol)
	case resp.Status != 0 && (resp.Status < 200 || resp.Status > 599):
		// 1xx is never a final answer: a client would wait for another.
		err = fmt.Errorf("function %q: %w: invalid HTTP status %d", v.name, invoker.ErrProtocol, resp.Status)
		resp = nil
	}
	healthy = err == nil
	return resp, err
}

// checkFrameLimits refuses a request whose headers or body exceed the limits
// a function's SDK reads a request with (the loop ABI's frame limits; the cgi
// ABI gets the same, so a function sees one contract). A request beyond them
// is the client's error, answered before any instance is touched, not a
// function's failure.
func checkFrameLimits(rc *fasthttp.RequestCtx, sub, body []byte) error {
	requestLimits := frame.DefaultLimits()
	if int64(len(body)) > requestLimits.MaxBodyBytes {
		return fmt.Errorf("%w: request body of %d bytes exceeds a function's limit of %d", ErrTooLarge, len(body), requestLimits.MaxBodyBytes)
	}
	count, meta := 0, len(rc.Method())+len(sub)+len(rc.URI().QueryString())
	for k, v := range rc.Request.Header.All() {
		count++
		meta += len(k) + len(v)
	}
	if count > requestLimits.MaxHeaders || meta > requestLimits.MaxMetaBytes {
		return fmt.Errorf("%w: %d headers, %d bytes of path, query and headers; a function accepts %d headers and %d bytes",
			ErrHeadersTooLarge, count, meta, requestLimits.MaxHeaders, requestLimits.MaxMetaBytes)
	}
	return nil
}

// parseClientTimeout reads X-Timeout: a Go duration ("1.5s") or seconds ("2").
func parseClientTimeout(raw []byte) (time.Duration, error) {
	s := string(raw)
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || secs != secs || secs > 1e9 {
			return 0, fmt.Errorf("%w: %s: %q is neither a Go duration nor seconds", ErrBadRequest, headerTimeout, s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: %s: %q must be positive", ErrBadRequest, headerTimeout, s)
	}
	return d, nil
}

// requestAlloc holds a Request and room for its usual headers: one
// allocation instead of two.
type requestAlloc struct {
	req  invoker.Request
	hdrs [12]invoker.Header
}

// copyRequest copies what the function sees out of rc, whose buffers are
// reused after the handler returns. Path, query, header names and values
// share one buffer; the strings alias it and it is never written again (a
// cgi runtime hands them to a guest that may outlive a timed-out call).
// The body is not copied: it aliases rc's, which stays valid while the
// handler waits for Invoke, and a runtime copies what it needs past Invoke's
// return (invoker.Instance). A copy here cost an allocation the size of the
// body per call: at 1 MiB, more garbage than everything else together.
func copyRequest(rc *fasthttp.RequestCtx, sub []byte) *invoker.Request {
	query := rc.URI().QueryString()
	body := rc.PostBody()
	n, count := len(sub)+len(query), 0
	for k, v := range rc.Request.Header.All() {
		n += len(k) + len(v)
		count++
	}
	buf := make([]byte, 0, n)
	a := &requestAlloc{}
	r := &a.req
	r.Header = a.hdrs[:0]
	if count > len(a.hdrs) {
		r.Header = make([]invoker.Header, 0, count)
	}
	str := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		start := len(buf)
		buf = append(buf, b...)
		return unsafe.String(&buf[start], len(b))
	}
	r.Method = methodString(rc.Method())
	r.Path = "/"
	if len(sub) > 0 {
		r.Path = str(sub)
	}
	r.Query = str(query)
	for k, v := range rc.Request.Header.All() {
		if len(r.Header) == count {
			break // cannot happen: the header did not change between the passes
		}
		r.Header = append(r.Header, invoker.Header{Name: str(k), Value: str(v)})
	}
	if len(body) > 0 {
		r.Body = body[:len(body):len(body)]
	}
	return r
}

// methodString returns the common methods without allocating.
func methodString(m []byte) string {
	switch string(m) {
	case fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	case fasthttp.MethodPut:
		return fasthttp.MethodPut
	case fasthttp.MethodDelete:
		return fasthttp.MethodDelete
	case fasthttp.MethodHead:
		return fasthttp.MethodHead
	case fasthttp.MethodPatch:
		return fasthttp.MethodPatch
	case fasthttp.MethodOptions:
		return fasthttp.MethodOptions
	}
	return string(m)
}
