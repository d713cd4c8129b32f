package profiler

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lumos-edge/lumos/invoker"
)

const serverName = "POST /function/{name}"

func tracedProfiler(t testing.TB, sampler sdktrace.Sampler) (*Profiler, *memClient) {
	t.Helper()
	c := newMemClient()
	p, _ := testProfiler(t, Config{TraceSender: c, Sampler: sampler})
	return p, c
}

func flushed(t testing.TB, p *Profiler, c *memClient) []*tracepb.Span {
	t.Helper()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	return c.all()
}

func nanos(t time.Time) uint64 { return uint64(t.UnixNano()) }

func TestSpanTreeOfAColdStart(t *testing.T) {
	p, client := tracedProfiler(t, nil)
	c := invocation{function: "hello", runtime: "wasm-aot", start: invoker.StartCold, status: 200, maxMemory: 64 << 20,
		queue: 300e3, cold: []invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseInstantiate, invoker.PhaseFirstReady}}
	inv, tc := c.run(p)
	spans := flushed(t, p, client)
	if len(spans) != 9 {
		t.Fatalf("%d spans, want 9: %v", len(spans), spans)
	}
	by := spansByName(spans)
	server := by[serverName]
	if server == nil {
		t.Fatalf("no server span among %v", spans)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || len(server.ParentSpanId) != 0 {
		t.Errorf("server span kind %v, parent %x", server.Kind, server.ParentSpanId)
	}
	if tc.Parent != "00-"+hex.EncodeToString(server.TraceId)+"-"+hex.EncodeToString(server.SpanId)+"-01" {
		t.Errorf("trace context %q does not name the server span %x/%x", tc.Parent, server.TraceId, server.SpanId)
	}
	if server.StartTimeUnixNano != nanos(inv.Begin) || server.EndTimeUnixNano != nanos(inv.Begin.Add(inv.Total)) {
		t.Errorf("server span %d..%d, want %v..%v", server.StartTimeUnixNano, server.EndTimeUnixNano, inv.Begin, inv.Begin.Add(inv.Total))
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
		if a[k] != v {
			t.Errorf("server %s = %v, want %v", k, a[k], v)
		}
	}
	if len(a) != len(want) {
		t.Errorf("server attributes %v, want exactly %v", a, want)
	}
	if server.Status != nil && server.Status.Code != tracepb.Status_STATUS_CODE_UNSET {
		t.Errorf("a success has status %v", server.Status)
	}
	parentOf := map[string]string{
		"queue_wait": serverName, "cold_start": serverName,
		"compile": "cold_start", "instantiate": "cold_start", "first_ready": "cold_start",
		"request_write": serverName, "execute": serverName, "response_read": serverName,
	}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[string(s.SpanId)] = true
	}
	if len(ids) != len(spans) {
		t.Error("span ids repeat")
	}
	for name, parent := range parentOf {
		s := by[name]
		if s == nil {
			t.Errorf("no %s span", name)
			continue
		}
		if string(s.ParentSpanId) != string(by[parent].SpanId) || string(s.TraceId) != string(server.TraceId) {
			t.Errorf("%s's parent is %x, want %s", name, s.ParentSpanId, parent)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("%s kind %v", name, s.Kind)
		}
		if s.StartTimeUnixNano < server.StartTimeUnixNano || s.EndTimeUnixNano > server.EndTimeUnixNano || s.EndTimeUnixNano < s.StartTimeUnixNano {
			t.Errorf("%s %d..%d lies outside the server span", name, s.StartTimeUnixNano, s.EndTimeUnixNano)
		}
	}
	for _, ph := range inv.Phases.Phases() {
		s := by[string(ph.Name)]
		if s.StartTimeUnixNano != nanos(ph.Start) || s.EndTimeUnixNano-s.StartTimeUnixNano != uint64(ph.Duration) {
			t.Errorf("%s span %d+%d, phase %v+%v", ph.Name, s.StartTimeUnixNano, s.EndTimeUnixNano-s.StartTimeUnixNano, ph.Start, ph.Duration)
		}
	}
	cold := by["cold_start"]
	if cold.StartTimeUnixNano != by["compile"].StartTimeUnixNano || cold.EndTimeUnixNano != by["first_ready"].EndTimeUnixNano {
		t.Errorf("cold_start %d..%d does not cover its phases", cold.StartTimeUnixNano, cold.EndTimeUnixNano)
	}
	// The resource names the service.
	client.mu.Lock()
	res := client.res[0].Resource
	client.mu.Unlock()
	found := false
	for _, kv := range res.Attributes {
		if kv.Key == "service.name" && kv.Value.GetStringValue() == "lumos" {
			found = true
		}
	}
	if !found {
		t.Errorf("resource %v lacks service.name=lumos", res.Attributes)
	}
}

