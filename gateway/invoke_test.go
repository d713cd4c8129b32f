package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestInvokePassthrough(t *testing.T) {
	h := newHarness(t)
	h.deploy("echo", "v1", nil, nil)
	tests := []struct {
		method, path, wantPath, wantQuery string
		body                              string
	}{
		{http.MethodGet, "/function/echo", "/", "", ""},
		{http.MethodPost, "/function/echo/", "/", "", "payload"},
		{http.MethodPut, "/function/echo/a/b/c?x=1&y=two", "/a/b/c", "x=1&y=two", "{\"k\":1}"},
		{http.MethodDelete, "/function/echo?only=query", "/", "only=query", ""},
		{"PURGE", "/function/echo/custom", "/custom", "", "z"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := h.do(tt.method, tt.path, []byte(tt.body), withHeader("X-In", "hello"))
			if r.status != http.StatusOK {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			checks := map[string]string{
				"X-Method": tt.method, "X-Path": tt.wantPath, "X-Query": tt.wantQuery,
				"X-Out": "hello", "Content-Type": "text/x-echo", "X-Lumos-Instance": "",
			}
			for k, want := range checks {
				if got := r.header.Get(k); want != "" && got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if string(r.body) != tt.body {
				t.Errorf("body = %q, want %q", r.body, tt.body)
			}
			if !strings.HasPrefix(r.header.Get("X-Lumos-Instance"), "echo-") {
				t.Errorf("X-Lumos-Instance = %q", r.header.Get("X-Lumos-Instance"))
			}
			if s := r.header.Get("X-Lumos-Start"); s != "cold" && s != "warm" && s != "prewarmed" {
				t.Errorf("X-Lumos-Start = %q", s)
			}
			if d, err := strconv.ParseFloat(r.header.Get("X-Duration-Seconds"), 64); err != nil || d < 0 {
				t.Errorf("X-Duration-Seconds = %q", r.header.Get("X-Duration-Seconds"))
			}
			if r.header.Get("X-Call-Id") == "" {
				t.Error("no X-Call-Id")
			}
		})
	}
}

func TestInvokeStartKindsAndRecords(t *testing.T) {
	h := newHarness(t)
	h.deploy("rec", "v1", nil, nil)
	first := h.do(http.MethodPost, "/function/rec/p?q=1", []byte("12345"))
	second := h.do(http.MethodPost, "/function/rec", []byte("12"))
	if first.header.Get("X-Lumos-Start") != "cold" || second.header.Get("X-Lumos-Start") != "warm" {
		t.Errorf("start kinds = %q then %q", first.header.Get("X-Lumos-Start"), second.header.Get("X-Lumos-Start"))
	}
	if first.header.Get("X-Call-Id") == second.header.Get("X-Call-Id") {
		t.Error("call ids repeat")
	}
	invs := h.rec.all()
	if len(invs) != 2 {
		t.Fatalf("recorded %d invocations, want 2", len(invs))
	}
	cold, warm := invs[0], invs[1]
	if cold.ID != first.header.Get("X-Call-Id") || cold.Function != "rec" || cold.Runtime != "fake" ||
		cold.ABI != invoker.ABILoop || cold.Start != invoker.StartCold || cold.Status != 200 || cold.Err != nil ||
		cold.RequestBytes != 5 || cold.ResponseBytes != 5 || cold.BodyBytes != 5 || cold.MemoryBytes != 1<<20 ||
		cold.Instance != first.header.Get("X-Lumos-Instance") || cold.Total <= 0 || cold.Begin.IsZero() {
		t.Errorf("cold record = %+v", cold)
	}
	if cold.Phases.Get(invoker.PhaseInstantiate) == 0 || cold.Phases.Get(invoker.PhaseExecute) == 0 {
		t.Errorf("cold phases = %+v", cold.Phases.Phases())
	}
	if warm.Start != invoker.StartWarm || warm.Phases.Get(invoker.PhaseInstantiate) != 0 || warm.Phases.Get(invoker.PhaseExecute) == 0 {
		t.Errorf("warm record = %+v", warm)
	}
}

func TestInvokeErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 1024; c.MaxArtifactBytes = 4096 })
	h.deploy("f", "v1", map[string]string{AnnotationTimeout: "100ms"}, nil)
	h.deploy("slow", "v1", map[string]string{AnnotationTimeout: "1m"}, nil)
	tests := []struct {
		name     string
		path     string
		body     []byte
		opts     []reqOpt
		status   int
		code     string
		fragment string
	}{
		{"unknown function", "/function/nope", nil, nil, 404, codeNotFound, "nope"},
		{"trap", "/function/f/trap", nil, nil, 502, codeFunctionError, "unreachable executed"},
		{"timeout", "/function/f/sleep", nil, nil, 504, codeTimeout, "timed out"},
		{"timeout with a plain error", "/function/f/late", nil, nil, 504, codeTimeout, "pipe closed"},
		{"client timeout seconds", "/function/slow/sleep", nil, []reqOpt{withHeader("X-Timeout", "0.05")}, 504, codeTimeout, ""},
		{"client timeout duration", "/function/slow/late", nil, []reqOpt{withHeader("X-Timeout", "50ms")}, 504, codeTimeout, ""},
		{"bad client timeout", "/function/slow", nil, []reqOpt{withHeader("X-Timeout", "soon")}, 400, codeBadRequest, "X-Timeout"},
		{"negative client timeout", "/function/slow", nil, []reqOpt{withHeader("X-Timeout", "-1s")}, 400, codeBadRequest, "X-Timeout"},
		{"body too large", "/function/f", make([]byte, 2000), nil, 413, codeTooLarge, "exceeds"},
		{"body past the artifact limit", "/function/f", make([]byte, 5000), nil, 413, codeTooLarge, "exceeds"},
		{"panic", "/function/f/panic", nil, nil, 500, codeInternal, "panicked"},
		{"invalid status", "/function/f/status/1000", nil, nil, 502, codeFunctionError, "invalid HTTP status"},
		{"1xx status", "/function/f/status/101", nil, nil, 502, codeFunctionError, "invalid HTTP status"},
		{"too many headers", "/function/f", nil, []reqOpt{manyHeaders(300)}, 431, codeHeadersTooLarge, "a function accepts 256 headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectError(t, h.do(http.MethodPost, tt.path, tt.body, tt.opts...), tt.status, tt.code, tt.fragment)
		})
	}
	// The gateway still serves, and f's pool is healthy after the panic.
	if r := h.do(http.MethodGet, "/function/f", nil); r.status != 200 {
		t.Errorf("after errors: %d %s", r.status, r.body)
	}
	if st := h.g.current("f").variants[0].pool.Stats(); st.Busy != 0 {
		t.Errorf("busy instances left: %+v", st)
	}
	// Failed invocations are recorded with their status and error.
	var sawTrap bool
	for _, inv := range h.rec.all() {
		if inv.Status == 502 && inv.Err != nil && strings.Contains(inv.Err.Error(), "unreachable") {
			sawTrap = true
		}
	}
	if !sawTrap {
		t.Error("trap not recorded")
	}
}

