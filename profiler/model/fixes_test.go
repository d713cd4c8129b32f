package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// At a steady concurrency above one, the in-flight feature is constant and
// collinear with the intercept: the warm prediction at one in flight must
// still be the observed latency (review finding 1).
func TestSteadyConcurrencyKeepsIntercept(t *testing.T) {
	for _, inflight := range []int{2, 4, 8} {
		m := newTestModel(Config{})
		r := rand.New(rand.NewPCG(1, 2))
		tr := truth{execBase: 1, ioBase: 0.03, overBase: 0.02, respRatio: 1}
		now := t0
		for range 300 {
			inv := tr.warm(r, "f", "rt", 1024, now)
			inv.InFlight = inflight
			m.Observe(inv)
		}
		ks := m.key(key{"f", "rt", tr.warm(r, "f", "rt", 1024, now).ABI})
		ks.mu.Lock()
		ks.fresh()
		got := ks.predictMs(1024, 1)
		ks.mu.Unlock()
		within(t, "predicted warm ms at one in flight", got, 1.05, 0.05)
		within(t, "predictFast", ks.predictFast(1024, true), 1.05, 0.05)
		within(t, "predictFast of the regressions", ks.predictFast(1024, false), 1.05, 0.05)
	}
}

// serveFailing is serve where calls to the runtimes in failing answer with
// the given error and status instead.
func serveFailing(m *Model, r *rand.Rand, fn string, n int, candidates []string, truths map[string]truth, now *time.Time, failing map[string]bool, err error, status int) map[string]int {
	counts := map[string]int{}
	for range n {
		i := m.Choose(fn, 1024, candidates)
		rt := candidates[i]
		counts[rt]++
		*now = now.Add(time.Millisecond)
		inv := truths[rt].warm(r, fn, rt, 1024, *now)
		if failing[rt] {
			inv.Err, inv.Status = err, status
		}
		m.Observe(inv)
	}
	return counts
}

// A runtime that was fastest and then fails every call stops being chosen
// within a few dozen calls (review finding 2).
func TestChooseLeavesFailingRuntime(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(3, 4))
	candidates := []string{"a", "b"}
	truths := map[string]truth{"a": {execBase: 1, ioBase: 0.1, respRatio: 1}, "b": {execBase: 3, ioBase: 0.1, respRatio: 1}}
	now := t0
	if c := serve(m, r, "f", 2000, 1024, candidates, truths, &now); c["a"] < 1900 {
		t.Fatalf("before the failures: %v, want a chosen", c)
	}
	c := serveFailing(m, r, "f", 5000, candidates, truths, &now, map[string]bool{"a": true}, fmt.Errorf("call: %w", invoker.ErrTrap), 502)
	if c["a"] > 150 {
		t.Errorf("a fails every call but got %d of 5000 calls: %v", c["a"], c)
	}
}

// Overload and client errors (429, 400, 413) are not the runtime's failures:
// they do not move Choose off the fastest runtime.
func TestChooseIgnoresClientAndOverloadErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("queue: %w", pool.ErrQueueFull), 429},
		{fmt.Errorf("queue: %w", pool.ErrQueueTimeout), 429},
		{errors.New("bad request: body"), 400},
		{errors.New("too large: body"), 413},
	} {
		m := newTestModel(Config{})
		r := rand.New(rand.NewPCG(5, 6))
		candidates := []string{"a", "b"}
		truths := map[string]truth{"a": {execBase: 1, ioBase: 0.1, respRatio: 1}, "b": {execBase: 3, ioBase: 0.1, respRatio: 1}}
		now := t0
		serve(m, r, "f", 300, 1024, candidates, truths, &now)
		c := serveFailing(m, r, "f", 2000, candidates, truths, &now, map[string]bool{"a": true}, tc.err, tc.status)
		if c["a"] < 1900 {
			t.Errorf("%d %v: a got %d of 2000 calls, want it kept: %v", tc.status, tc.err, c["a"], c)
		}
	}
}

