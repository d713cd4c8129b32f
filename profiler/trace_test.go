package profiler

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lumos-edge/lumos/invoker"
)

func tracedProfiler(t *testing.T, sampler sdktrace.Sampler) (*Profiler, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p, _ := testProfiler(t, Config{SpanExporter: exp, Sampler: sampler})
	return p, exp
}

func flushed(t *testing.T, p *Profiler, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	return exp.GetSpans()
}

func TestSpanTreeOfAColdStart(t *testing.T) {
	p, exp := tracedProfiler(t, nil)
	c := invocation{function: "hello", runtime: "wasm-aot", start: invoker.StartCold, status: 200, maxMemory: 64 << 20,
		queue: 300e3, cold: []invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseInstantiate, invoker.PhaseFirstReady}}
	inv, tc := c.run(p)
	spans := flushed(t, p, exp)
	if len(spans) != 9 {
		t.Fatalf("%d spans, want 9: %v", len(spans), spans)
	}
	by := spansByName(spans)
	server, ok := by["POST /function/{name}"]
	if !ok {
		t.Fatalf("no server span among %v", spans)
	}
	if server.SpanKind != trace.SpanKindServer || server.Parent.IsValid() {
		t.Errorf("server span kind %v, parent %v", server.SpanKind, server.Parent)
	}
	if tc.Parent != "00-"+server.SpanContext.TraceID().String()+"-"+server.SpanContext.SpanID().String()+"-01" {
		t.Errorf("trace context %q does not name the server span %v", tc.Parent, server.SpanContext)
	}
	if !server.StartTime.Equal(inv.Begin) || !server.EndTime.Equal(inv.Begin.Add(inv.Total)) {
		t.Errorf("server span %v..%v, want %v..%v", server.StartTime, server.EndTime, inv.Begin, inv.Begin.Add(inv.Total))
	}
	a := attrs(server)
	want := map[string]any{
		"http.request.method": "POST", "http.route": "/function/{name}", "url.path": "/function/hello/sub",
		"http.response.status_code": int64(200), "http.request.body.size": int64(5), "http.response.body.size": int64(14),
		"faas.trigger": "http", "faas.invoked_name": "hello", "faas.invocation_id": "call-1", "faas.coldstart": true,
		"faas.instance": "hello-1", "faas.max_memory": int64(64 << 20), "lumos.runtime": "wasm-aot", "lumos.abi": "loop",
		"lumos.start": "cold", "lumos.request.bytes": int64(5), "lumos.response.bytes": int64(14),
	}
	for k, v := range want {
		if got, ok := a[k]; !ok || got.AsInterface() != v {
			t.Errorf("server %s = %v, want %v", k, got.AsInterface(), v)
		}
	}
	if _, ok := a["error.type"]; ok || server.Status.Code != codes.Unset {
		t.Errorf("a success has error.type or status %v", server.Status)
	}
	parentOf := map[string]string{
		"queue_wait": "POST /function/{name}", "cold_start": "POST /function/{name}",
		"compile": "cold_start", "instantiate": "cold_start", "first_ready": "cold_start",
		"request_write": "POST /function/{name}", "execute": "POST /function/{name}", "response_read": "POST /function/{name}",
	}
	for name, parent := range parentOf {
		s, ok := by[name]
		if !ok {
			t.Errorf("no %s span", name)
			continue
		}
		if s.Parent.SpanID() != by[parent].SpanContext.SpanID() || s.SpanContext.TraceID() != server.SpanContext.TraceID() {
			t.Errorf("%s's parent is %v, want %s", name, s.Parent.SpanID(), parent)
		}
		if s.SpanKind != trace.SpanKindInternal {
			t.Errorf("%s kind %v", name, s.SpanKind)
		}
		if s.StartTime.Before(server.StartTime) || s.EndTime.After(server.EndTime) || s.EndTime.Before(s.StartTime) {
			t.Errorf("%s %v..%v lies outside the server span", name, s.StartTime, s.EndTime)
		}
	}
	for _, ph := range inv.Phases.Phases() {
		s := by[string(ph.Name)]
		if !s.StartTime.Equal(ph.Start) || s.EndTime.Sub(s.StartTime) != ph.Duration {
			t.Errorf("%s span %v+%v, phase %v+%v", ph.Name, s.StartTime, s.EndTime.Sub(s.StartTime), ph.Start, ph.Duration)
		}
	}
	cold := by["cold_start"]
	if !cold.StartTime.Equal(by["compile"].StartTime) || !cold.EndTime.Equal(by["first_ready"].EndTime) {
		t.Errorf("cold_start %v..%v does not cover its phases", cold.StartTime, cold.EndTime)
	}
}

func TestWarmSpanTreeHasNoColdStart(t *testing.T) {
	p, exp := tracedProfiler(t, nil)
	warmHello.run(p)
	var names []string
	for _, s := range flushed(t, p, exp) {
		names = append(names, s.Name)
	}
	if len(names) != 4 {
		t.Fatalf("spans %v, want the server span, request_write, execute, response_read", names)
	}
	by := spansByName(exp.GetSpans())
	if a := attrs(by["POST /function/{name}"]); a["faas.coldstart"].AsBool() || a["lumos.start"].AsString() != "warm" {
		t.Errorf("warm attributes %v", a)
	}
	if _, ok := attrs(by["POST /function/{name}"])["faas.max_memory"]; ok {
		t.Error("faas.max_memory without a limit")
	}
}

func TestSpanErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		c         invocation
		errorType string // "" : not an error of the server span
	}{
		{"function error", invocation{function: "f", runtime: "wasm-aot", start: invoker.StartWarm, status: 502, err: errTrap}, "function_error"},
		{"timeout", invocation{function: "f", runtime: "wasm-aot", start: invoker.StartWarm, status: 504, err: invoker.ErrTimeout}, "timeout"},
		{"unavailable before an instance", invocation{function: "f", runtime: "container", status: 503, err: invoker.ErrUnavailable}, "unavailable"},
		{"too large", invocation{function: "f", runtime: "wasm-aot", status: 413, err: errBody}, ""},
		{"queue full", invocation{function: "f", runtime: "wasm-aot", status: 429, err: errBody}, ""},
		{"the function's own 500", invocation{function: "f", runtime: "wasm-aot", start: invoker.StartWarm, status: 500}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, exp := tracedProfiler(t, nil)
			tt.c.run(p)
			server := spansByName(flushed(t, p, exp))["POST /function/{name}"]
			a := attrs(server)
			if tt.errorType == "" {
				if _, ok := a["error.type"]; ok || server.Status.Code != codes.Unset || len(server.Events) != 0 {
					t.Errorf("not a server error, yet error.type %v, status %v, events %v", a["error.type"], server.Status, server.Events)
				}
				return
			}
			if a["error.type"].AsString() != tt.errorType || server.Status.Code != codes.Error || server.Status.Description != tt.c.err.Error() {
				t.Errorf("error.type %v, status %+v", a["error.type"], server.Status)
			}
			if len(server.Events) != 1 || server.Events[0].Name != "exception" {
				t.Errorf("events %v, want the recorded error", server.Events)
			}
			if tt.c.start == "" {
				if _, ok := a["faas.instance"]; ok {
					t.Error("faas.instance without an instance")
				}
			}
		})
	}
}

func TestCallerTraceContinued(t *testing.T) {
	p, exp := tracedProfiler(t, nil)
	c := warmHello
	c.parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c.state = "vendor=a,other=b"
	_, tc := c.run(p)
	server := spansByName(flushed(t, p, exp))["POST /function/{name}"]
	if server.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		server.Parent.SpanID().String() != "b7ad6b7169203331" || !server.Parent.IsRemote() {
		t.Errorf("server span %v, parent %v: the caller's trace is not continued", server.SpanContext, server.Parent)
	}
	if tc.Parent != "00-0af7651916cd43dd8448eb211c80319c-"+server.SpanContext.SpanID().String()+"-01" || tc.State != "vendor=a,other=b" {
		t.Errorf("trace context for the function = %+v", tc)
	}
}

func TestUnsampledCallerIsNotTraced(t *testing.T) {
	p, exp := tracedProfiler(t, nil) // parent-based: a caller's "not sampled" wins
	c := warmHello
	c.parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	_, tc := c.run(p)
	if spans := flushed(t, p, exp); len(spans) != 0 {
		t.Errorf("exported %d spans of an unsampled trace", len(spans))
	}
	if tc.Parent[:36] != "00-0af7651916cd43dd8448eb211c80319c-" || tc.Parent[53:] != "00" {
		t.Errorf("trace context %q: want the caller's trace, not sampled", tc.Parent)
	}
}

func TestInvalidCallerTraceStartsANewOne(t *testing.T) {
	p, exp := tracedProfiler(t, nil)
	c := warmHello
	c.parent = "00-zzzz-b7ad6b7169203331-01"
	_, tc := c.run(p)
	server := spansByName(flushed(t, p, exp))["POST /function/{name}"]
	if server.Parent.IsValid() || tc.TraceID() != server.SpanContext.TraceID().String() {
		t.Errorf("server %v parent %v tc %q", server.SpanContext, server.Parent, tc.Parent)
	}
}

func TestTracingOff(t *testing.T) {
	p, reader := testProfiler(t, Config{})
	inv, tc := warmHello.run(p)
	if tc.Parent != "" || inv.Trace != nil || p.Tracing() {
		t.Errorf("tracing off, yet trace context %+v, inv.Trace %v", tc, inv.Trace)
	}
	if n := count(t, collect(t, reader), MetricInvocations, nil); n != 1 {
		t.Errorf("invocations = %d", n)
	}
	if s := p.SpanStats(); s != (SpanStats{}) {
		t.Errorf("span stats %+v", s)
	}
}

func TestSamplerKeepsSomeTracesMetricsCountAll(t *testing.T) {
	p, exp := tracedProfiler(t, sdktrace.TraceIDRatioBased(0.1))
	const n = 1000
	for range n {
		warmHello.run(p)
	}
	spans := flushed(t, p, exp)
	servers := 0
	traces := map[trace.TraceID]int{}
	for _, s := range spans {
		traces[s.SpanContext.TraceID()]++
		if s.SpanKind == trace.SpanKindServer {
			servers++
		}
	}
	if servers == 0 || servers >= n/2 {
		t.Errorf("a 10%% sampler kept %d of %d traces", servers, n)
	}
	for id, k := range traces {
		if k != 4 {
			t.Errorf("trace %v has %d spans, want 4: sampled traces are complete", id, k)
		}
	}
	if st := p.SpanStats(); st.Exported != uint64(len(spans)) || st.Dropped != 0 {
		t.Errorf("span stats %+v, exported %d", st, len(spans))
	}
}
