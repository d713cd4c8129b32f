package bench

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// minRunsForCI is the fewest runs whose means give the confidence interval:
// with two, Student's t (12.7) makes it too wide to say anything, so fewer
// runs use the samples.
const minRunsForCI = 3

// summarize computes Stats of the samples of every run (milliseconds),
// pooled; the confidence interval of the mean comes from the runs' means,
// centred on their mean, when at least minRunsForCI runs have samples, else
// from the samples, centred on the pooled mean.
func summarize(runs [][]float64) Stats {
	var all, means []float64
	for _, r := range runs {
		if len(r) == 0 {
			continue
		}
		all = append(all, r...)
		means = append(means, stat.Mean(r, nil))
	}
	if len(all) == 0 {
		return Stats{}
	}
	slices.Sort(all)
	s := Stats{
		N:    len(all),
		Mean: stat.Mean(all, nil),
		P50:  stat.Quantile(0.50, stat.Empirical, all, nil),
		P95:  stat.Quantile(0.95, stat.Empirical, all, nil),
		P99:  stat.Quantile(0.99, stat.Empirical, all, nil),
		Min:  all[0],
		Max:  all[len(all)-1],
	}
	basis, centre := all, s.Mean
	if len(means) >= minRunsForCI {
		// Centred on the mean of the means it is computed from: with runs of
		// different sizes the pooled mean lies elsewhere.
		basis, centre = means, stat.Mean(means, nil)
	}
	half := ciHalfWidth(basis)
	s.CILow, s.CIHigh = centre-half, centre+half
	return s
}

// ciHalfWidth is the half width of a 95% confidence interval of the mean
// of xs (Student's t); 0 for fewer than two values.
func ciHalfWidth(xs []float64) float64 {
	n := len(xs)
	if n < 2 {
		return 0
	}
	_, sd := stat.MeanStdDev(xs, nil)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return t * sd / math.Sqrt(float64(n))
}
