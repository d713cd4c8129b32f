package model

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// serve runs n invocations of fn through Choose, serving each with the
// chosen runtime's truth; it returns how many went to each candidate.
func serve(m *Model, r *rand.Rand, fn string, n, bytes int, candidates []string, truths map[string]truth, now *time.Time) map[string]int {
	counts := map[string]int{}
	for range n {
		i := m.Choose(fn, bytes, candidates)
		rt := candidates[i]
		counts[rt]++
		*now = now.Add(time.Millisecond)
		m.Observe(truths[rt].warm(r, fn, rt, bytes, *now))
	}
	return counts
}

func TestChooseExploresThenExploits(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(11, 12))
	candidates := []string{"wasm-interp", "container", "wasm-aot"}
	now := t0
	counts := serve(m, r, "f", 30, 1024, candidates, runtimes, &now)
	for _, rt := range candidates {
		if counts[rt] != 10 {
			t.Errorf("exploration gave %s %d calls, want 10 each: %v", rt, counts[rt], counts)
		}
	}
	counts = serve(m, r, "f", 1000, 1024, candidates, runtimes, &now)
	// At 1 KiB AoT and the container are close; the interpreter is far behind.
	best := max(counts["wasm-aot"], counts["container"])
	if best < 950 || counts["wasm-interp"] > 10 {
		t.Errorf("exploitation: %v, want one fast runtime to get >= 95%% and the interpreter only bounded exploration", counts)
	}
	// Bounded exploration reaches the interpreter too, rarer as it is
	// slower: one of every ⌈its predicted latency / the chosen one's⌉ turns.
	more := serve(m, r, "f", 4000, 1024, candidates, runtimes, &now)
	if more["wasm-interp"] == 0 || more["wasm-interp"] >= 4000/DefaultExploreEvery/2 {
		t.Errorf("bounded exploration gave the interpreter %d of 4000 calls, want at least 1 and fewer than the container's turns (%d): %v",
			more["wasm-interp"], 4000/DefaultExploreEvery/2, more)
	}
	// A new payload regime is explored on its own.
	counts = serve(m, r, "f", 30, 1<<20, candidates, runtimes, &now)
	for _, rt := range candidates {
		if counts[rt] != 10 {
			t.Errorf("1 MiB regime: %s got %d calls, want 10: %v", rt, counts[rt], counts)
		}
	}
	counts = serve(m, r, "f", 400, 1<<20, candidates, runtimes, &now)
	if counts["wasm-aot"] < 380 {
		t.Errorf("at 1 MiB AoT is fastest (the container's I/O dominates); got %v", counts)
	}
}

// When the chosen runtime's behaviour changes, the live error grows and
// Choose explores again, then follows the new best.
func TestChooseReexploresOnDrift(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(13, 14))
	candidates := []string{"a", "b"}
	fast := truth{execBase: 1, ioBase: 0.1, overBase: 0.05, respRatio: 1, noise: 0.05}
	slow := truth{execBase: 3, ioBase: 0.1, overBase: 0.05, respRatio: 1, noise: 0.05}
	truths := map[string]truth{"a": fast, "b": slow}
	now := t0
	serve(m, r, "f", 300, 1024, candidates, truths, &now)
	// "a" suddenly becomes ten times slower than before.
	broken := fast
	broken.execBase = 10
	truths["a"] = broken
	counts := serve(m, r, "f", 600, 1024, candidates, truths, &now)
	if counts["b"] < 450 {
		t.Errorf("after a's slowdown: %v, want b chosen most of the time", counts)
	}
}

func TestChooseDoesNotAllocate(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(15, 16))
	candidates := []string{"wasm-interp", "container", "wasm-aot"}
	now := t0
	serve(m, r, "f", 100, 1024, candidates, runtimes, &now)
	if n := testing.AllocsPerRun(1000, func() { m.Choose("f", 2048, candidates) }); n != 0 {
		t.Errorf("Choose allocates %v times per call", n)
	}
	if got := m.Choose("f", 1024, candidates[:1]); got != 0 {
		t.Errorf("Choose with one candidate = %d", got)
	}
	if got := m.Choose("f", 1024, nil); got != 0 {
		t.Errorf("Choose with no candidate = %d", got)
	}
}