// With sparse traffic every call is cold: exploration still ends, and
// Choose exploits the runtime with the lowest cold latency (review finding 3).
func TestChooseColdOnly(t *testing.T) {
	m := newTestModel(Config{})
	candidates := []string{"slow", "fast", "mid"}
	inst := map[string]time.Duration{"slow": 90 * time.Millisecond, "fast": 10 * time.Millisecond, "mid": 40 * time.Millisecond}
	counts := map[string]int{}
	now := t0
	for range 300 {
		rt := candidates[m.Choose("f", 1024, candidates)]
		counts[rt]++
		now = now.Add(time.Minute)
		m.Observe(cold("f", rt, now, inst[rt], time.Millisecond))
	}
	if counts["fast"] < 250 {
		t.Errorf("every call cold: %v, want the fastest cold start chosen after exploring", counts)
	}
}

// Queue wait is not part of the warm prediction: it must not count as the
// prediction's error nor trigger drift resets (review finding 4).
func TestQueueWaitIsNotPredictionError(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(7, 8))
	tr := truth{execBase: 1, ioBase: 0.03, overBase: 0.02, respRatio: 1, noise: 0.02}
	now := t0
	for range 500 {
		now = now.Add(time.Millisecond)
		inv := tr.warm(r, "f", "rt", 1024, now)
		inv.InFlight = 8
		inv.Phases.AddDuration(invoker.PhaseQueueWait, now, 3*time.Millisecond)
		inv.Total += 3 * time.Millisecond
		m.Observe(inv)
	}
	ks := m.key(key{"f", "rt", invoker.ABILoop})
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.drifts != 0 || ks.errEWMA > 0.1 {
		t.Errorf("3 ms of queue wait per call: %d drift resets, live error %.3f; want 0 and < 0.1", ks.drifts, ks.errEWMA)
	}
}

// An auto function's runtimes that get only exploration traffic are not
// prewarmed at the whole function's rate (review finding 5).
func TestPlanScalesByRuntimeShare(t *testing.T) {
	m := newTestModel(Config{MinIdle: 10 * time.Millisecond, MaxIdle: time.Minute})
	r := rand.New(rand.NewPCG(9, 10))
	truths := map[string]truth{
		"wasm-aot":    {execBase: 1, respRatio: 1},
		"wasm-interp": {execBase: 100, respRatio: 1},
		"container":   {execBase: 2, respRatio: 1},
	}
	seen := map[string]int{}
	at := t0
	for i := range 3000 {
		at = at.Add(20 * time.Millisecond)
		rt := "wasm-aot"
		switch i % 100 {
		case 0:
			rt = "wasm-interp"
		case 50:
			rt = "container"
		}
		var inv *invoker.Invocation
		if seen[rt] < 3 {
			inv = cold("f", rt, at, 300*time.Millisecond, time.Millisecond)
		} else {
			inv = truths[rt].warm(r, "f", rt, 1024, at)
		}
		seen[rt]++
		m.Observe(inv)
	}
	out := m.Plan(at, []gateway.PoolState{
		{Function: "f", Runtime: "wasm-aot", MaxInstances: 10},
		{Function: "f", Runtime: "wasm-interp", MaxInstances: 10},
		{Function: "f", Runtime: "container", MaxInstances: 10},
	})
	if out[0].MinWarm < 1 || out[1].MinWarm != 0 || out[2].MinWarm != 0 {
		t.Errorf("prewarm aot %d, interp %d, container %d; want aot >= 1 and none for the runtimes with 1%% of the calls",
			out[0].MinWarm, out[1].MinWarm, out[2].MinWarm)
	}
}

