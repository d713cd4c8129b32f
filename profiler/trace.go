package profiler

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
)

// route is the server span's http.route: the literal route template.
const route = "/function/{name}"

// Span attribute keys beyond the semantic conventions.
const (
	keyRuntime       = attribute.Key("lumos.runtime")
	keyABI           = attribute.Key("lumos.abi")
	keyStart         = attribute.Key("lumos.start")
	keyRequestBytes  = attribute.Key("lumos.request.bytes")
	keyResponseBytes = attribute.Key("lumos.response.bytes")
)

// coldStartSpan names the span grouping a cold start's phases.
const coldStartSpan = "cold_start"

// Span attributes known before the sampler decides, by method: no
// allocation for the common methods.
var (
	attrRoute      = semconv.HTTPRoute(route)
	attrTriggerHTT = semconv.FaaSTriggerHTTP
	spanNames      = map[string]string{}
	methodAttrs    = map[string]attribute.KeyValue{}
)

func init() {
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"} {
		spanNames[m] = m + " " + route
		methodAttrs[m] = semconv.HTTPRequestMethodKey.String(m)
	}
}

// spanName is "{METHOD} /function/{name}".
func spanName(method string) string {
	if n, ok := spanNames[method]; ok {
		return n
	}
	return strings.Clone(method) + " " + route
}

func methodAttr(method string) attribute.KeyValue {
	if kv, ok := methodAttrs[method]; ok {
		return kv
	}
	// Semantic conventions: a method the server does not know is _OTHER.
	return semconv.HTTPRequestMethodOther
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

// beginSpan starts the SERVER span, continuing the caller's trace.
func (p *Profiler) beginSpan(inv *invoker.Invocation, call gateway.Call) gateway.TraceContext {
	ctx := context.Background()
	if call.TraceParent != "" {
		// The trace state keeps substrings of its input: give it its own copy
		// (call's strings alias the gateway's buffers).
		c := &callCarrier{parent: call.TraceParent, state: strings.Clone(call.TraceState)}
		ctx = propagation.TraceContext{}.Extract(ctx, c)
	}
	_, span := p.tracer.Start(ctx, spanName(call.Method),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(inv.Begin),
		trace.WithAttributes(methodAttr(call.Method), attrRoute, attrTriggerHTT))
	if span.IsRecording() {
		span.SetAttributes(semconv.URLPath(strings.Clone(call.Path)))
	}
	inv.Trace = span
	return traceContext(span.SpanContext())
}

// traceContext formats sc as W3C headers.
func traceContext(sc trace.SpanContext) gateway.TraceContext {
	if !sc.IsValid() {
		return gateway.TraceContext{}
	}
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	tc := gateway.TraceContext{Parent: string(b[:])}
	if ts := sc.TraceState(); ts.Len() > 0 {
		tc.State = ts.String()
	}
	return tc
}

// endSpan completes the server span of inv with its attributes and phase
// spans, and ends it at inv's end.
func (p *Profiler) endSpan(span trace.Span, inv *invoker.Invocation) {
	if !span.IsRecording() {
		return // not sampled: the metrics have the record
	}
	out := classify(inv.Status, inv.Err)
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs,
		semconv.HTTPResponseStatusCode(inv.Status),
		semconv.HTTPRequestBodySize(inv.RequestBytes),
		semconv.HTTPResponseBodySize(inv.ResponseBytes),
		semconv.FaaSInvokedName(inv.Function),
		semconv.FaaSInvocationID(inv.ID),
		semconv.FaaSColdstart(inv.Start == invoker.StartCold),
		keyRuntime.String(inv.Runtime),
		keyABI.String(string(inv.ABI)),
		keyRequestBytes.Int(inv.RequestBytes),
		keyResponseBytes.Int(inv.ResponseBytes),
	)
	if inv.Instance != "" {
		attrs = append(attrs, semconv.FaaSInstance(inv.Instance))
	}
	if inv.Start != "" {
		attrs = append(attrs, keyStart.String(string(inv.Start)))
	}
	if inv.MaxMemory > 0 {
		attrs = append(attrs, semconv.FaaSMaxMemory(int(inv.MaxMemory)))
	}
	if out.serverError() {
		attrs = append(attrs, semconv.ErrorTypeKey.String(out.String()))
		if inv.Err != nil {
			span.RecordError(inv.Err, trace.WithTimestamp(inv.Begin.Add(inv.Total)))
			span.SetStatus(codes.Error, inv.Err.Error())
		} else {
			span.SetStatus(codes.Error, "")
		}
	}
	span.SetAttributes(attrs...)
	p.phaseSpans(trace.ContextWithSpan(context.Background(), span), inv)
	span.End(trace.WithTimestamp(inv.Begin.Add(inv.Total)))
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

// phaseSpans creates a child span of parent for each phase of inv, after
// the fact: each starts and ends at the phase's recorded times. A cold
// start's phases are children of one cold_start span covering them.
func (p *Profiler) phaseSpans(parent context.Context, inv *invoker.Invocation) {
	phases := inv.Phases.Phases()
	var coldBegin, coldEnd time.Time
	if inv.Start == invoker.StartCold {
		for _, ph := range phases {
			if !coldPhase(ph.Name) {
				continue
			}
			if coldBegin.IsZero() || ph.Start.Before(coldBegin) {
				coldBegin = ph.Start
			}
			if end := ph.Start.Add(ph.Duration); end.After(coldEnd) {
				coldEnd = end
			}
		}
	}
	var coldCtx context.Context
	var cold trace.Span
	for _, ph := range phases {
		ctx := parent
		if !coldBegin.IsZero() && coldPhase(ph.Name) {
			if cold == nil {
				coldCtx, cold = p.tracer.Start(parent, coldStartSpan, trace.WithTimestamp(coldBegin))
			}
			ctx = coldCtx
		}
		_, s := p.tracer.Start(ctx, string(ph.Name), trace.WithTimestamp(ph.Start))
		s.End(trace.WithTimestamp(ph.Start.Add(ph.Duration)))
	}
	if cold != nil {
		cold.End(trace.WithTimestamp(coldEnd))
	}
}