func TestWarmSpanTreeHasNoColdStart(t *testing.T) {
	p, client := tracedProfiler(t, nil)
	warmHello.run(p)
	spans := flushed(t, p, client)
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	if len(names) != 4 {
		t.Fatalf("spans %v, want the server span, request_write, execute, response_read", names)
	}
	a := attrs(spansByName(spans)[serverName])
	if a["faas.coldstart"] != false || a["lumos.start"] != "warm" {
		t.Errorf("warm attributes %v", a)
	}
	if _, ok := a["faas.max_memory"]; ok {
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
			p, client := tracedProfiler(t, nil)
			tt.c.run(p)
			spans := flushed(t, p, client)
			server := spansByName(spans)[serverName]
			a := attrs(server)
			if tt.errorType == "" {
				if _, ok := a["error.type"]; ok || server.Status.GetCode() != tracepb.Status_STATUS_CODE_UNSET || len(server.Events) != 0 {
					t.Errorf("not a server error, yet error.type %v, status %v, events %v", a["error.type"], server.Status, server.Events)
				}
				return
			}
			if a["error.type"] != tt.errorType || server.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || server.Status.GetMessage() != tt.c.err.Error() {
				t.Errorf("error.type %v, status %v", a["error.type"], server.Status)
			}
			if len(server.Events) != 1 || server.Events[0].Name != "exception" {
				t.Fatalf("events %v, want the recorded error", server.Events)
			}
			ev := map[string]string{}
			for _, kv := range server.Events[0].Attributes {
				ev[kv.Key] = kv.Value.GetStringValue()
			}
			if ev["exception.message"] != tt.c.err.Error() || ev["exception.type"] == "" {
				t.Errorf("exception event %v", ev)
			}
			if tt.c.start == "" {
				if _, ok := a["faas.instance"]; ok {
					t.Error("faas.instance without an instance")
				}
				if len(spans) != 1 {
					t.Errorf("%d spans for an invocation that got no instance, want 1", len(spans))
				}
			}
		})
	}
}

func TestCallerTraceContinued(t *testing.T) {
	p, client := tracedProfiler(t, nil)
	c := warmHello
	c.parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	c.state = "vendor=a,other=b"
	_, tc := c.run(p)
	spans := flushed(t, p, client)
	server := spansByName(spans)[serverName]
	if hex.EncodeToString(server.TraceId) != "0af7651916cd43dd8448eb211c80319c" ||
		hex.EncodeToString(server.ParentSpanId) != "b7ad6b7169203331" || server.Flags&flagIsRemote == 0 {
		t.Errorf("server span %x parent %x flags %x: the caller's trace is not continued", server.TraceId, server.ParentSpanId, server.Flags)
	}
	if tc.Parent != "00-0af7651916cd43dd8448eb211c80319c-"+hex.EncodeToString(server.SpanId)+"-01" || tc.State != "vendor=a,other=b" {
		t.Errorf("trace context for the function = %+v", tc)
	}
	for _, s := range spans {
		if string(s.TraceId) != string(server.TraceId) || s.TraceState != "vendor=a,other=b" {
			t.Errorf("%s: trace %x state %q", s.Name, s.TraceId, s.TraceState)
		}
	}
}

func TestUnsampledCallerIsNotTraced(t *testing.T) {
	p, client := tracedProfiler(t, nil) // parent-based: a caller's "not sampled" wins
	c := warmHello
	c.parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	inv, tc := c.run(p)
	if spans := flushed(t, p, client); len(spans) != 0 {
		t.Errorf("exported %d spans of an unsampled trace", len(spans))
	}
	if tc.Parent[:36] != "00-0af7651916cd43dd8448eb211c80319c-" || tc.Parent[53:] != "00" || inv.Trace != nil {
		t.Errorf("trace context %q: want the caller's trace, not sampled", tc.Parent)
	}
}

func TestInvalidCallerTraceStartsANewOne(t *testing.T) {
	p, client := tracedProfiler(t, nil)
	c := warmHello
	c.parent = "00-zzzz-b7ad6b7169203331-01"
	_, tc := c.run(p)
	server := spansByName(flushed(t, p, client))[serverName]
	if len(server.ParentSpanId) != 0 || tc.TraceID() != hex.EncodeToString(server.TraceId) {
		t.Errorf("server %x parent %x tc %q", server.TraceId, server.ParentSpanId, tc.Parent)
	}
}

func TestUnknownMethod(t *testing.T) {
	if name, attr := spanName("BREW"); name != "HTTP /function/{name}" || attr != "_OTHER" {
		t.Errorf("spanName(BREW) = %q, %q", name, attr)
	}
	if name, attr := spanName("GET"); name != "GET /function/{name}" || attr != "GET" {
		t.Errorf("spanName(GET) = %q, %q", name, attr)
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

func TestSenderShutDown(t *testing.T) {
	c := newMemClient()
	p, err := New(context.Background(), Config{TraceSender: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil || !c.stopped {
		t.Errorf("Shutdown: %v, sender shut down %v", err, c.stopped)
	}
}

func TestSamplerKeepsSomeTracesWhole(t *testing.T) {
	p, client := tracedProfiler(t, sdktrace.TraceIDRatioBased(0.1))
	const n = 1000
	for range n {
		warmHello.run(p)
	}
	spans := flushed(t, p, client)
	servers := 0
	traces := map[string]int{}
	for _, s := range spans {
		traces[string(s.TraceId)]++
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers++
		}
	}
	if servers == 0 || servers >= n/2 {
		t.Errorf("a 10%% sampler kept %d of %d traces", servers, n)
	}
	for id, k := range traces {
		if k != 4 {
			t.Errorf("trace %x has %d spans, want 4: sampled traces are complete", id, k)
		}
	}
	if st := p.SpanStats(); st.Exported != uint64(len(spans)) || st.Dropped != 0 {
		t.Errorf("span stats %+v, exported %d", st, len(spans))
	}
}
