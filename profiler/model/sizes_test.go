package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestClassOf(t *testing.T) {
	for _, tt := range []struct {
		bytes float64
		want  int
	}{
		{0, 0}, {1023, 0}, {1 << 10, 1}, {2047, 1}, {2 << 10, 2}, {16 << 10, 5},
		{64 << 10, 7}, {256 << 10, 9}, {1 << 20, 11}, {16 << 20, 15}, {1 << 40, 15}, {-1, 0}, {math.NaN(), 0},
	} {
		if got := classOf(tt.bytes); got != tt.want {
			t.Errorf("classOf(%v) = %d, want %d", tt.bytes, got, tt.want)
		}
	}
}

func TestCurve(t *testing.T) {
	pts := []point{{1, 10}, {2, 20}, {4, 20}}
	for _, tt := range []struct {
		x, want float64
	}{
		{1, 10}, {1.5, 15}, {2, 20}, {3, 20}, {4, 20},
		{0.5, 5}, // below the first point, along the first segment
		{0, 0},   // never below zero
		{8, 20},  // the last segment is flat: so is what lies beyond
		{-1, 0},  // clamped
		{1.25, 12.5},
	} {
		if got := curve(pts, tt.x, nil); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("curve at %v = %v, want %v", tt.x, got, tt.want)
		}
	}
	// Beyond the last point, along the last segment's slope.
	if got := curve([]point{{1, 10}, {2, 12}}, 4, nil); math.Abs(got-16) > 1e-9 {
		t.Errorf("extrapolated %v, want 16", got)
	}
	// A decreasing last segment extrapolates flat, never lower.
	if got := curve([]point{{1, 10}, {2, 8}}, 10, nil); got != 8 {
		t.Errorf("after a decreasing segment: %v, want 8", got)
	}
	// One point: the regression's shape through it.
	reg := func(x float64) float64 { return 1 + x }
	if got := curve([]point{{1, 4}}, 3, reg); math.Abs(got-8) > 1e-9 {
		t.Errorf("one point with a regression: %v, want 8", got)
	}
	if got := curve([]point{{1, 4}}, 3, nil); got != 4 {
		t.Errorf("one point alone: %v, want 4", got)
	}
	if got := curve(nil, 3, nil); !math.IsNaN(got) {
		t.Errorf("no point: %v, want NaN", got)
	}
}

func TestSizeClassWindow(t *testing.T) {
	var c sizeClass
	for i := range 100 {
		c.add(float64(i), 1)
	}
	if c.count() != classWindow {
		t.Fatalf("count %d, want %d", c.count(), classWindow)
	}
	// The latest 32 are 68..99: median (83+84)/2.
	if _, y := c.point(); y != 83.5 {
		t.Errorf("median %v, want 83.5", y)
	}
	lat, _ := c.ordered()
	if lat[0] != 68 || lat[len(lat)-1] != 99 {
		t.Errorf("ordered from %v to %v, want 68 to 99", lat[0], lat[len(lat)-1])
	}
}

// warmCall is a warm invocation of reqBytes taking d.
func warmCall(fn string, reqBytes int, d time.Duration) *invoker.Invocation {
	inv := &invoker.Invocation{Function: fn, Runtime: "wasm-aot", ABI: invoker.ABILoop, Start: invoker.StartWarm,
		InFlight: 1, RequestBytes: reqBytes, ResponseBytes: 16, Total: d, Begin: time.Now()}
	inv.Phases.AddDuration(invoker.PhaseExecute, inv.Begin, d*9/10)
	return inv
}

