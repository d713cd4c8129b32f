package bench

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

func TestSummarize(t *testing.T) {
	s := summarize([][]float64{{3, 1, 2}, {6, 5, 4}, {9, 8, 7}})
	if s.N != 9 || !near(s.Mean, 5) || s.Min != 1 || s.Max != 9 {
		t.Fatalf("stats %+v", s)
	}
	// Empirical quantiles of 1..9: p50 is 5, p95 and p99 are 9.
	if s.P50 != 5 || s.P95 != 9 || s.P99 != 9 {
		t.Errorf("quantiles %+v", s)
	}
	// Three runs, means 2, 5 and 8: sd 3, t(0.975, 2 df) 4.3027.
	half := 4.3027 * 3 / math.Sqrt(3)
	if !near(s.CIHigh-s.Mean, half) || !near(s.Mean-s.CILow, half) {
		t.Errorf("CI [%v, %v], want mean ± %v", s.CILow, s.CIHigh, half)
	}
	// Two runs: from the six samples, sd 1.8708, t(0.975, 5 df) 2.5706.
	two := summarize([][]float64{{3, 1, 2}, {6, 5, 4}})
	if h := two.CIHigh - two.Mean; !near(h, 2.5706*1.87083/math.Sqrt(6)) {
		t.Errorf("two-run CI half width %v", h)
	}

	one := summarize([][]float64{{10, 12, 14, 16}})
	// One run: from the samples, sd 2.582, t(0.975, 3 df) 3.1824.
	if h := one.CIHigh - one.Mean; !near(h, 3.1824*2.58199/2) {
		t.Errorf("one-run CI half width %v", h)
	}
	if z := summarize(nil); z != (Stats{}) {
		t.Errorf("no samples: %+v", z)
	}
	if z := summarize([][]float64{{7}, {}}); z.N != 1 || z.Mean != 7 || z.CILow != 7 || z.CIHigh != 7 {
		t.Errorf("one sample: %+v", z)
	}
}