func TestInvokeStatusAndHopByHop(t *testing.T) {
	h := newHarness(t)
	h.deploy("f", "v1", nil, nil)
	r := h.do(http.MethodGet, "/function/f/status/418", nil)
	if r.status != 418 || string(r.body) != "status" {
		t.Errorf("status passthrough = %d %s", r.status, r.body)
	}
	r = h.do(http.MethodGet, "/function/f/hop", nil)
	if r.status != 200 || string(r.body) != "hop" || r.header.Get("X-Kept") != "yes" {
		t.Fatalf("hop = %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("X-Bad") != "" || r.header.Get("Injected") != "" {
		t.Errorf("header with CRLF forwarded: %v", r.header)
	}
	// The connection survived: the next request on it works.
	if r := h.do(http.MethodGet, "/function/f", nil); r.status != 200 {
		t.Errorf("after hop headers: %d", r.status)
	}
}

func TestQueueFull(t *testing.T) {
	h := newHarness(t)
	h.deploy("q", "v1", map[string]string{AnnotationQueueSize: "0"}, map[string]string{LabelScaleMax: "1"})
	h.deploy("qt", "v1", map[string]string{AnnotationQueueSize: "1", AnnotationQueueTimeout: "20ms"}, map[string]string{LabelScaleMax: "1"})
	for _, tt := range []struct{ name, fragment string }{{"q", "queue full"}, {"qt", "timed out waiting"}} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan reply, 1)
			go func() { done <- h.do(http.MethodGet, "/function/"+tt.name+"/block", nil) }()
			<-h.rt.entered
			r := h.do(http.MethodGet, "/function/"+tt.name, nil)
			expectError(t, r, http.StatusTooManyRequests, codeQueueFull, tt.fragment)
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			h.rt.release <- struct{}{}
			if r := <-done; r.status != 200 || string(r.body) != "unblocked" {
				t.Errorf("blocked call = %d %s", r.status, r.body)
			}
		})
	}
}

