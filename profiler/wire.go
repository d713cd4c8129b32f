package profiler

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lumos-edge/lumos/invoker"
)

// OTLP span flags: the W3C trace flags in the low byte, then whether the
// parent's remoteness is known and whether it is remote.
const (
	flagHasRemote = 0x100
	flagIsRemote  = 0x200
)

// OTLP enum values (opentelemetry/proto/trace/v1/trace.proto).
const (
	kindInternal    = 1
	kindServer      = 2
	statusCodeError = 2
)

// Field numbers of the OTLP messages written here
// (opentelemetry/proto/{collector/trace,trace,common,resource}/v1).
const (
	fRequestResourceSpans = 1 // ExportTraceServiceRequest
	fResourceResource     = 1 // ResourceSpans
	fResourceScopeSpans   = 2
	fScopeScope           = 1 // ScopeSpans
	fScopeSpans           = 2
	fScopeName            = 1 // InstrumentationScope
	fResourceAttributes   = 1 // Resource
	fSpanTraceID          = 1 // Span
	fSpanSpanID           = 2
	fSpanTraceState       = 3
	fSpanParentSpanID     = 4
	fSpanName             = 5
	fSpanKind             = 6
	fSpanStart            = 7
	fSpanEnd              = 8
	fSpanAttributes       = 9
	fSpanEvents           = 11
	fSpanStatus           = 15
	fSpanFlags            = 16
	fEventTime            = 1 // Span.Event
	fEventName            = 2
	fEventAttributes      = 3
	fStatusMessage        = 2 // Status
	fStatusCode           = 3
	fKeyValueKey          = 1 // KeyValue
	fKeyValueValue        = 2
	fAnyString            = 1 // AnyValue
	fAnyBool              = 2
	fAnyInt               = 3
)

// record is one sampled invocation waiting for export.
type record struct {
	call *sampledCall
	inv  *invoker.Invocation
	n    int // its spans
}

// encoder writes sampled invocations as an OTLP ExportTraceServiceRequest
// in the protobuf wire format, straight from their records: no span
// objects, no reflection, and its buffers are reused. It belongs to the
// export goroutine.
type encoder struct {
	resource []byte // the Resource message, encoded once
	scope    []byte // the InstrumentationScope message
	spans    []byte // the batch's spans, each as a ScopeSpans.spans field
	span     []byte // one span's fields
	sub      []byte // one event's or status's fields
	out      []byte // the request
}

func newEncoder(res *resource.Resource) *encoder {
	e := &encoder{}
	for _, kv := range res.Attributes() {
		var v []byte
		switch kv.Value.Type() {
		case attribute.INT64:
			v = appendIntAttr(nil, 0, string(kv.Key), kv.Value.AsInt64())
		case attribute.BOOL:
			v = appendBoolAttr(nil, 0, string(kv.Key), kv.Value.AsBool())
		default:
			v = appendStrAttr(nil, 0, string(kv.Key), kv.Value.Emit())
		}
		e.resource = protowire.AppendTag(e.resource, fResourceAttributes, protowire.BytesType)
		e.resource = protowire.AppendBytes(e.resource, v)
	}
	e.scope = appendString(nil, fScopeName, scopeName)
	return e
}

// The attribute writers append one KeyValue: as field number field, or
// with field 0 its fields alone (a Resource's attributes are written so).
func appendStrAttr(b []byte, field protowire.Number, key, v string) []byte {
	v = validUTF8(v) // before its size is taken
	anyLen := protowire.SizeTag(fAnyString) + protowire.SizeBytes(len(v))
	return appendKV(b, field, key, anyLen, func(b []byte) []byte { return appendString(b, fAnyString, v) })
}

func appendIntAttr(b []byte, field protowire.Number, key string, v int64) []byte {
	anyLen := protowire.SizeTag(fAnyInt) + protowire.SizeVarint(uint64(v))
	return appendKV(b, field, key, anyLen, func(b []byte) []byte {
		b = protowire.AppendTag(b, fAnyInt, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v))
	})
}

