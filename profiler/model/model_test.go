package model

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lumos-edge/lumos/invoker"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// train feeds n warm invocations per runtime at the training sizes.
func train(m *Model, r *rand.Rand, fn string, n int, sizes ...int) time.Time {
	now := t0
	names := make([]string, 0, len(runtimes))
	for name := range runtimes {
		names = append(names, name)
	}
	sort.Strings(names)
	for range n {
		for _, rt := range names {
			now = now.Add(10 * time.Millisecond)
			m.Observe(runtimes[rt].warm(r, fn, rt, sizes[r.IntN(len(sizes))], now))
		}
	}
	return now
}

func runtimeDoc(t *testing.T, m *Model, fn, rt string, bytes int) RuntimeDoc {
	t.Helper()
	doc, ok := m.Function(fn, bytes)
	if !ok {
		t.Fatalf("Function(%q) not found", fn)
	}
	for _, d := range doc.(FunctionDoc).Runtimes {
		if d.Runtime == rt {
			return d
		}
	}
	t.Fatalf("Function(%q): no runtime %q", fn, rt)
	return RuntimeDoc{}
}

// The acceptance criterion of issue 5, on synthetic runtimes: trained on
// 1, 16 and 256 KiB, the warm p50 at 64 KiB and 1 MiB is within 15% MAPE.
func TestWarmLatencyExtrapolates(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(1, 2))
	train(m, r, "f", 300, 1<<10, 16<<10, 256<<10)
	for rt, tr := range runtimes {
		var mape float64
		for _, b := range []int{64 << 10, 1 << 20} {
			d := runtimeDoc(t, m, "f", rt, b)
			want := tr.median(b)
			mape += math.Abs(d.WarmP50Ms-want) / want / 2
			if d.WarmP99Ms < d.WarmP50Ms {
				t.Errorf("%s at %d: p99 %.3g < p50 %.3g", rt, b, d.WarmP99Ms, d.WarmP50Ms)
			}
			if d.IOShare <= 0 || d.IOShare >= 1 {
				t.Errorf("%s at %d: io share %.3g not in (0, 1)", rt, b, d.IOShare)
			}
			e, i, o := tr.parts(b)
			within(t, rt+" io share", d.IOShare, i/(e+i+o), 0.2)
		}
		t.Logf("%s: MAPE %.2f%% at 64 KiB and 1 MiB", rt, mape*100)
		if mape >= 0.15 {
			t.Errorf("%s: MAPE %.1f%% at 64 KiB and 1 MiB, want < 15%%", rt, mape*100)
		}
		d := runtimeDoc(t, m, "f", rt, 1<<10)
		if d.Confidence != ConfidenceHigh || d.Samples.Warm != 300 || d.Extrapolated {
			t.Errorf("%s: confidence %s, warm samples %d, extrapolated %v", rt, d.Confidence, d.Samples.Warm, d.Extrapolated)
		}
		if d.MemoryBytes != 8<<20 || d.MemoryMaxBytes != 8<<20 {
			t.Errorf("%s: memory %d max %d, want 8 MiB", rt, d.MemoryBytes, d.MemoryMaxBytes)
		}
	}
}

func TestWarmLatencyFollowsDrift(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(3, 4))
	tr := runtimes["wasm-aot"]
	now := t0
	for range 500 {
		now = now.Add(time.Millisecond)
		m.Observe(tr.warm(r, "f", "wasm-aot", 16<<10, now))
	}
	// A noisy neighbour makes everything twice as slow.
	slow := tr
	slow.execBase, slow.execPerMiB, slow.ioBase, slow.overBase = 2*tr.execBase, 2*tr.execPerMiB, 2*tr.ioBase, 2*tr.overBase
	for range 1000 {
		now = now.Add(time.Millisecond)
		m.Observe(slow.warm(r, "f", "wasm-aot", 16<<10, now))
	}
	d := runtimeDoc(t, m, "f", "wasm-aot", 16<<10)
	e, i, o := slow.parts(16 << 10)
	within(t, "warm p50 after drift", d.WarmP50Ms, e+i+o, 0.05)
	if d.Error.DriftResets != 0 {
		t.Errorf("drift resets %d after a 2x change, want 0: forgetting follows it", d.Error.DriftResets)
	}
	// A redeploy makes it ten times slower: the live error jumps, the
	// regressions drop their memory and follow within 100 calls.
	broken := slow
	broken.execBase, broken.execPerMiB = 10*slow.execBase, 10*slow.execPerMiB
	for range 100 {
		now = now.Add(time.Millisecond)
		m.Observe(broken.warm(r, "f", "wasm-aot", 16<<10, now))
	}
	d = runtimeDoc(t, m, "f", "wasm-aot", 16<<10)
	e, i, o = broken.parts(16 << 10)
	within(t, "warm p50 100 calls after a 10x change", d.WarmP50Ms, e+i+o, 0.1)
	if d.Error.DriftResets != 1 {
		t.Errorf("drift resets %d after a 10x change, want 1", d.Error.DriftResets)
	}
}

