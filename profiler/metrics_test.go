package profiler

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

func TestExpositionNames(t *testing.T) {
	p, _ := testProfiler(t, Config{})
	if err := p.ObserveFunctions(fakeFunctions{{Name: "hello", Runtime: "wasm-aot", Replicas: 3,
		Pool: pool.Stats{Idle: 2, Busy: 1, Waiting: 4}}}); err != nil {
		t.Fatal(err)
	}
	cold := invocation{function: "hello", runtime: "wasm-aot", start: invoker.StartCold, status: 200,
		cold: []invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseInstantiate}}
	cold.run(p)
	warmHello.run(p)
	invocation{function: "hello", runtime: "wasm-aot", start: invoker.StartWarm, status: 502, err: errTrap}.run(p)
	text := scrape(t, p)

	types := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(text, -1) {
		types[m[1]] = m[2]
	}
	want := map[string]string{
		"gateway_function_invocation_total": "counter", "gateway_functions_seconds": "histogram", "gateway_service_count": "gauge",
		"lumos_invocations_total": "counter", "lumos_invocation_errors_total": "counter",
		"lumos_invocation_duration_seconds": "histogram", "lumos_phase_duration_seconds": "histogram",
		"lumos_cold_starts_total": "counter", "lumos_cold_start_duration_seconds": "histogram",
		"lumos_queue_wait_seconds": "histogram", "lumos_queue_depth": "gauge", "lumos_pool_instances": "gauge",
		"lumos_gateway_overhead_seconds": "histogram",
	}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("# TYPE %s = %q, want %q", name, types[name], typ)
		}
	}
	for name := range types {
		if _, ok := want[name]; !ok && name != "target_info" {
			t.Errorf("unexpected metric %s (a suffix added?)", name)
		}
	}
	lines := strings.Split(text, "\n")
	for _, l := range []string{
		`gateway_function_invocation_total{code="200",function_name="hello"} 2`,
		`gateway_function_invocation_total{code="502",function_name="hello"} 1`,
		`gateway_functions_seconds_count{code="200",function_name="hello"} 2`,
		`gateway_service_count{function_name="hello"} 3`,
		`lumos_invocations_total{function="hello",outcome="success",runtime="wasm-aot"} 2`,
		`lumos_invocations_total{function="hello",outcome="function_error",runtime="wasm-aot"} 1`,
		`lumos_invocation_errors_total{function="hello",outcome="function_error",runtime="wasm-aot"} 1`,
		`lumos_cold_starts_total{function="hello",runtime="wasm-aot"} 1`,
		`lumos_cold_start_duration_seconds_count{function="hello",phase="compile",runtime="wasm-aot"} 1`,
		`lumos_invocation_duration_seconds_count{function="hello",runtime="wasm-aot",start="cold"} 1`,
		`lumos_invocation_duration_seconds_count{function="hello",runtime="wasm-aot",start="warm"} 2`,
		`lumos_phase_duration_seconds_count{function="hello",phase="execute",runtime="wasm-aot"} 3`,
		`lumos_queue_depth{function="hello"} 4`,
		`lumos_pool_instances{function="hello",state="idle"} 2`,
		`lumos_pool_instances{function="hello",state="busy"} 1`,
		`lumos_gateway_overhead_seconds_count{function="hello",runtime="wasm-aot"} 3`,
	} {
		if !slices.Contains(lines, l) {
			t.Errorf("exposition lacks %s", l)
		}
	}
	if !strings.Contains(text, `gateway_functions_seconds_bucket{code="200",function_name="hello",le="0.005"}`) {
		t.Error("gateway_functions_seconds has no second-scale bucket le=0.005")
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestSpanCountersExposedOnlyWhenTracing(t *testing.T) {
	p, _ := testProfiler(t, Config{})
	if strings.Contains(scrape(t, p), "lumos_trace_spans") {
		t.Error("span counters without tracing")
	}
}

func TestMetricsOff(t *testing.T) {
	p, _ := testProfiler(t, Config{DisableMetrics: true})
	warmHello.run(p)
	if p.MetricsHandler() != nil {
		t.Error("a /metrics handler with metrics off")
	}
	if err := p.ObserveFunctions(fakeFunctions{}); err != nil {
		t.Error(err)
	}
}

func TestAttributeSets(t *testing.T) {
	p, _ := testProfiler(t, Config{})
	in := p.met
	a := in.statsFor("hello", "wasm-aot")
	if in.statsFor("hello", "wasm-aot") != a || in.statsFor("hello", "wasm-interp") == a {
		t.Error("the cache does not key by function and runtime")
	}
	check := func(what string, s attribute.Set, want map[string]string) {
		t.Helper()
		if s.Len() != len(want) || !matches(s, want) {
			t.Errorf("%s: attributes %v, want %v", what, s.ToSlice(), want)
		}
	}
	check("base", a.base, map[string]string{"function": "hello", "runtime": "wasm-aot"})
	check("outcome", a.outcomeSet[outcomeTimeout], map[string]string{"function": "hello", "runtime": "wasm-aot", "outcome": "timeout"})
	check("start none", a.startSet[0], map[string]string{"function": "hello", "runtime": "wasm-aot", "start": "none"})
	check("start warm", a.startSet[3], map[string]string{"function": "hello", "runtime": "wasm-aot", "start": "warm"})
	check("phase", a.phaseSet[1], map[string]string{"function": "hello", "runtime": "wasm-aot", "phase": "execute"})
	check("cold phase", a.coldSet[1], map[string]string{"function": "hello", "runtime": "wasm-aot", "phase": "cache_load"})
	check("code", a.code(404).set, map[string]string{"function_name": "hello", "code": "404"})
	if a.code(200) != a.code(200) || a.code(200) == a.code(201) {
		t.Error("the code series are not cached by code")
	}
}

func TestHistogramBuckets(t *testing.T) {
	h := newHistogram(newBuckets(0.001, 0.01))
	for _, d := range []time.Duration{0, time.Millisecond, time.Millisecond + 1, 10 * time.Millisecond, time.Second} {
		h.observe(d)
	}
	p, ok := h.point(attribute.NewSet(), time.Time{}, time.Time{})
	// Prometheus buckets are upper-inclusive: 1ms falls in le=0.001.
	if !ok || p.Count != 5 || !slices.Equal(p.BucketCounts, []uint64{2, 2, 1}) || p.Sum != 1.012000001 {
		t.Errorf("point %+v", p)
	}
	empty := newHistogram(durationBuckets)
	if _, ok := empty.point(attribute.NewSet(), time.Time{}, time.Time{}); ok {
		t.Error("an empty histogram yields a point")
	}
}

func TestRecordMetricsAllocations(t *testing.T) {
	p, _ := testProfiler(t, Config{})
	inv, _ := warmHello.run(p)
	allocs := testing.AllocsPerRun(100, func() { p.met.record(inv) })
	t.Logf("allocations per record: %v", allocs)
	if allocs > 0 {
		t.Errorf("recording the metrics of a warm invocation allocates %v times", allocs)
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, "success"}, {500, nil, "success"}, {404, nil, "success"},
		{400, errBody, "client_error"}, {413, errBody, "client_error"}, {431, errBody, "client_error"},
		{429, errBody, "queue_full"}, {502, errTrap, "function_error"}, {503, errBody, "unavailable"},
		{504, errBody, "timeout"}, {500, errBody, "internal_error"},
	} {
		if got := classify(tt.status, tt.err).String(); got != tt.want {
			t.Errorf("classify(%d, %v) = %s, want %s", tt.status, tt.err, got, tt.want)
		}
	}
}
