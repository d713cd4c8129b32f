package model

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
)

// arrive feeds a function's arrivals: the first one cold (coldStart), the
// rest warm invocations of about 1 ms, with memory mem.
func arrive(m *Model, fn string, times []time.Time, coldStart time.Duration, mem int64) {
	hello := truth{execBase: 0.9, ioBase: 0.05, overBase: 0.05, respRatio: 1}
	r := rand.New(rand.NewPCG(1, 2))
	for i, at := range times {
		var inv *invoker.Invocation
		if i < 3 {
			inv = cold(fn, "wasm-aot", at, coldStart, time.Millisecond)
		} else {
			inv = hello.warm(r, fn, "wasm-aot", 1024, at)
		}
		inv.MemoryBytes = mem
		m.Observe(inv)
	}
}

func poisson(r *rand.Rand, start time.Time, rate float64, n int) []time.Time {
	out := make([]time.Time, n)
	at := start
	for i := range out {
		at = at.Add(time.Duration(r.ExpFloat64() / rate * float64(time.Second)))
		out[i] = at
	}
	return out
}

func periodic(r *rand.Rand, start time.Time, period time.Duration, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		jitter := time.Duration((r.Float64() - 0.5) * 0.02 * float64(period))
		out[i] = start.Add(time.Duration(i+1)*period + jitter)
	}
	return out
}

func bursty(start time.Time, bursts, perBurst int, spacing, off time.Duration) []time.Time {
	var out []time.Time
	at := start
	for range bursts {
		at = at.Add(off)
		for range perBurst {
			at = at.Add(spacing)
			out = append(out, at)
		}
	}
	return out
}

func planOne(t *testing.T, m *Model, fn string, now time.Time) (gateway.PoolPlan, plan) {
	t.Helper()
	out := m.Plan(now, []gateway.PoolState{{Function: fn, Runtime: "wasm-aot", MaxInstances: 10}})
	if len(out) != 1 {
		t.Fatalf("Plan returned %d plans for 1 pool", len(out))
	}
	f := m.fn(fn)
	return out[0], m.planFor(f, f.arrivals(), m.costs(f, "wasm-aot"), now)
}

