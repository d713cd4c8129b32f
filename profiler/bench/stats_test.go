package bench

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

func TestSummarize(t *testing.T) {
	s := summarize([][]float64{{3, 1, 2}, {6, 5, 4}})
	if s.N != 6 || !near(s.Mean, 3.5) || s.Min != 1 || s.Max != 6 {
		t.Fatalf("stats %+v", s)
	}
	// Empirical quantiles of 1..6: p50 is 3, p95 and p99 are 6.
	if s.P50 != 3 || s.P95 != 6 || s.P99 != 6 {
		t.Errorf("quantiles %+v", s)
	}
	// Two runs, means 2 and 5: sd 2.1213, t(0.975, 1 df) 12.7062.
	half := 12.7062 * 2.12132 / math.Sqrt2
	if !near(s.CIHigh-s.Mean, half) || !near(s.Mean-s.CILow, half) {
		t.Errorf("CI [%v, %v], want mean ± %v", s.CILow, s.CIHigh, half)
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