func TestRedeployDrainsOldVersion(t *testing.T) {
	h := newHarness(t)
	h.deploy("r", "v1", nil, nil)
	done := make(chan reply, 1)
	go func() { done <- h.do(http.MethodGet, "/function/r/block", nil) }()
	<-h.rt.entered
	_, fnClosedBefore, _, _ := h.rt.counts()

	d := FunctionDeployment{Service: "r", Image: h.upload("v2")}
	if r := h.admin(http.MethodPut, "/system/functions", d); r.status != http.StatusAccepted {
		t.Fatalf("redeploy: %d %s", r.status, r.body)
	}
	if r := h.do(http.MethodGet, "/function/r", nil); r.header.Get("X-Version") != "v2" {
		t.Errorf("new request went to %q", r.header.Get("X-Version"))
	}
	if _, fnClosed, _, _ := h.rt.counts(); fnClosed != fnClosedBefore {
		t.Error("old version closed while a request was in flight")
	}
	h.rt.release <- struct{}{}
	if r := <-done; r.status != 200 || string(r.body) != "unblocked" {
		t.Errorf("in-flight call on the old version = %d %s", r.status, r.body)
	}
	// The old version closes once its last call is done.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, fnClosed, _, _ := h.rt.counts(); fnClosed == fnClosedBefore+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("old version never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClosedGatewayAnswers503(t *testing.T) {
	h := newHarness(t)
	h.deploy("c", "v1", nil, nil)
	if err := h.g.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	expectError(t, h.do(http.MethodGet, "/function/c", nil), 503, codeUnavailable, "closed")
	expectError(t, h.admin(http.MethodPost, "/system/functions", FunctionDeployment{Service: "d", Image: h.upload("v1")}), 503, codeUnavailable, "closed")
	loaded, fnClosed, created, instClosed := h.rt.counts()
	if loaded != fnClosed || created != instClosed {
		t.Errorf("leak after Close: loaded %d closed %d, instances %d closed %d", loaded, fnClosed, created, instClosed)
	}
}

func manyHeaders(n int) reqOpt {
	return func(r *http.Request) {
		for i := range n {
			r.Header.Set(fmt.Sprintf("X-H%d", i), "v")
		}
	}
}

// TestInstanceLostIsRetried: an instance that broke while idle fails with
// ErrInstanceLost before the request reached it; the gateway destroys it and
// serves the request on a fresh instance.
func TestInstanceLostIsRetried(t *testing.T) {
	h := newHarness(t)
	h.deploy("f", "v1", nil, nil)
	r := h.do(http.MethodGet, "/function/f/lost", nil)
	if r.status != 200 || r.header.Get("X-Lumos-Instance") != "f-2" {
		t.Fatalf("got %d from %q (%s), want 200 from a second instance", r.status, r.header.Get("X-Lumos-Instance"), r.body)
	}
	// The pool destroys a broken instance in the background.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, created, closed := h.rt.counts()
		if created != 2 {
			t.Fatalf("created %d instances, want the lost one and one more", created)
		}
		if closed >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lost instance was never destroyed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