func TestColdStartQuantiles(t *testing.T) {
	m := newTestModel(Config{})
	now := t0
	for i := range 100 {
		now = now.Add(time.Second)
		m.Observe(cold("f", "container", now, time.Duration(60+i%21)*time.Millisecond, time.Millisecond))
	}
	for range 7 {
		now = now.Add(time.Second)
		inv := runtimes["container"].warm(rand.New(rand.NewPCG(1, 1)), "f", "container", 1024, now)
		inv.Start = invoker.StartPrewarmed
		m.Observe(inv)
	}
	failed := cold("f", "container", now, time.Second, 0)
	failed.Err = invoker.ErrUnavailable
	m.Observe(failed)
	d := runtimeDoc(t, m, "f", "container", 1024)
	within(t, "cold p50", d.ColdP50Ms, 71.05, 0.03)
	within(t, "cold start p50", d.ColdStartP50Ms, 70, 0.03)
	within(t, "cold p99", d.ColdP99Ms, 81.05, 0.03)
	ph, ok := d.ColdPhases["instantiate"]
	if !ok {
		t.Fatalf("no instantiate phase in %v", d.ColdPhases)
	}
	within(t, "instantiate p50", ph.P50Ms, 35, 0.03)
	if ph.P95Ms < ph.P50Ms || ph.P99Ms < ph.P95Ms {
		t.Errorf("instantiate quantiles not ordered: %+v", ph)
	}
	if _, ok := d.ColdPhases["task_create"]; ok {
		t.Errorf("a phase that never happened has quantiles: %v", d.ColdPhases)
	}
	want := Samples{Cold: 101, Prewarmed: 7, Warm: 7, Errors: 1}
	if d.Samples != want {
		t.Errorf("samples %+v, want %+v", d.Samples, want)
	}
	if d.Error.Scored != 99+4 || d.Error.MAPE > 0.2 {
		t.Errorf("cold self-score: %+v", d.Error)
	}
}

func TestSelfScoreAndMetrics(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(5, 6))
	train(m, r, "f", 200, 1<<10, 16<<10, 256<<10)
	d := runtimeDoc(t, m, "f", "wasm-aot", 1024)
	if d.Error.Scored != 197 {
		t.Errorf("scored %d predictions, want 197 (all warm ones after the third)", d.Error.Scored)
	}
	if d.Error.MAPE <= 0 || d.Error.MAPE > 0.3 {
		t.Errorf("live error %.3g, want in (0, 0.3]", d.Error.MAPE)
	}
	if d.Error.CumulativeMAPE < d.Error.MAPE {
		t.Errorf("cumulative error %.3g below the recent %.3g: early predictions were worse", d.Error.CumulativeMAPE, d.Error.MAPE)
	}
	sms, err := m.Produce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, met := range sms[0].Metrics {
		switch data := met.Data.(type) {
		case metricdata.Gauge[float64]:
			for _, p := range data.DataPoints {
				if v, _ := p.Attributes.Value("runtime"); v.AsString() == "wasm-aot" && math.Abs(p.Value-d.Error.MAPE) > 1e-9 {
					t.Errorf("%s = %v, want %v", met.Name, p.Value, d.Error.MAPE)
				}
			}
			got[met.Name] = len(data.DataPoints)
		case metricdata.Gauge[int64]:
			for _, p := range data.DataPoints {
				kind, _ := p.Attributes.Value("kind")
				if kind.AsString() == "warm" && p.Value != 200 {
					t.Errorf("%s{kind=warm} = %d, want 200", met.Name, p.Value)
				}
			}
			got[met.Name] = len(data.DataPoints)
		}
	}
	if got[MetricErrorRatio] != 3 || got[MetricSamples] != 12 {
		t.Errorf("series: %v, want 3 %s and 12 %s", got, MetricErrorRatio, MetricSamples)
	}
}