// TestWarmP50IsTheMedianUnderHeavyTails: a quarter of the calls 5× slower
// and a 30× outlier among the first calls. The regressions' fit of a mean
// is pulled up by both; the predicted p50, at the trained sizes and between
// them, stays within 5% of the true median.
func TestWarmP50IsTheMedianUnderHeavyTails(t *testing.T) {
	m := New(Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	truth := func(n int) float64 { return 0.2 + 0.8*float64(n)/(1<<20) } // ms
	sizes := []int{1 << 10, 16 << 10, 256 << 10}
	m.Observe(warmCall("f", sizes[0], time.Duration(30*truth(sizes[0])*1e6)))
	for range 40 {
		for _, n := range sizes {
			v := truth(n) * (1 + 0.05*(rng.Float64()-0.5))
			if rng.IntN(4) == 0 {
				v *= 5
			}
			m.Observe(warmCall("f", n, time.Duration(v*1e6)))
		}
	}
	for _, n := range []int{1 << 10, 16 << 10, 64 << 10, 256 << 10} {
		d, _ := m.Function("f", n)
		got := d.(FunctionDoc).Runtimes[0].WarmP50Ms
		// The true median is truth(n) (75% of the calls are within ±2.5% of
		// it); at 64 KiB, between two classes, the line between them.
		if e := math.Abs(got-truth(n)) / truth(n); e > 0.05 {
			t.Errorf("p50 at %d bytes: %.3f ms, true median %.3f ms (%.0f%% off)", n, got, truth(n), 100*e)
		}
	}
}

// TestSizeClassesFollowAChange: the classes keep only their latest samples,
// so a 2× slowdown is in the predicted p50 within a class's half window.
func TestSizeClassesFollowAChange(t *testing.T) {
	m := New(Config{})
	for range 60 {
		m.Observe(warmCall("f", 4<<10, time.Millisecond))
	}
	for range classWindow/2 + 1 {
		m.Observe(warmCall("f", 4<<10, 2*time.Millisecond))
	}
	d, _ := m.Function("f", 4<<10)
	if got := d.(FunctionDoc).Runtimes[0].WarmP50Ms; math.Abs(got-2) > 0.1 {
		t.Errorf("p50 after the change: %.3f ms, want 2", got)
	}
}

// TestSizeClassesSurviveASnapshot: the classes go out with Export and come
// back with Import, so a restart predicts what it predicted before.
func TestSizeClassesSurviveASnapshot(t *testing.T) {
	m := New(Config{})
	for i := range 200 {
		n := []int{1 << 10, 256 << 10}[i%2]
		d := time.Duration((0.1 + float64(n)/(1<<20)) * 1e6)
		if i%7 == 0 {
			d *= 4
		}
		m.Observe(warmCall("f", n, d))
	}
	data, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"sizes"`) {
		t.Fatalf("no size classes in the snapshot")
	}
	m2 := New(Config{})
	if err := m2.Import(data); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20} {
		a, _ := m.Function("f", n)
		b, _ := m2.Function("f", n)
		pa, pb := a.(FunctionDoc).Runtimes[0].WarmP50Ms, b.(FunctionDoc).Runtimes[0].WarmP50Ms
		if math.Abs(pa-pb) > 1e-9*pa {
			t.Errorf("p50 at %d bytes: %.6f before the snapshot, %.6f after", n, pa, pb)
		}
	}
	// The lock-free path (Choose) reads the same classes.
	ks := m2.key(key{"f", "wasm-aot", invoker.ABILoop})
	if got, want := ks.predictFast(64<<10, true), ks.predictMs(64<<10, 1); math.Abs(got-want) > 1e-9*want {
		t.Errorf("predictFast %.6f, predictMs %.6f", got, want)
	}
}

// TestSizeClassMedianMatchesASort: the class's kept-sorted latencies give
// the median of its latest samples, whatever their order and repeats.
func TestSizeClassMedianMatchesASort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var c sizeClass
	var all, sizes []float64
	for i := range 500 {
		v := float64(rng.IntN(20)) // many repeats
		if i%50 == 0 {
			v = math.Inf(1) // an extreme value enters and leaves
		}
		all = append(all, v)
		sz := rng.Float64()
		sizes = append(sizes, sz)
		c.add(v, sz)
		win := all[max(0, len(all)-classWindow):]
		s := slices.Sorted(slices.Values(win))
		want := s[len(s)/2]
		if len(s)%2 == 0 {
			want = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		var sum float64
		for _, z := range sizes[max(0, len(sizes)-classWindow):] {
			sum += z
		}
		x, got := c.point()
		if got != want {
			t.Fatalf("after %d samples: median %v, want %v", i+1, got, want)
		}
		if math.Abs(x-sum/float64(len(win))) > 1e-9 {
			t.Fatalf("after %d samples: mean size %v, want %v", i+1, x, sum/float64(len(win)))
		}
	}
}

// TestCurveEdges: equal sizes, and infinite values, give finite or
// infinite answers, never NaN.
func TestCurveEdges(t *testing.T) {
	for _, tt := range []struct {
		name string
		pts  []point
		x    float64
	}{
		{"equal sizes", []point{{1, 10}, {1, 20}}, 1},
		{"equal sizes, beyond", []point{{1, 10}, {1, 20}}, 3},
		{"equal sizes, below", []point{{1, 10}, {1, 20}}, 0.5},
		{"infinite latency beyond a flat segment", []point{{1, math.Inf(1)}, {2, math.Inf(1)}}, 4},
		{"infinite x", []point{{1, 10}, {2, 20}}, math.Inf(1)},
	} {
		if got := curve(tt.pts, tt.x, nil); math.IsNaN(got) {
			t.Errorf("%s: NaN", tt.name)
		}
	}
}

// TestInflightCostIsNeverNegative: a negative in-flight coefficient (noise)
// must not inflate what a class stores of a call at many in flight.
func TestInflightCostIsNeverNegative(t *testing.T) {
	m := New(Config{})
	m.Observe(warmCall("f", 4<<10, time.Millisecond))
	ks := m.key(key{"f", "wasm-aot", invoker.ABILoop})
	ks.mu.Lock()
	ks.exec.theta[3] = -0.01 // ms per other call in flight
	got := ks.inflightMs(33)
	ks.mu.Unlock()
	if got != 0 {
		t.Fatalf("in-flight cost %v ms at 33 in flight with a negative coefficient, want 0", got)
	}
	for range classMin {
		inv := warmCall("f", 4<<10, time.Millisecond)
		inv.InFlight = 33
		m.Observe(inv)
	}
	ks.mu.Lock()
	_, y := ks.sizes[classOf(4<<10)].point()
	ks.mu.Unlock()
	if y > 1.0001 {
		t.Errorf("class median %v ms for calls of 1 ms", y)
	}
}

// TestDriftResetKeepsSizeClasses: a drift reset (a 10× slowdown at one
// size) keeps what the other sizes taught, and the slowed size's p50
// follows its own calls.
func TestDriftResetKeepsSizeClasses(t *testing.T) {
	m := New(Config{})
	for i := range 200 {
		n := []int{1 << 10, 256 << 10}[i%2]
		m.Observe(warmCall("f", n, time.Duration(1+3*(n>>18))*time.Millisecond))
	}
	ks := m.key(key{"f", "wasm-aot", invoker.ABILoop})
	for range 100 {
		m.Observe(warmCall("f", 1<<10, 10*time.Millisecond))
	}
	if ks.drifts == 0 {
		t.Fatal("no drift reset after 100 calls 10x slower")
	}
	for _, tt := range []struct {
		bytes int
		want  float64
	}{{1 << 10, 10}, {256 << 10, 4}} {
		d, _ := m.Function("f", tt.bytes)
		if got := d.(FunctionDoc).Runtimes[0].WarmP50Ms; math.Abs(got-tt.want) > 0.05*tt.want {
			t.Errorf("p50 at %d bytes after the reset: %.3f ms, want %.0f", tt.bytes, got, tt.want)
		}
	}
}

// TestMergeKeepsTheRicherClasses: an import whose regressions have fewer
// samples than the model's leaves the model's size classes as they are.
func TestMergeKeepsTheRicherClasses(t *testing.T) {
	small := New(Config{})
	for range 10 {
		small.Observe(warmCall("f", 4<<10, 9*time.Millisecond))
	}
	data, err := small.Export()
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{})
	for range 100 {
		m.Observe(warmCall("f", 4<<10, time.Millisecond))
	}
	if err := m.Import(data); err != nil {
		t.Fatal(err)
	}
	d, _ := m.Function("f", 4<<10)
	if got := d.(FunctionDoc).Runtimes[0].WarmP50Ms; math.Abs(got-1) > 0.01 {
		t.Errorf("p50 %.3f ms after merging a poorer snapshot, want the model's 1", got)
	}
}

// TestNewSizeIsNotDrift: traffic moving to a size never seen, slower as
// larger sizes are, is no drift, even where noise already raised the
// drift signal: the first calls at the new size are the extrapolation's
// misses.
func TestNewSizeIsNotDrift(t *testing.T) {
	m := New(Config{})
	for i := range 200 {
		d := time.Millisecond
		if i%2 == 1 {
			d = 2 * time.Millisecond // noise: the drift signal near 0.37
		}
		m.Observe(warmCall("f", 1<<10, d))
	}
	ks := m.key(key{"f", "wasm-aot", invoker.ABILoop})
	for range 10 {
		m.Observe(warmCall("f", 1<<20, 10*time.Millisecond))
	}
	if ks.drifts != 0 {
		t.Errorf("%d drift resets for a new size", ks.drifts)
	}
}
