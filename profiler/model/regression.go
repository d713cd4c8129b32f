package model

import (
	"fmt"
	"math"
)

// dims is the number of features of the latency regressions:
// [1, request MiB, response MiB, in flight - 1].
const dims = 4

// ridge is the regularization of the normal equations, relative to the
// information matrix's trace: directions the traffic never excites (a
// constant in-flight count, response bytes that always follow request
// bytes) get a coefficient of 0 instead of an arbitrary one. The intercept
// (feature 0, always 1) is not regularized: a feature collinear with it (a
// steady in-flight count above one) must not take a share of the constant
// latency, or every prediction at one in flight is too low.
const ridge = 1e-9

// robustAfter is the sample count (since the start or a drift reset) after
// which an update's relative residual is clipped to ±robustClip: past the first samples, one slow outlier (a GC
// pause, a noisy neighbour's burst) moves the fit no more than a 50% error.
const (
	robustAfter = 20
	robustClip  = 0.5
)

// minScaled is the sample count from which samples are scaled by the
// prediction rather than by the observation.
const minScaled = 3

// ewls is an exponentially weighted least-squares regression on its first
// k (<= dims) features, updated recursively in information form: a and b
// accumulate Σ λ^age w z zᵀ and Σ λ^age w z y, and θ solves (a + εI) θ = b
// after each update. It is recursive least squares with forgetting (the
// same estimate), but the information form cannot wind up: directions that
// no sample excites decay in a instead of blowing up the covariance P = a⁻¹.
// Not safe for concurrent use.
type ewls struct {
	k     int
	theta [dims]float64
	a     [dims][dims]float64
	b     [dims]float64
	n     int64 // samples seen
	stale bool  // θ does not include the latest samples yet
	clip  int64 // residuals are clipped from this sample count on
}

// solveEvery: past the first solveAlways samples, θ is solved again every
// solveEvery samples (and on demand, see fresh). With λ near 1 it moves
// little in between; solving is most of Observe's cost.
const (
	solveAlways = 32
	solveEvery  = 4
)

func newEWLS(k int) ewls { return ewls{k: k, clip: robustAfter} }

// predict returns x·θ.
func (r *ewls) predict(x *[dims]float64) float64 {
	var s float64
	for i := range r.k {
		s += x[i] * r.theta[i]
	}
	return s
}

// updateRelative adds the sample (x, y), y > 0, fitted on relative error:
// it enters scaled by s, the current prediction at x (y itself for the
// first samples), as (x/s, y/s); this minimizes Σ λ^age ((y - x·θ)/s)², so
// a 1 KiB call counts as much as a 1 MiB one. Scaling by the prediction
// rather than by y keeps a slow sample's weight that of a fast one at the
// same size: after a jump in latency the new samples are not discounted.
func (r *ewls) updateRelative(x *[dims]float64, y, lambda float64) {
	if !(y > 0) || math.IsInf(y, 0) {
		return
	}
	s := y
	if r.n >= minScaled {
		if p := r.predict(x); p > 0 {
			s = p
		}
	}
	var z [dims]float64
	for i := range r.k {
		z[i] = x[i] / s
	}
	// Past the first samples the relative residual (y - ŷ)/s is clipped to
	// ±robustClip.
	target := y / s
	if r.n >= r.clip {
		fit := r.predict(&z)
		target = fit + math.Max(-robustClip, math.Min(robustClip, target-fit))
	}
	r.add(&z, target, lambda)
}

// update adds the sample (x, y) on absolute error.
func (r *ewls) update(x *[dims]float64, y, lambda float64) {
	if !finite(y) {
		return
	}
	r.add(x, y, lambda)
}

func (r *ewls) add(z *[dims]float64, y, lambda float64) {
	for i := range r.k {
		for j := range r.k {
			r.a[i][j] = lambda*r.a[i][j] + z[i]*z[j]
		}
		r.b[i] = lambda*r.b[i] + z[i]*y
	}
	r.n++
	r.stale = true
	if r.n < solveAlways || r.n%solveEvery == 0 {
		r.solve()
	}
}

