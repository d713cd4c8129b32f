package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/invoker"
)

// parseTiming reads a Server-Timing value back into name -> milliseconds,
// strictly: every entry is NAME;dur=NUMBER, and a name appears once.
func parseTiming(t *testing.T, v string) (map[string]float64, []string) {
	t.Helper()
	out := map[string]float64{}
	var order []string
	for _, e := range strings.Split(v, ", ") {
		name, dur, ok := strings.Cut(e, ";dur=")
		if !ok {
			t.Fatalf("entry %q of %q: want NAME;dur=MS", e, v)
		}
		ms, err := strconv.ParseFloat(dur, 64)
		if err != nil || ms < 0 {
			t.Fatalf("entry %q of %q: bad duration", e, v)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("entry %q repeated in %q", name, v)
		}
		out[name] = ms
		order = append(order, name)
	}
	return out, order
}

func TestAppendServerTiming(t *testing.T) {
	at := time.Now()
	ms := time.Millisecond
	tests := []struct {
		name   string
		phases []invoker.Phase
		total  time.Duration
		want   map[string]float64
		order  string
	}{
		{
			name: "cold with queue",
			phases: []invoker.Phase{
				{Name: invoker.PhaseQueueWait, Duration: 1 * ms},
				{Name: invoker.PhaseCompile, Duration: 2 * ms},
				{Name: invoker.PhaseInstantiate, Duration: 3 * ms},
				{Name: invoker.PhaseFirstReady, Duration: 500 * time.Microsecond},
				{Name: invoker.PhaseRequestWrite, Duration: 250 * time.Microsecond},
				{Name: invoker.PhaseExecute, Duration: 4 * ms},
				{Name: invoker.PhaseResponseRead, Duration: 125 * time.Microsecond},
			},
			total: 12 * ms,
			want:  map[string]float64{"queue": 1, "cold": 5.5, "execute": 4, "io": 0.375, "gateway": 1.125},
			order: "queue,cold,execute,io,gateway",
		},
		{
			name: "warm",
			phases: []invoker.Phase{
				{Name: invoker.PhaseRequestWrite, Duration: 10 * time.Microsecond},
				{Name: invoker.PhaseExecute, Duration: 210 * time.Microsecond},
				{Name: invoker.PhaseResponseRead, Duration: 40 * time.Microsecond},
			},
			total: 300 * time.Microsecond,
			want:  map[string]float64{"execute": 0.21, "io": 0.05, "gateway": 0.04},
			order: "execute,io,gateway",
		},
		{
			name: "container cold start",
			phases: []invoker.Phase{
				{Name: invoker.PhaseContainerCreate, Duration: 15 * ms},
				{Name: invoker.PhaseTaskCreate, Duration: 60 * ms},
				{Name: invoker.PhaseTaskStart, Duration: 8 * ms},
				{Name: invoker.PhaseExecute, Duration: 1 * ms},
			},
			total: 90 * ms,
			want:  map[string]float64{"cold": 83, "execute": 1, "gateway": 6},
			order: "cold,execute,gateway",
		},
		{
			name:  "refused before any instance",
			total: 70 * time.Microsecond,
			want:  map[string]float64{"gateway": 0.07},
			order: "gateway",
		},
		{
			name:   "clock skew never goes negative",
			phases: []invoker.Phase{{Name: invoker.PhaseExecute, Duration: 2 * ms}},
			total:  1 * ms,
			want:   map[string]float64{"execute": 2, "gateway": 0},
			order:  "execute,gateway",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl invoker.Timeline
			for _, p := range tt.phases {
				tl.AddDuration(p.Name, at, p.Duration)
			}
			got, order := parseTiming(t, string(appendServerTiming(nil, &tl, tt.total)))
			if strings.Join(order, ",") != tt.order {
				t.Errorf("entries %v, want %s", order, tt.order)
			}
			for k, want := range tt.want {
				if d := got[k] - want; d > 0.0005 || d < -0.0005 {
					t.Errorf("%s = %v ms, want %v", k, got[k], want)
				}
			}
		})
	}
}

func TestServerTimingOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.deploy("f", "v1", nil, nil)
	optIn := withHeader(headerTimingOptIn, "1")

	first := h.do(http.MethodPost, "/function/f", []byte("x"), optIn)
	if first.status != http.StatusOK {
		t.Fatalf("status %d: %s", first.status, first.body)
	}
	got, _ := parseTiming(t, first.header.Get(headerServerTiming))
	for _, k := range []string{"cold", "execute", "gateway"} {
		if _, ok := got[k]; !ok {
			t.Errorf("first (cold) call: no %q in %q", k, first.header.Get(headerServerTiming))
		}
	}

	warm := h.do(http.MethodPost, "/function/f", []byte("x"), optIn)
	got, _ = parseTiming(t, warm.header.Get(headerServerTiming))
	if _, ok := got["cold"]; ok || warm.header.Get(headerStart) != "warm" {
		t.Errorf("warm call (start %q) has a cold entry: %q", warm.header.Get(headerStart), warm.header.Get(headerServerTiming))
	}
	if _, ok := got["execute"]; !ok {
		t.Errorf("warm call: no execute in %q", warm.header.Get(headerServerTiming))
	}

	if r := h.do(http.MethodPost, "/function/f", []byte("x")); r.header.Get(headerServerTiming) != "" {
		t.Errorf("no opt-in, yet Server-Timing %q", r.header.Get(headerServerTiming))
	}
	if r := h.do(http.MethodPost, "/function/f", []byte("x"), withHeader(headerTimingOptIn, "0")); r.header.Get(headerServerTiming) != "" {
		t.Errorf("opt-in 0, yet Server-Timing %q", r.header.Get(headerServerTiming))
	}

	// Error answers carry the phases that happened.
	trap := h.do(http.MethodGet, "/function/f/trap", nil, optIn)
	expectError(t, trap, http.StatusBadGateway, codeFunctionError, "unreachable")
	got, _ = parseTiming(t, trap.header.Get(headerServerTiming))
	if _, ok := got["execute"]; !ok {
		t.Errorf("trap: no execute in %q", trap.header.Get(headerServerTiming))
	}
	big := h.do(http.MethodPost, "/function/f", []byte("x"), optIn, withHeader(headerTimeout, "soon"))
	expectError(t, big, http.StatusBadRequest, codeBadRequest, headerTimeout)
	got, order := parseTiming(t, big.header.Get(headerServerTiming))
	if strings.Join(order, ",") != "gateway" {
		t.Errorf("refused call: entries %v (%q), want only gateway", order, big.header.Get(headerServerTiming))
	}
	if got["gateway"] < 0 {
		t.Errorf("gateway %v ms", got["gateway"])
	}
}

func BenchmarkServerTiming(b *testing.B) {
	var tl invoker.Timeline
	at := time.Now()
	tl.AddDuration(invoker.PhaseRequestWrite, at, 10*time.Microsecond)
	tl.AddDuration(invoker.PhaseExecute, at, 200*time.Microsecond)
	tl.AddDuration(invoker.PhaseResponseRead, at, 30*time.Microsecond)
	b.ReportAllocs()
	buf := make([]byte, 0, 160)
	for b.Loop() {
		buf = appendServerTiming(buf[:0], &tl, 300*time.Microsecond)
	}
}

// BenchmarkInvokeFakeTiming is BenchmarkInvokeFake with the Server-Timing
// opt-in: the header's cost when asked for.
func BenchmarkInvokeFakeTiming(b *testing.B) {
	h := benchGateway(b).Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var rc fasthttp.RequestCtx
		rc.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
		for pb.Next() {
			rc.Request.Reset()
			rc.Request.Header.SetMethod(fasthttp.MethodPost)
			rc.Request.SetRequestURI("/function/noop/sub?x=1")
			rc.Request.Header.Set("X-In", "value")
			rc.Request.Header.Set(headerTimingOptIn, "1")
			rc.Request.SetBodyString(`{"n":1}`)
			rc.Response.Reset()
			h(&rc)
			if len(rc.Response.Header.Peek(headerServerTiming)) == 0 {
				b.Fatalf("no Server-Timing: %s", rc.Response.Header.String())
			}
		}
	})
}