func TestPlanArrivalPatterns(t *testing.T) {
	cfg := Config{MinIdle: 10 * time.Millisecond, MaxIdle: time.Minute, DefaultIdle: 5 * time.Minute}
	r := rand.New(rand.NewPCG(21, 22))

	t.Run("poisson", func(t *testing.T) {
		m := newTestModel(cfg)
		times := poisson(r, t0, 10, 2000)
		arrive(m, "f", times, 200*time.Millisecond, 8<<20)
		last := times[len(times)-1]
		pp, p := planOne(t, m, "f", last.Add(10*time.Millisecond))
		if p.kind != arrivalSteady {
			t.Fatalf("kind %q, want steady (%s)", p.kind, p.reason)
		}
		// p99 of Exp(10/s) is 0.46 s; times the 1.5 margin, about 0.69 s.
		if pp.IdleTimeout < 550*time.Millisecond || pp.IdleTimeout > 850*time.Millisecond {
			t.Errorf("idle %v, want about 0.69 s (%s)", pp.IdleTimeout, p.reason)
		}
		if pp.MinWarm != 1 {
			t.Errorf("prewarm %d, want 1: cold 200 ms against 1 ms warm (%s)", pp.MinWarm, p.reason)
		}
		// Traffic that stopped longer ago than the idle timeout gets no prewarm.
		if pp, _ := planOne(t, m, "f", last.Add(time.Minute)); pp.MinWarm != 0 {
			t.Errorf("prewarm %d a minute after the last arrival, want 0", pp.MinWarm)
		}
	})

	t.Run("periodic", func(t *testing.T) {
		m := newTestModel(cfg)
		times := periodic(r, t0, 2*time.Minute, 60)
		arrive(m, "f", times, 200*time.Millisecond, 8<<20)
		last := times[len(times)-1]
		pp, p := planOne(t, m, "f", last.Add(10*time.Second))
		if p.kind != arrivalPeriodic {
			t.Fatalf("kind %q, want periodic (%s)", p.kind, p.reason)
		}
		if pp.IdleTimeout != cfg.MinIdle || pp.MinWarm != 0 {
			t.Errorf("between arrivals: idle %v prewarm %d, want %v and 0", pp.IdleTimeout, pp.MinWarm, cfg.MinIdle)
		}
		pp, p = planOne(t, m, "f", last.Add(2*time.Minute-2*time.Second))
		if pp.MinWarm != 1 {
			t.Errorf("just before the next arrival: prewarm %d, want 1 (%s)", pp.MinWarm, p.reason)
		}
		if pp, _ = planOne(t, m, "f", last.Add(5*time.Minute)); pp.MinWarm != 0 {
			t.Errorf("long past the window: prewarm %d, want 0", pp.MinWarm)
		}
	})

	t.Run("bursty", func(t *testing.T) {
		m := newTestModel(cfg)
		times := bursty(t0, 30, 50, 20*time.Millisecond, 5*time.Minute)
		arrive(m, "f", times, 200*time.Millisecond, 8<<20)
		last := times[len(times)-1]
		pp, p := planOne(t, m, "f", last.Add(5*time.Millisecond))
		if p.kind != arrivalBursty {
			t.Fatalf("kind %q, want bursty (%s)", p.kind, p.reason)
		}
		// Cover the 20 ms gaps inside a burst (× 1.5 × burstCover), not the 5 min between.
		if pp.IdleTimeout < 50*time.Millisecond || pp.IdleTimeout > 70*time.Millisecond {
			t.Errorf("idle %v, want about 60 ms (%s)", pp.IdleTimeout, p.reason)
		}
		if pp.MinWarm != 1 {
			t.Errorf("inside a burst: prewarm %d, want 1 (%s)", pp.MinWarm, p.reason)
		}
		if pp, _ = planOne(t, m, "f", last.Add(time.Minute)); pp.MinWarm != 0 {
			t.Errorf("between bursts: prewarm %d, want 0", pp.MinWarm)
		}
	})

	t.Run("rare", func(t *testing.T) {
		m := newTestModel(cfg)
		times := poisson(r, t0, 0.001, 6)
		arrive(m, "f", times, 200*time.Millisecond, 8<<20)
		pp, p := planOne(t, m, "f", times[len(times)-1])
		if p.kind != arrivalUnknown || pp.IdleTimeout != cfg.DefaultIdle || pp.MinWarm != 0 {
			t.Errorf("rare: kind %q idle %v prewarm %d, want unknown, %v, 0", p.kind, pp.IdleTimeout, pp.MinWarm, cfg.DefaultIdle)
		}
		if pp, p := planOne(t, m, "never-seen", t0); p.kind != arrivalUnknown || pp.IdleTimeout != cfg.DefaultIdle {
			t.Errorf("unseen function: kind %q idle %v", p.kind, pp.IdleTimeout)
		}
	})

	t.Run("sparse", func(t *testing.T) {
		m := newTestModel(cfg)
		times := poisson(r, t0, 1.0/600, 200)
		arrive(m, "f", times, 200*time.Millisecond, 8<<20)
		pp, p := planOne(t, m, "f", times[len(times)-1].Add(time.Second))
		if p.kind != arrivalSparse || pp.IdleTimeout != cfg.MinIdle || pp.MinWarm != 0 {
			t.Errorf("sparse: kind %q idle %v prewarm %d (%s)", p.kind, pp.IdleTimeout, pp.MinWarm, p.reason)
		}
	})

	t.Run("cheap cold start", func(t *testing.T) {
		m := newTestModel(cfg)
		times := poisson(r, t0, 10, 500)
		arrive(m, "f", times, 0, 8<<20) // a cold start no slower than a warm call
		if pp, p := planOne(t, m, "f", times[len(times)-1]); pp.MinWarm != 0 {
			t.Errorf("prewarm %d for a free cold start (%s)", pp.MinWarm, p.reason)
		}
	})
}