// fresh solves θ if samples arrived since the last solve.
func (r *ewls) fresh() {
	if r.stale {
		r.solve()
	}
}

// shrink scales the accumulated weight by f in (0, 1]: θ stays, but the
// next samples weigh 1/f times more against the past.
// The next unclipped samples are not clipped: they are the new behaviour.
func (r *ewls) shrink(f float64, unclipped int64) {
	r.clip = r.n + unclipped
	for i := range r.k {
		for j := range r.k {
			r.a[i][j] *= f
		}
		r.b[i] *= f
	}
}

// solve sets θ from a and b by Cholesky; it keeps θ when the system is
// degenerate.
func (r *ewls) solve() {
	k := r.k
	var tr float64
	for i := range k {
		tr += r.a[i][i]
	}
	eps := ridge*tr + 1e-300
	var l [dims][dims]float64
	for i := range k {
		for j := 0; j <= i; j++ {
			s := r.a[i][j]
			if i == j && i > 0 {
				s += eps
			}
			for p := range j {
				s -= l[i][p] * l[j][p]
			}
			if i == j {
				if !(s > 0) {
					return
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	var y, x [dims]float64
	for i := range k {
		s := r.b[i]
		for p := range i {
			s -= l[i][p] * y[p]
		}
		y[i] = s / l[i][i]
	}
	for i := k - 1; i >= 0; i-- {
		s := y[i]
		for p := i + 1; p < k; p++ {
			s -= l[p][i] * x[p]
		}
		x[i] = s / l[i][i]
	}
	for i := range k {
		if !finite(x[i]) {
			return
		}
	}
	r.theta = x
	r.stale = false
}

// regressionJSON is a regression in a snapshot: θ, the information matrix
// a (row-major, k×k), the moment vector b and the sample count.
type regressionJSON struct {
	Theta   []float64 `json:"theta"`
	A       []float64 `json:"a"`
	B       []float64 `json:"b"`
	Samples int64     `json:"samples"`
}

func (r *ewls) export() regressionJSON {
	r.fresh()
	out := regressionJSON{Theta: append([]float64(nil), r.theta[:r.k]...), B: append([]float64(nil), r.b[:r.k]...), Samples: r.n}
	for i := range r.k {
		out.A = append(out.A, r.a[i][:r.k]...)
	}
	return out
}

// checkRegression validates a snapshot's regression of k features.
func checkRegression(field string, j regressionJSON, k int) error {
	if len(j.Theta) != k {
		return fmt.Errorf("%s.theta: %d coefficients, want %d", field, len(j.Theta), k)
	}
	if len(j.B) != k {
		return fmt.Errorf("%s.b: %d entries, want %d", field, len(j.B), k)
	}
	if len(j.A) != k*k {
		return fmt.Errorf("%s.a: %d entries, want a %dx%d matrix (%d)", field, len(j.A), k, k, k*k)
	}
	if j.Samples < 0 {
		return fmt.Errorf("%s.samples: negative (%d)", field, j.Samples)
	}
	for _, vs := range [...]struct {
		name string
		v    []float64
	}{{"theta", j.Theta}, {"a", j.A}, {"b", j.B}} {
		for i, v := range vs.v {
			if !finite(v) {
				return fmt.Errorf("%s.%s[%d]: not a finite number", field, vs.name, i)
			}
		}
	}
	for i := range k {
		if j.A[i*k+i] < 0 {
			return fmt.Errorf("%s.a[%d]: negative diagonal", field, i*k+i)
		}
		for p := range k {
			if j.A[i*k+p] != j.A[p*k+i] {
				return fmt.Errorf("%s.a: not symmetric at [%d][%d]", field, i, p)
			}
		}
	}
	return nil
}

func (r *ewls) load(j regressionJSON) {
	copy(r.theta[:], j.Theta)
	copy(r.b[:], j.B)
	for i := range r.k {
		copy(r.a[i][:r.k], j.A[i*r.k:(i+1)*r.k])
	}
	r.n = j.Samples
	r.clip = robustAfter
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
