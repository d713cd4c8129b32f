package profiler

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lumos-edge/lumos/invoker"
)

// OTLP span flags: the W3C trace flags in the low byte, then whether the
// parent's remoteness is known and whether it is remote.
const (
	flagHasRemote = 0x100
	flagIsRemote  = 0x200
)

// record is one sampled invocation waiting for export.
type record struct {
	call *sampledCall
	inv  *invoker.Invocation
	n    int // its spans
}

// spanBuilder turns records into OTLP spans. It belongs to the export
// goroutine; its slabs amortize the allocations of attributes.
type spanBuilder struct {
	resource *resourcepb.Resource
	scope    *commonpb.InstrumentationScope
	kvs      []commonpb.KeyValue
	vals     []commonpb.AnyValue
	strs     []commonpb.AnyValue_StringValue
	ints     []commonpb.AnyValue_IntValue
	bools    []commonpb.AnyValue_BoolValue
}

func newSpanBuilder(res *resource.Resource) *spanBuilder {
	b := &spanBuilder{scope: &commonpb.InstrumentationScope{Name: scopeName}}
	r := &resourcepb.Resource{}
	for _, kv := range res.Attributes() {
		r.Attributes = append(r.Attributes, b.attr(kv))
	}
	b.resource = r
	return b
}

// slab sizes: a batch's attributes come from a few allocations.
const slabSize = 256

func (b *spanBuilder) kv(key string, v *commonpb.AnyValue) *commonpb.KeyValue {
	if len(b.kvs) == cap(b.kvs) {
		b.kvs = make([]commonpb.KeyValue, 0, slabSize)
	}
	b.kvs = b.kvs[:len(b.kvs)+1]
	kv := &b.kvs[len(b.kvs)-1]
	kv.Key, kv.Value = key, v
	return kv
}

func (b *spanBuilder) value() *commonpb.AnyValue {
	if len(b.vals) == cap(b.vals) {
		b.vals = make([]commonpb.AnyValue, 0, slabSize)
	}
	b.vals = b.vals[:len(b.vals)+1]
	return &b.vals[len(b.vals)-1]
}

func (b *spanBuilder) str(key, s string) *commonpb.KeyValue {
	if len(b.strs) == cap(b.strs) {
		b.strs = make([]commonpb.AnyValue_StringValue, 0, slabSize)
	}
	b.strs = append(b.strs, commonpb.AnyValue_StringValue{StringValue: s})
	v := b.value()
	v.Value = &b.strs[len(b.strs)-1]
	return b.kv(key, v)
}

func (b *spanBuilder) int(key string, n int64) *commonpb.KeyValue {
	if len(b.ints) == cap(b.ints) {
		b.ints = make([]commonpb.AnyValue_IntValue, 0, slabSize)
	}
	b.ints = append(b.ints, commonpb.AnyValue_IntValue{IntValue: n})
	v := b.value()
	v.Value = &b.ints[len(b.ints)-1]
	return b.kv(key, v)
}

func (b *spanBuilder) bool(key string, x bool) *commonpb.KeyValue {
	if len(b.bools) == cap(b.bools) {
		b.bools = make([]commonpb.AnyValue_BoolValue, 0, slabSize)
	}
	b.bools = append(b.bools, commonpb.AnyValue_BoolValue{BoolValue: x})
	v := b.value()
	v.Value = &b.bools[len(b.bools)-1]
	return b.kv(key, v)
}

// attr converts a resource attribute (strings, numbers, bools; others as text).
func (b *spanBuilder) attr(kv attribute.KeyValue) *commonpb.KeyValue {
	switch kv.Value.Type() {
	case attribute.INT64:
		return b.int(string(kv.Key), kv.Value.AsInt64())
	case attribute.BOOL:
		return b.bool(string(kv.Key), kv.Value.AsBool())
	}
	return b.str(string(kv.Key), kv.Value.Emit())
}

func unixNano(t time.Time) uint64 { return uint64(t.UnixNano()) }

// build returns the OTLP spans of recs, one ResourceSpans for them all.
func (b *spanBuilder) build(recs []record) []*tracepb.ResourceSpans {
	n := 0
	for _, r := range recs {
		n += r.n
	}
	spans := make([]tracepb.Span, n)
	ptrs := make([]*tracepb.Span, 0, n)
	for _, r := range recs {
		used := b.invocation(spans[len(ptrs):len(ptrs)+r.n], r)
		for range used {
			ptrs = append(ptrs, &spans[len(ptrs)])
		}
	}
	return []*tracepb.ResourceSpans{{
		Resource:   b.resource,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: b.scope, Spans: ptrs}},
	}}
}