// Prewarmed instances of all pools stay within the memory budget, granted
// where they avoid the most cold-start time per byte.
func TestPlanMemoryBudget(t *testing.T) {
	m := newTestModel(Config{MinIdle: 10 * time.Millisecond, MaxIdle: time.Minute, MemoryBudget: 100 << 20})
	r := rand.New(rand.NewPCG(23, 24))
	times := poisson(r, t0, 10, 1000)
	arrive(m, "big", times, 200*time.Millisecond, 80<<20)
	arrive(m, "small", times, 200*time.Millisecond, 40<<20)
	arrive(m, "tiny", times, 200*time.Millisecond, 30<<20)
	now := times[len(times)-1]
	pools := []gateway.PoolState{
		{Function: "big", Runtime: "wasm-aot", MaxInstances: 4},
		{Function: "small", Runtime: "wasm-aot", MaxInstances: 4},
		{Function: "tiny", Runtime: "wasm-aot", MaxInstances: 4},
	}
	out := m.Plan(now, pools)
	// Same rate and cold start: the smaller instances avoid more per byte.
	if out[0].MinWarm != 0 || out[1].MinWarm != 1 || out[2].MinWarm != 1 {
		t.Errorf("plans %+v, want tiny and small prewarmed (70 MiB), big not (would pass 100 MiB)", out)
	}
	var used int64
	for i, p := range out {
		used += int64(p.MinWarm) * map[int]int64{0: 80 << 20, 1: 40 << 20, 2: 30 << 20}[i]
	}
	if used > 100<<20 {
		t.Errorf("prewarm memory %d over the budget", used)
	}
	// MinWarm never exceeds the pool's cap.
	if out := m.Plan(now, []gateway.PoolState{{Function: "tiny", Runtime: "wasm-aot", MaxInstances: 0}}); out[0].MinWarm != 0 {
		t.Errorf("MinWarm %d with MaxInstances 0", out[0].MinWarm)
	}
}

func TestRecommendationReasonHasNumbers(t *testing.T) {
	m := newTestModel(Config{MinIdle: 10 * time.Millisecond, MaxIdle: time.Minute})
	times := poisson(rand.New(rand.NewPCG(25, 26)), t0, 10, 500)
	arrive(m, "f", times, 200*time.Millisecond, 8<<20)
	m.cfg.Now = func() time.Time { return times[len(times)-1] }
	doc, _ := m.Function("f", 1024)
	rec := doc.(FunctionDoc).Recommendation
	for _, want := range []string{"wasm-aot", "steady arrivals", "prewarm 1", "cold start of 19"} {
		if !strings.Contains(rec.Reason, want) {
			t.Errorf("reason %q lacks %q", rec.Reason, want)
		}
	}
	if rec.Prewarm != 1 || rec.Runtime != "wasm-aot" {
		t.Errorf("recommendation %+v", rec)
	}
}

// Random (exponential) gaps inside bursts: the planned idle timeout covers
// all but a sliver of them, so a burst cold-starts once, not once per
// long-ish gap.
func TestPlanBurstyCoversRandomGaps(t *testing.T) {
	m := newTestModel(Config{MinIdle: 25 * time.Millisecond, MaxIdle: 15 * time.Second})
	r := rand.New(rand.NewPCG(5, 1))
	var times []time.Time
	at := t0
	for range 8 {
		at = at.Add(25 * time.Second)
		for range 50 {
			at = at.Add(time.Duration(r.ExpFloat64() * float64(100*time.Millisecond)))
			times = append(times, at)
		}
	}
	arrive(m, "f", times, 200*time.Millisecond, 8<<20)
	pp, p := planOne(t, m, "f", times[len(times)-1].Add(5*time.Millisecond))
	if p.kind != arrivalBursty {
		t.Fatalf("kind %q, want bursty (%s)", p.kind, p.reason)
	}
	missed := 0
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 10*time.Second && d > pp.IdleTimeout {
			missed++
		}
	}
	if missed > 1 {
		t.Errorf("idle %v: %d of %d gaps inside bursts are longer (%s)", pp.IdleTimeout, missed, len(times)-8, p.reason)
	}
}