func appendBoolAttr(b []byte, field protowire.Number, key string, v bool) []byte {
	anyLen := protowire.SizeTag(fAnyBool) + 1
	return appendKV(b, field, key, anyLen, func(b []byte) []byte {
		b = protowire.AppendTag(b, fAnyBool, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v))
	})
}

// appendKV appends a KeyValue whose AnyValue's fields take anyLen bytes and
// are written by value.
func appendKV(b []byte, field protowire.Number, key string, anyLen int, value func([]byte) []byte) []byte {
	key = validUTF8(key)
	kvLen := protowire.SizeTag(fKeyValueKey) + protowire.SizeBytes(len(key)) + protowire.SizeTag(fKeyValueValue) + protowire.SizeBytes(anyLen)
	if field != 0 {
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(kvLen))
	}
	b = appendString(b, fKeyValueKey, key)
	b = protowire.AppendTag(b, fKeyValueValue, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(anyLen))
	return value(b)
}

// appendString appends a string field. Protobuf strings must be UTF-8 (a
// collector refuses the whole request otherwise), and some come from the
// outside (the request's path, a function's stderr in an error): invalid
// bytes become U+FFFD.
func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, validUTF8(s))
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func appendBytes(b []byte, field protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendFixed64(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendVarintField(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func unixNano(t time.Time) uint64 { return uint64(t.UnixNano()) }

// encode returns recs as one ExportTraceServiceRequest. The result aliases
// e's buffer: valid until the next call.
func (e *encoder) encode(recs []record) []byte {
	e.spans = e.spans[:0]
	for _, r := range recs {
		e.invocation(r)
	}
	scopeSpans := protowire.SizeTag(fScopeScope) + protowire.SizeBytes(len(e.scope)) + len(e.spans)
	resourceSpans := protowire.SizeTag(fResourceResource) + protowire.SizeBytes(len(e.resource)) +
		protowire.SizeTag(fResourceScopeSpans) + protowire.SizeBytes(scopeSpans)
	b := e.out[:0]
	b = protowire.AppendTag(b, fRequestResourceSpans, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(resourceSpans))
	b = appendBytes(b, fResourceResource, e.resource)
	b = protowire.AppendTag(b, fResourceScopeSpans, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(scopeSpans))
	b = appendBytes(b, fScopeScope, e.scope)
	b = append(b, e.spans...)
	e.out = b
	return b
}

// flushSpan appends the span in e.span to the batch.
func (e *encoder) flushSpan() {
	e.spans = appendBytes(e.spans, fScopeSpans, e.span)
}

// startSpan writes the fields every span has.
func (e *encoder) startSpan(c *sampledCall, id, parent trace.SpanID, name string, kind uint64, flags uint32, start, end time.Time) {
	b := e.span[:0]
	b = appendBytes(b, fSpanTraceID, c.traceID[:])
	b = appendBytes(b, fSpanSpanID, id[:])
	if c.state != "" {
		b = appendString(b, fSpanTraceState, c.state)
	}
	if parent.IsValid() {
		b = appendBytes(b, fSpanParentSpanID, parent[:])
	}
	b = appendString(b, fSpanName, name)
	b = appendVarintField(b, fSpanKind, kind)
	b = appendFixed64(b, fSpanStart, unixNano(start))
	b = appendFixed64(b, fSpanEnd, unixNano(end))
	b = protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, flags)
	e.span = b
}

// invocation appends r's spans: the server span, then a cold_start span
// when the cold phases are grouped, then one span per phase.
func (e *encoder) invocation(r record) {
	c, inv := r.call, r.inv
	end := inv.Begin.Add(inv.Total)
	flags := uint32(trace.FlagsSampled) | flagHasRemote
	serverFlags := flags
	if c.parentID.IsValid() && c.remote {
		serverFlags |= flagIsRemote
	}
	e.startSpan(c, c.spanID, c.parentID, c.name, kindServer, serverFlags, inv.Begin, end)
	e.serverAttributes(c, inv)
	if oc := classify(inv.Status, inv.Err); oc.serverError() {
		e.span = appendStrAttr(e.span, fSpanAttributes, "error.type", oc.String())
		s := e.sub[:0]
		if inv.Err != nil {
			msg := inv.Err.Error()
			ev := appendFixed64(s, fEventTime, unixNano(end))
			ev = appendString(ev, fEventName, "exception")
			ev = appendStrAttr(ev, fEventAttributes, "exception.type", fmt.Sprintf("%T", inv.Err))
			ev = appendStrAttr(ev, fEventAttributes, "exception.message", msg)
			e.span = appendBytes(e.span, fSpanEvents, ev)
			s = appendString(ev[:0], fStatusMessage, msg)
		}
		s = appendVarintField(s, fStatusCode, statusCodeError)
		e.span = appendBytes(e.span, fSpanStatus, s)
		e.sub = s
	}
	e.flushSpan()

	var coldID trace.SpanID
	if groupsColdStart(inv) {
		var begin, last time.Time
		for _, ph := range inv.Phases.Phases() {
			if !coldPhase(ph.Name) {
				continue
			}
			start := onBeginClock(inv.Begin, ph.Start)
			if begin.IsZero() || start.Before(begin) {
				begin = start
			}
			if e := start.Add(ph.Duration); e.After(last) {
				last = e
			}
		}
		coldID = randomSpanID()
		e.startSpan(c, coldID, c.spanID, coldStartSpan, kindInternal, flags, begin, last)
		e.flushSpan()
	}
	for _, ph := range inv.Phases.Phases() {
		parent := c.spanID
		if coldID.IsValid() && coldPhase(ph.Name) {
			parent = coldID
		}
		start := onBeginClock(inv.Begin, ph.Start)
		e.startSpan(c, randomSpanID(), parent, string(ph.Name), kindInternal, flags, start, start.Add(ph.Duration))
		e.flushSpan()
	}
}

// onBeginClock places t on begin's wall clock by their monotonic
// difference. Span times are wall-clock times, and the wall clock can be
// stepped between two readings: a phase read from it could then stick out
// of its server span, whose end is begin plus a monotonic duration.
func onBeginClock(begin, t time.Time) time.Time {
	return begin.Add(t.Sub(begin))
}

// serverAttributes appends the server span's attributes: HTTP and FaaS
// semantic conventions, then Lumos's own.
func (e *encoder) serverAttributes(c *sampledCall, inv *invoker.Invocation) {
	b := e.span
	b = appendStrAttr(b, fSpanAttributes, "http.request.method", c.method)
	b = appendStrAttr(b, fSpanAttributes, "http.route", route)
	b = appendStrAttr(b, fSpanAttributes, "url.path", c.path)
	b = appendIntAttr(b, fSpanAttributes, "http.response.status_code", int64(inv.Status))
	b = appendIntAttr(b, fSpanAttributes, "http.request.body.size", int64(inv.RequestBytes))
	b = appendIntAttr(b, fSpanAttributes, "http.response.body.size", int64(inv.BodyBytes))
	b = appendStrAttr(b, fSpanAttributes, "faas.trigger", "http")
	b = appendStrAttr(b, fSpanAttributes, "faas.invoked_name", inv.Function)
	b = appendStrAttr(b, fSpanAttributes, "faas.invocation_id", inv.ID)
	b = appendBoolAttr(b, fSpanAttributes, "faas.coldstart", inv.Start == invoker.StartCold)
	b = appendStrAttr(b, fSpanAttributes, "lumos.runtime", inv.Runtime)
	b = appendStrAttr(b, fSpanAttributes, "lumos.abi", string(inv.ABI))
	b = appendIntAttr(b, fSpanAttributes, "lumos.request.bytes", int64(inv.RequestBytes))
	b = appendIntAttr(b, fSpanAttributes, "lumos.response.bytes", int64(inv.ResponseBytes))
	if inv.Instance != "" {
		b = appendStrAttr(b, fSpanAttributes, "faas.instance", inv.Instance)
	}
	if inv.Start != "" {
		b = appendStrAttr(b, fSpanAttributes, "lumos.start", string(inv.Start))
	}
	if inv.MaxMemory > 0 {
		b = appendIntAttr(b, fSpanAttributes, "faas.max_memory", inv.MaxMemory)
	}
	e.span = b
}