func BenchmarkChoose(b *testing.B) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(15, 16))
	candidates := []string{"wasm-interp", "container", "wasm-aot"}
	now := t0
	serve(m, r, "f", 100, 1024, candidates, runtimes, &now)
	b.ReportAllocs()
	for b.Loop() {
		m.Choose("f", 1024, candidates)
	}
}

// A runtime that fails every call is explored, then never chosen.
func TestChooseAvoidsFailingRuntime(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(17, 18))
	candidates := []string{"broken", "wasm-interp"}
	now := t0
	counts := map[string]int{}
	for range 300 {
		i := m.Choose("f", 1024, candidates)
		counts[candidates[i]]++
		now = now.Add(time.Millisecond)
		if candidates[i] == "broken" {
			inv := runtimes["wasm-aot"].warm(r, "f", "broken", 1024, now)
			inv.Err = invoker.ErrTrap
			m.Observe(inv)
			continue
		}
		m.Observe(runtimes["wasm-interp"].warm(r, "f", "wasm-interp", 1024, now))
	}
	if counts["broken"] > 12 {
		t.Errorf("a runtime failing every call got %d of 300 calls, want its 10 explorations and bounded exploration only", counts["broken"])
	}
}

// Sub-millisecond jitter is not drift: a function of about 50 us whose
// calls vary by half and sometimes 5x (scheduler noise on a shared machine)
// never resets its regressions, and runtime auto does not re-explore the
// slow candidate beyond its bounded exploration.
func TestJitterIsNotDrift(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(5, 6))
	fast := truth{execBase: 0.03, ioBase: 0.005, overBase: 0.01, noise: 0.5, outliers: 0.05}
	slow := fast
	slow.execBase = 0.4
	truths := map[string]truth{"wasm-aot": fast, "wasm-interp": slow}
	now := t0
	counts := serve(m, r, "f", 1000, 1024, []string{"wasm-aot", "wasm-interp"}, truths, &now)
	if max := DefaultExploreSamples + 1000/DefaultExploreEvery + 2; counts["wasm-interp"] > max {
		t.Errorf("the interpreter got %d of 1000 calls, want at most %d (exploration and bounded exploration)", counts["wasm-interp"], max)
	}
	if d := runtimeDoc(t, m, "f", "wasm-aot", 1024); d.Error.DriftResets != 0 {
		t.Errorf("drift resets %d on jitter, want 0", d.Error.DriftResets)
	}
}

// Bounded exploration of a much slower candidate costs about
// 1/ExploreEvery of the chosen runtime's time, not one slow call in
// ExploreEvery.
func TestBoundedExplorationCostsLittle(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(9, 9))
	fast := truth{execBase: 3, noise: 0.05}
	slow := truth{execBase: 90, noise: 0.05}
	truths := map[string]truth{"wasm-aot": fast, "wasm-interp": slow}
	now := t0
	serve(m, r, "f", 100, 1024, []string{"wasm-aot", "wasm-interp"}, truths, &now)
	counts := serve(m, r, "f", 9000, 1024, []string{"wasm-aot", "wasm-interp"}, truths, &now)
	spent := float64(counts["wasm-interp"]) * slow.median(1024)
	total := spent + float64(counts["wasm-aot"])*fast.median(1024)
	if counts["wasm-interp"] == 0 || spent/total > 2.0/DefaultExploreEvery {
		t.Errorf("exploring the 30x slower runtime: %d of 9000 calls, %.1f%% of the time, want at least 1 and at most %.1f%%",
			counts["wasm-interp"], 100*spent/total, 200.0/DefaultExploreEvery)
	}
}