// wideSnapshot returns a snapshot of n keys (and n arrivals) whose every
// sketch holds two bins at the index bounds ±idx.
func wideSnapshot(t *testing.T, n, idx int) []byte {
	t.Helper()
	m := newTestModel(Config{})
	m.Observe(cold("f", "rt", t0, time.Millisecond, time.Millisecond))
	var s snapshot
	data, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	wide := func() sketchJSON { return sketchJSON{Index: []int{-idx, idx}, Count: []float64{1, 1}} }
	k := s.Keys[0]
	s.Keys, s.Arrivals = nil, nil
	for i := range n {
		k.Function = fmt.Sprintf("f%d", i)
		k.ColdTotal, k.ColdStart, k.Residual = wide(), wide(), wide()
		k.ColdPhases = map[string]sketchJSON{}
		for _, p := range coldPhases {
			k.ColdPhases[string(p)] = wide()
		}
		s.Keys = append(s.Keys, k)
		s.Arrivals = append(s.Arrivals, arrivalState{Function: k.Function, Interarrival: wide(), Samples: 2, MeanSeconds: 1})
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Snapshot imports are bounded: sketch indices, keys per snapshot and in
// the model, and sparse sketches do not cost dense memory (review finding 6).
func TestImportBounds(t *testing.T) {
	m := newTestModel(Config{})
	if err := m.Import(wideSnapshot(t, 1, 1600)); err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "1500") {
		t.Errorf("sketch index 1600: err %v, want ErrSnapshot naming the bound 1500", err)
	}
	if err := m.Import(wideSnapshot(t, maxKeys+1, 10)); err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "4096") {
		t.Errorf("%d keys: err %v, want ErrSnapshot naming the limit 4096", maxKeys+1, err)
	}
	// In the model overall: two imports of 3000 different keys each.
	if err := m.Import(wideSnapshot(t, 3000, 10)); err != nil {
		t.Fatal(err)
	}
	other := bytes.ReplaceAll(wideSnapshot(t, 3000, 10), []byte(`"function":"f`), []byte(`"function":"g`))
	if err := m.Import(other); err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "4096") {
		t.Errorf("6000 keys in the model: err %v, want ErrSnapshot naming the limit 4096", err)
	}

	// 1000 keys of wide two-bin sketches: about 11,000 sketches. Dense
	// stores would take 16 KiB each (170 MiB); sparse ones a few hundred bytes.
	data := wideSnapshot(t, 1000, 1500)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m2 := newTestModel(Config{})
	if err := m2.Import(data); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 40<<20 {
		t.Errorf("importing a %d KiB snapshot grew the heap by %d MiB, want < 40", len(data)>>10, grown>>20)
	}
	runtime.KeepAlive(m2)
}

// Forget drops a function's keys, arrivals and Choose state (review 8).
func TestForget(t *testing.T) {
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(15, 16))
	now := t0
	serve(m, r, "f", 100, 1024, []string{"wasm-aot", "wasm-interp"}, runtimes, &now)
	serve(m, r, "g", 50, 1024, []string{"wasm-aot"}, runtimes, &now)
	m.Forget("f")
	if _, ok := m.Function("f", 1024); ok {
		t.Error("Function(f) still answers after Forget")
	}
	if _, ok := m.Function("g", 1024); !ok {
		t.Error("Forget(f) dropped g")
	}
	data, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range s.Keys {
		if k.Function == "f" {
			t.Errorf("snapshot still has key %s on %s", k.Function, k.Runtime)
		}
	}
	for _, a := range s.Arrivals {
		if a.Function == "f" {
			t.Error("snapshot still has f's arrivals")
		}
	}
	// A redeploy with other candidates explores them afresh.
	counts := serve(m, r, "f", 20, 1024, []string{"container", "wasm-aot"}, runtimes, &now)
	if counts["container"] != 10 || counts["wasm-aot"] != 10 {
		t.Errorf("after Forget, exploration gave %v, want 10 each", counts)
	}
}