// invocation fills out with r's spans (the server span first) and returns
// how many it filled.
func (b *spanBuilder) invocation(out []tracepb.Span, r record) int {
	c, inv := r.call, r.inv
	traceID := c.traceID[:]
	server := &out[0]
	server.TraceId, server.SpanId, server.TraceState = traceID, c.spanID[:], c.state
	server.Name, server.Kind = c.name, tracepb.Span_SPAN_KIND_SERVER
	server.Flags = uint32(trace.FlagsSampled) | flagHasRemote
	if c.parentID.IsValid() {
		server.ParentSpanId = c.parentID[:]
		if c.remote {
			server.Flags |= flagIsRemote
		}
	}
	end := inv.Begin.Add(inv.Total)
	server.StartTimeUnixNano, server.EndTimeUnixNano = unixNano(inv.Begin), unixNano(end)
	server.Attributes = b.serverAttributes(c, inv)
	oc := classify(inv.Status, inv.Err)
	if oc.serverError() {
		server.Attributes = append(server.Attributes, b.str("error.type", oc.String()))
		server.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		if inv.Err != nil {
			msg := inv.Err.Error()
			server.Status.Message = msg
			server.Events = []*tracepb.Span_Event{{
				TimeUnixNano: unixNano(end), Name: "exception",
				Attributes: []*commonpb.KeyValue{b.str("exception.type", fmt.Sprintf("%T", inv.Err)), b.str("exception.message", msg)},
			}}
		}
	}

	used := 1
	child := func(name string, parent []byte, start, end time.Time) *tracepb.Span {
		s := &out[used]
		used++
		id := randomSpanID()
		s.TraceId, s.SpanId, s.ParentSpanId, s.TraceState = traceID, id[:], parent, c.state
		s.Name, s.Kind, s.Flags = name, tracepb.Span_SPAN_KIND_INTERNAL, uint32(trace.FlagsSampled)|flagHasRemote
		s.StartTimeUnixNano, s.EndTimeUnixNano = unixNano(start), unixNano(end)
		return s
	}
	var coldID []byte
	if groupsColdStart(inv) {
		var begin, last time.Time
		for _, ph := range inv.Phases.Phases() {
			if !coldPhase(ph.Name) {
				continue
			}
			if begin.IsZero() || ph.Start.Before(begin) {
				begin = ph.Start
			}
			if e := ph.Start.Add(ph.Duration); e.After(last) {
				last = e
			}
		}
		coldID = child(coldStartSpan, server.SpanId, begin, last).SpanId
	}
	for _, ph := range inv.Phases.Phases() {
		parent := server.SpanId
		if coldID != nil && coldPhase(ph.Name) {
			parent = coldID
		}
		child(string(ph.Name), parent, ph.Start, ph.Start.Add(ph.Duration))
	}
	return used
}

// serverAttributes are the server span's attributes: HTTP and FaaS
// semantic conventions, then Lumos's own.
func (b *spanBuilder) serverAttributes(c *sampledCall, inv *invoker.Invocation) []*commonpb.KeyValue {
	a := make([]*commonpb.KeyValue, 0, 20)
	a = append(a,
		b.str("http.request.method", c.method),
		b.str("http.route", route),
		b.str("url.path", c.path),
		b.int("http.response.status_code", int64(inv.Status)),
		b.int("http.request.body.size", int64(inv.RequestBytes)),
		b.int("http.response.body.size", int64(inv.ResponseBytes)),
		b.str("faas.trigger", "http"),
		b.str("faas.invoked_name", inv.Function),
		b.str("faas.invocation_id", inv.ID),
		b.bool("faas.coldstart", inv.Start == invoker.StartCold),
		b.str("lumos.runtime", inv.Runtime),
		b.str("lumos.abi", string(inv.ABI)),
		b.int("lumos.request.bytes", int64(inv.RequestBytes)),
		b.int("lumos.response.bytes", int64(inv.ResponseBytes)),
	)
	if inv.Instance != "" {
		a = append(a, b.str("faas.instance", inv.Instance))
	}
	if inv.Start != "" {
		a = append(a, b.str("lumos.start", string(inv.Start)))
	}
	if inv.MaxMemory > 0 {
		a = append(a, b.int("faas.max_memory", inv.MaxMemory))
	}
	return a
}
