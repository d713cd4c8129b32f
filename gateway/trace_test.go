package gateway

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

const (
	testParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	testOurs   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

// headerLines splits a /headers answer into its lines.
func headerLines(body []byte) []string {
	return strings.Split(strings.TrimSpace(string(body)), "\n")
}

func TestTraceContextReachesTheFunction(t *testing.T) {
	h := newHarness(t)
	h.rec.trace = func(call Call) TraceContext {
		return TraceContext{Parent: testOurs, State: "lumos=1"}
	}
	h.deploy("f", "v1", nil, nil)
	r := h.do(http.MethodPost, "/function/f/headers", nil,
		withHeader("traceparent", testParent), withHeader("tracestate", "vendor=a"))
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	lines := headerLines(r.body)
	for _, want := range []string{"traceparent: " + testOurs, "tracestate: lumos=1"} {
		if !slices.Contains(lines, want) {
			t.Errorf("function's headers %q lack %q", lines, want)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, testParent) || strings.Contains(l, "vendor=a") {
			t.Errorf("the caller's trace header reached the function: %q", l)
		}
	}
	if got := r.header.Get("X-Trace-Id"); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("X-Trace-Id = %q", got)
	}
	h.rec.mu.Lock()
	calls := slices.Clone(h.rec.calls)
	h.rec.mu.Unlock()
	want := Call{Method: "POST", Path: "/function/f/headers", TraceParent: testParent, TraceState: "vendor=a"}
	if len(calls) != 1 || calls[0] != want {
		t.Errorf("Begin saw %+v, want [%+v]", calls, want)
	}
	invs := h.rec.all()
	if len(invs) != 1 || invs[0].Trace != want || invs[0].ID != r.header.Get("X-Call-Id") {
		t.Errorf("Record did not get what Begin set: %+v", invs)
	}
}

func TestTraceStateDroppedWhenTheRecorderHasNone(t *testing.T) {
	h := newHarness(t)
	h.rec.trace = func(Call) TraceContext { return TraceContext{Parent: testOurs} }
	h.deploy("f", "v1", nil, nil)
	r := h.do(http.MethodGet, "/function/f/headers", nil, withHeader("tracestate", "vendor=a"))
	for _, l := range headerLines(r.body) {
		if strings.HasPrefix(l, "tracestate:") {
			t.Errorf("stale tracestate reached the function: %q", l)
		}
	}
}

func TestNoTraceLeavesHeadersAlone(t *testing.T) {
	h := newHarness(t) // the recorder answers the zero TraceContext
	h.deploy("f", "v1", nil, nil)
	r := h.do(http.MethodGet, "/function/f/headers", nil, withHeader("traceparent", testParent))
	if !slices.Contains(headerLines(r.body), "traceparent: "+testParent) {
		t.Errorf("the caller's traceparent did not pass through: %s", r.body)
	}
	if got := r.header.Get("X-Trace-Id"); got != "" {
		t.Errorf("X-Trace-Id = %q without a trace", got)
	}
}

func TestBeginSeesTheRecordBeforeTheCall(t *testing.T) {
	h := newHarness(t)
	var seen invoker.Invocation
	h.rec.trace = func(Call) TraceContext { return TraceContext{} }
	rec := &beginSpy{recorder: h.rec, seen: &seen}
	h.stop()
	h.start(func(c *Config) { c.Recorder = rec })
	d := FunctionDeployment{Service: "f", Image: h.upload("v1"), Limits: &FunctionResources{Memory: "64Mi"}}
	if r := h.admin(http.MethodPost, "/system/functions", d); r.status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", r.status, r.body)
	}
	r := h.do(http.MethodGet, "/function/f", nil)
	if seen.ID != r.header.Get("X-Call-Id") || seen.Function != "f" || seen.Runtime != "fake" ||
		seen.ABI != invoker.ABILoop || seen.Begin.IsZero() || seen.MaxMemory != 64<<20 || seen.Start != "" || seen.Status != 0 {
		t.Errorf("Begin saw %+v", seen)
	}
}

// beginSpy copies the record as Begin sees it.
type beginSpy struct {
	*recorder
	seen *invoker.Invocation
}

func (b *beginSpy) Begin(inv *invoker.Invocation, call Call) TraceContext {
	b.seen.ID, b.seen.Function, b.seen.Runtime, b.seen.ABI = inv.ID, inv.Function, inv.Runtime, inv.ABI
	b.seen.Begin, b.seen.MaxMemory, b.seen.Start, b.seen.Status = inv.Begin, inv.MaxMemory, inv.Start, inv.Status
	return b.recorder.Begin(inv, call)
}

func TestTraceContextTraceID(t *testing.T) {
	for _, tt := range []struct{ parent, want string }{
		{testOurs, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"", ""},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", ""},
	} {
		if got := (TraceContext{Parent: tt.parent}).TraceID(); got != tt.want {
			t.Errorf("TraceID(%q) = %q, want %q", tt.parent, got, tt.want)
		}
	}
}

func TestMetricsRoute(t *testing.T) {
	h := newHarness(t)
	if r := h.do(http.MethodGet, "/metrics", nil); r.status != http.StatusNotFound {
		t.Errorf("without a handler: %d", r.status)
	}
	h.stop()
	h.start(func(c *Config) {
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("up 1\n"))
		})
	})
	if r := h.do(http.MethodGet, "/metrics", nil); r.status != 200 || string(r.body) != "up 1\n" {
		t.Errorf("GET /metrics = %d %q", r.status, r.body)
	}
	expectError(t, h.do(http.MethodPost, "/metrics", nil), http.StatusMethodNotAllowed, codeMethodNotAllowed, "")
}

func TestFunctionStats(t *testing.T) {
	h := newHarness(t)
	h.deploy("a", "v1", nil, map[string]string{LabelScaleMin: "2"})
	h.deploy("b", "v1", map[string]string{AnnotationRuntime: "other"}, nil)
	h.do(http.MethodGet, "/function/b", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]FunctionStats{}
		for fs := range h.g.FunctionStats() {
			got[fs.Name] = fs
		}
		a, b := got["a"], got["b"]
		ok := len(got) == 2 && a.Runtime == "fake" && a.Replicas == 2 && b.Runtime == "other" &&
			b.Replicas == 1 && b.Pool.Idle == 1 && a.Pool.Idle == 2
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FunctionStats = %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range h.g.FunctionStats() {
		break // stopping early must not panic
	}
}