// Forget races Observe, Choose, Plan and Export (run under -race); other
// functions lose nothing.
func TestHammerForget(t *testing.T) {
	m := newTestModel(Config{})
	candidates := []string{"wasm-aot", "container"}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			now := t0
			for i := range 300 {
				fn := []string{"f", "g"}[i%2]
				rt := candidates[m.Choose(fn, 1024, candidates)]
				now = now.Add(time.Millisecond)
				m.Observe(runtimes[rt].warm(r, fn, rt, 1024, now))
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			m.Forget("f")
			m.Plan(t0, []gateway.PoolState{{Function: "f", Runtime: "wasm-aot", MaxInstances: 3}})
			if _, err := m.Export(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	doc, ok := m.Function("g", 1024)
	if !ok {
		t.Fatal("g unknown after the hammer")
	}
	var n int64
	for _, d := range doc.(FunctionDoc).Runtimes {
		n += d.Samples.Warm
	}
	if n != 6*150 {
		t.Errorf("g learned from %d invocations, want %d", n, 6*150)
	}
}

// Replace is idempotent and drops what the snapshot lacks; Import merges
// (review 10).
func TestReplace(t *testing.T) {
	src := newTestModel(Config{})
	r := rand.New(rand.NewPCG(17, 18))
	now := t0
	serve(src, r, "f", 100, 1024, []string{"wasm-aot"}, runtimes, &now)
	snap, err := src.Export()
	if err != nil {
		t.Fatal(err)
	}
	warmOf := func(m *Model, fn string) int64 {
		doc, ok := m.Function(fn, 1024)
		if !ok {
			return -1
		}
		var n int64
		for _, d := range doc.(FunctionDoc).Runtimes {
			n += d.Samples.Warm
		}
		return n
	}
	m := newTestModel(Config{})
	serve(m, r, "g", 20, 1024, []string{"wasm-aot"}, runtimes, &now)
	for range 2 {
		if err := m.Replace(snap); err != nil {
			t.Fatal(err)
		}
	}
	if got := warmOf(m, "f"); got != 100 {
		t.Errorf("after replacing twice: f has %d warm samples, want 100", got)
	}
	if got := warmOf(m, "g"); got != -1 {
		t.Errorf("after replacing: g (not in the snapshot) has %d warm samples, want none", got)
	}
	if err := m.Import(snap); err != nil {
		t.Fatal(err)
	}
	if got := warmOf(m, "f"); got != 200 {
		t.Errorf("after a merge: f has %d warm samples, want 200", got)
	}
	if err := m.Replace([]byte(`{"version":99}`)); err == nil || warmOf(m, "f") != 200 {
		t.Errorf("a bad snapshot: err %v, f has %d warm samples; want an error and the model unchanged", err, warmOf(m, "f"))
	}
}

// ReexploreError is compared with the capped drift signal, below 1:
// Validate rejects 1 and more, and New does not let such a setting disable
// re-exploration (review 11).
func TestReexploreErrorBound(t *testing.T) {
	for _, v := range []float64{1, 1.5, -0.1} {
		if err := (Config{ReexploreError: v}).Validate(); err == nil || !strings.Contains(err.Error(), "ReexploreError") {
			t.Errorf("ReexploreError %v: Validate() = %v, want an error naming it", v, err)
		}
	}
	if err := (Config{ReexploreError: 0.3}).Validate(); err != nil {
		t.Errorf("ReexploreError 0.3: %v", err)
	}
	m := newTestModel(Config{ReexploreError: 1.5})
	r := rand.New(rand.NewPCG(13, 14))
	candidates := []string{"a", "b"}
	fast := truth{execBase: 1, ioBase: 0.1, overBase: 0.05, respRatio: 1, noise: 0.05}
	slow := truth{execBase: 3, ioBase: 0.1, overBase: 0.05, respRatio: 1, noise: 0.05}
	truths := map[string]truth{"a": fast, "b": slow}
	now := t0
	serve(m, r, "f", 300, 1024, candidates, truths, &now)
	broken := fast
	broken.execBase = 10
	truths["a"] = broken
	if counts := serve(m, r, "f", 600, 1024, candidates, truths, &now); counts["b"] < 450 {
		t.Errorf("ReexploreError 1.5 (out of range, so the default): after a's slowdown %v, want b chosen most of the time", counts)
	}
}

// Choose's round-robin counter wraps past 2^31 without a negative index
// (where int has 32 bits: GOARCH=386 or arm) (review 14).
func TestChooseCounterWraps(t *testing.T) {
	m := newTestModel(Config{})
	candidates := []string{"a", "b", "c"}
	m.Choose("f", 1024, candidates)
	for _, v := range []uint32{math.MaxInt32 - 1, math.MaxUint32 - 1} {
		m.fn("f").choice[0].rr.Store(v)
		for range 4 {
			if i := m.Choose("f", 1024, candidates); i < 0 || i >= len(candidates) {
				t.Fatalf("counter at %d: Choose = %d", v, i)
			}
		}
	}
}