// A function never run on a runtime is predicted from the runtimes'
// relation over the functions that ran on both.
func TestCrossRuntimeExtrapolation(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(7, 8))
	now := t0
	for i, fn := range []string{"a", "b", "c"} {
		base := truth{execBase: 0.1 * float64(i+1), execPerMiB: 1, ioBase: 0.01, overBase: 0.02, respRatio: 1, noise: 0.02}
		slow := base
		slow.execBase, slow.ioBase, slow.overBase, slow.execPerMiB = 3*base.execBase, 3*base.ioBase, 3*base.overBase, 3*base.execPerMiB
		for range 50 {
			now = now.Add(time.Millisecond)
			m.Observe(base.warm(r, fn, "fast", 1024, now))
			m.Observe(slow.warm(r, fn, "slow", 1024, now))
		}
		m.Observe(cold(fn, "fast", now, 10*time.Millisecond, 0))
		m.Observe(cold(fn, "slow", now, 20*time.Millisecond, 0))
	}
	lone := truth{execBase: 1, ioBase: 0.01, overBase: 0.02, respRatio: 1, noise: 0.02}
	for range 50 {
		now = now.Add(time.Millisecond)
		m.Observe(lone.warm(r, "lone", "fast", 1024, now))
	}
	m.Observe(cold("lone", "fast", now, 10*time.Millisecond, 0))
	o := m.overview()
	var rel *Relation
	for i := range o.Relations {
		if o.Relations[i].A == "slow" && o.Relations[i].B == "fast" {
			rel = &o.Relations[i]
		}
	}
	if rel == nil || rel.Functions != 3 {
		t.Fatalf("relations %+v: want slow/fast over 3 functions", o.Relations)
	}
	within(t, "slow/fast warm ratio", rel.WarmRatio, 3, 0.05)
	within(t, "slow/fast cold ratio", rel.ColdRatio, 2, 0.05)
	d := runtimeDoc(t, m, "lone", "slow", 1024)
	if !d.Extrapolated || d.From != "fast" || d.Confidence != ConfidenceLow {
		t.Errorf("lone on slow: extrapolated %v from %q confidence %s, want true, fast, low", d.Extrapolated, d.From, d.Confidence)
	}
	within(t, "lone on slow warm p50", d.WarmP50Ms, 3*lone.median(1024), 0.1)
	within(t, "lone on slow cold p50", d.ColdP50Ms, 2*10.05, 0.1)
}

func TestRecommendation(t *testing.T) {
	now := t0
	m := newTestModel(Config{Now: func() time.Time { return now }})
	r := rand.New(rand.NewPCG(9, 10))
	now = train(m, r, "f", 100, 1<<10)
	m.Observe(cold("f", "wasm-aot", now, 500*time.Millisecond, time.Millisecond))
	doc, ok := m.Function("f", 1024)
	if !ok {
		t.Fatal("no doc")
	}
	rec := doc.(FunctionDoc).Recommendation
	if rec.Runtime != "wasm-aot" && rec.Runtime != "container" {
		t.Errorf("recommended %q, want a fast runtime", rec.Runtime)
	}
	if rec.Reason == "" || rec.IdleTimeoutSeconds <= 0 {
		t.Errorf("recommendation %+v", rec)
	}
	if _, ok := m.Function("nobody", 1024); ok {
		t.Error("Function of an unknown name is ok")
	}
	if got := doc.(FunctionDoc).Arrivals.Kind; got != arrivalSteady {
		t.Errorf("arrival kind %q, want steady", got)
	}
}

func TestEnvironment(t *testing.T) {
	cpu := []byte("processor\t: 0\nmodel name\t: Fancy CPU @ 3GHz\nflags\t\t: x\n")
	if got := procField(cpu, "model name"); got != "Fancy CPU @ 3GHz" {
		t.Errorf("procField = %q", got)
	}
	env := CurrentEnvironment()
	if env.Cores < 1 || env.GoVersion == "" || env.OS == "" {
		t.Errorf("CurrentEnvironment() = %+v", env)
	}
	m := newTestModel(Config{})
	if m.Environment() != testEnv {
		t.Errorf("injected environment not used: %+v", m.Environment())
	}
}

func BenchmarkObserve(b *testing.B) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(1, 2))
	invs := make([]*invoker.Invocation, 1024)
	now := t0
	for i := range invs {
		now = now.Add(time.Millisecond)
		invs[i] = runtimes["wasm-aot"].warm(r, "hello", "wasm-aot", 1<<(10+i%8), now)
	}
	for _, inv := range invs {
		m.Observe(inv)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Observe(invs[i%len(invs)])
	}
}

// BenchmarkObserveParallel is BenchmarkObserve from every P at once, on
// one key: what a gateway under load pays, the model's state shared by the
// cores (its locks and the values published to Choose).
func BenchmarkObserveParallel(b *testing.B) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(1, 2))
	invs := make([]*invoker.Invocation, 1024)
	now := t0
	for i := range invs {
		now = now.Add(time.Millisecond)
		invs[i] = runtimes["wasm-aot"].warm(r, "hello", "wasm-aot", 1<<(10+i%8), now)
	}
	for _, inv := range invs {
		m.Observe(inv)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Observe(invs[i%len(invs)])
			i++
		}
	})
}
