package profiler

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
)

// route is the server span's http.route: the literal route template.
const route = "/function/{name}"

// coldStartSpan names the span grouping a cold start's phases.
const coldStartSpan = "cold_start"

// knownMethods are the methods whose span names and attributes are
// prepared once; others are _OTHER (HTTP semantic conventions).
var knownMethods = map[string]string{}

func init() {
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "CONNECT", "TRACE"} {
		knownMethods[m] = m + " " + route
	}
}

// spanName is "{METHOD} /function/{name}" and the http.request.method
// value: the method, or _OTHER for one the gateway does not know.
func spanName(method string) (name, attr string) {
	if n, ok := knownMethods[method]; ok {
		return n, method
	}
	return "HTTP " + route, "_OTHER"
}

// sampledCall is what Begin keeps of a sampled invocation for its spans:
// the server span's identity and the request's attributes.
type sampledCall struct {
	traceID  trace.TraceID
	spanID   trace.SpanID
	parentID trace.SpanID // zero: the server span is a root
	remote   bool         // the parent came from the caller
	state    string       // W3C tracestate
	name     string       // span name
	method   string       // http.request.method
	path     string       // url.path, a copy
}

// callCarrier reads the caller's W3C headers for the propagator.
type callCarrier struct{ parent, state string }

func (c *callCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.parent
	case "tracestate":
		return c.state
	}
	return ""
}
func (c *callCarrier) Set(string, string) {}
func (c *callCarrier) Keys() []string     { return []string{"traceparent", "tracestate"} }

// randomTraceID and randomSpanID draw ids from the runtime's per-thread
// generator: no lock on the request path (the SDK's default generator has one).
func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for id == (trace.TraceID{}) {
		a, b := rand.Uint64(), rand.Uint64()
		for i := range 8 {
			id[i], id[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
		}
	}
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for id == (trace.SpanID{}) {
		a := rand.Uint64()
		for i := range 8 {
			id[i] = byte(a >> (8 * i))
		}
	}
	return id
}

// beginSpan decides whether the invocation is sampled, names its server
// span, and returns the trace context the function gets. Nothing is built
// for a trace the sampler drops.
func (p *Profiler) beginSpan(inv *invoker.Invocation, call gateway.Call) gateway.TraceContext {
	ctx := context.Background()
	var parent trace.SpanContext
	if call.TraceParent != "" {
		// The trace state keeps substrings of its input: give it its own copy
		// (call's strings alias the gateway's buffers).
		c := &callCarrier{parent: call.TraceParent, state: strings.Clone(call.TraceState)}
		ctx = propagation.TraceContext{}.Extract(ctx, c)
		parent = trace.SpanContextFromContext(ctx)
	}
	traceID := parent.TraceID()
	if !parent.IsValid() {
		traceID = randomTraceID()
	}
	spanID := randomSpanID()
	name, method := spanName(call.Method)
	res := p.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: ctx, TraceID: traceID, Name: name, Kind: trace.SpanKindServer,
	})
	var flags trace.TraceFlags
	if res.Decision == sdktrace.RecordAndSample {
		flags = trace.FlagsSampled
		sc := &sampledCall{traceID: traceID, spanID: spanID, name: name, method: method, path: strings.Clone(call.Path)}
		if parent.IsValid() {
			sc.parentID, sc.remote = parent.SpanID(), parent.IsRemote()
		}
		if res.Tracestate.Len() > 0 {
			sc.state = res.Tracestate.String()
		}
		inv.Trace = sc
	}
	tc := gateway.TraceContext{Parent: traceParent(traceID, spanID, flags)}
	if res.Tracestate.Len() > 0 {
		tc.State = res.Tracestate.String()
	}
	return tc
}

// traceParent formats a W3C traceparent header.
func traceParent(tid trace.TraceID, sid trace.SpanID, flags trace.TraceFlags) string {
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(flags)})
	return string(b[:])
}

// coldPhase reports whether a phase belongs to a cold start.
func coldPhase(n invoker.PhaseName) bool {
	switch n {
	case invoker.PhaseCompile, invoker.PhaseCacheLoad, invoker.PhaseInstantiate, invoker.PhaseContainerCreate,
		invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady:
		return true
	}
	return false
}

// spanCount is how many spans inv's trace has: the server span, one per
// phase, and the cold_start span when cold phases are grouped under it.
func spanCount(inv *invoker.Invocation) int {
	n := 1 + len(inv.Phases.Phases())
	if groupsColdStart(inv) {
		n++
	}
	return n
}

// groupsColdStart reports whether inv's trace has a cold_start span: a cold
// start that recorded cold phases.
func groupsColdStart(inv *invoker.Invocation) bool {
	if inv.Start != invoker.StartCold {
		return false
	}
	for _, ph := range inv.Phases.Phases() {
		if coldPhase(ph.Name) {
			return true
		}
	}
	return false
}
