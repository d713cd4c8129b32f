package model

import (
	"fmt"
	"math"
	"math/bits"
)

// Size classes: the warm p50 is predicted from the medians of the latest
// warm latencies per class of request sizes (powers of two), joined by
// straight lines. The regressions fit a mean, which heavy tails and early
// outliers pull away from the median; a median of recent samples does not
// move for them.
const (
	// sizeClasses: requests under 1 KiB, then [2^(c-1), 2^c) KiB for class
	// c, the last one open-ended (16 MiB and more).
	sizeClasses = 16
	// classWindow is how many of its latest warm samples a class keeps: a
	// change of behaviour moves its median within half of it.
	classWindow = 32
	// classMin is the sample count from which a class's median is used.
	classMin = 5
)

// classOf returns the size class of a request of reqBytes.
func classOf(reqBytes float64) int {
	switch {
	case !(reqBytes >= 0):
		return 0
	case reqBytes >= 1<<40: // and +Inf: past what uint64 conversion keeps
		return sizeClasses - 1
	}
	return min(bits.Len64(uint64(reqBytes)>>10), sizeClasses-1)
}

// sizeClass keeps the latest warm samples of one class of request sizes,
// and the same latencies sorted, so that the median costs nothing to read
// and an update two binary searches and two short moves (no sort). Not
// safe for concurrent use.
type sizeClass struct {
	lat    [classWindow]float64 // served latency in ms, at one call in flight; a ring
	size   [classWindow]float64 // request MiB, alongside
	sorted [classWindow]float64 // lat[:count()], sorted
	n      int64                // samples added; the ring holds min(n, classWindow)
	sum    float64              // of size[:count()]
}

func (c *sizeClass) count() int { return int(min(c.n, classWindow)) }

func (c *sizeClass) add(latMs, sizeMiB float64) {
	k := c.count()
	i := int(c.n % classWindow)
	if k == classWindow { // the ring is full: the oldest sample leaves
		j := searchSorted(c.sorted[:k], c.lat[i])
		copy(c.sorted[j:k-1], c.sorted[j+1:k])
		k--
		c.sum -= c.size[i]
	}
	j := searchSorted(c.sorted[:k], latMs)
	copy(c.sorted[j+1:k+1], c.sorted[j:k])
	c.sorted[j] = latMs
	c.lat[i], c.size[i] = latMs, sizeMiB
	c.n++
	c.sum += sizeMiB
	if c.n%classWindow == 0 { // against rounding drift in the running sum
		c.sum = 0
		for _, v := range c.size {
			c.sum += v
		}
	}
}

// searchSorted returns the first index of s whose value is not below v.
func searchSorted(s []float64, v float64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// point returns the class's mean request MiB and median latency; the class
// has at least one sample.
func (c *sizeClass) point() (x, y float64) {
	k := c.count()
	y = c.sorted[k/2]
	if k%2 == 0 {
		y = (c.sorted[k/2-1] + c.sorted[k/2]) / 2
	}
	return c.sum / float64(k), y
}

// ordered returns the class's samples oldest first.
func (c *sizeClass) ordered() (lat, size []float64) {
	k := c.count()
	start := 0
	if c.n > classWindow {
		start = int(c.n % classWindow)
	}
	for i := range k {
		j := (start + i) % classWindow
		lat = append(lat, c.lat[j])
		size = append(size, c.size[j])
	}
	return lat, size
}

// point is one size class's mean request MiB and median latency (ms).
type point struct{ x, y float64 }

// curve predicts the p50 at x (request MiB) from pts, the points of the
// classes with classMin samples or more, in class order (so by size): on
// the straight line between the two points around x; below the first, along
// the first segment (never below zero); above the last, along the last
// segment. A slope is never negative there: a decreasing one is noise,
// which extrapolated far would predict less than nothing. With one point,
// reg (the regressions' prediction, ms, as a function of MiB; nil when it
// has none) gives the shape through it.
func curve(pts []point, x float64, reg func(float64) float64) float64 {
	switch len(pts) {
	case 0:
		return math.NaN()
	case 1:
		p := pts[0]
		if reg != nil {
			if a, b := reg(p.x), reg(x); a > 0 && b > 0 {
				return p.y * b / a
			}
		}
		return p.y
	}
	slope := func(a, b point) float64 {
		if s := (b.y - a.y) / (b.x - a.x); s > 0 && !math.IsInf(s, 1) {
			return s
		}
		return 0 // decreasing, equal sizes, or not a number
	}
	along := func(p point, s float64) float64 {
		if s == 0 {
			return p.y
		}
		return math.Max(0, p.y+s*(x-p.x))
	}
	if x <= pts[0].x {
		return along(pts[0], slope(pts[0], pts[1]))
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if x <= b.x {
			if b.x <= a.x {
				return b.y
			}
			return a.y + (b.y-a.y)*(x-a.x)/(b.x-a.x)
		}
	}
	n := len(pts)
	return along(pts[n-1], slope(pts[n-2], pts[n-1]))
}

// sizeClassJSON is a size class in a snapshot: its samples, oldest first.
type sizeClassJSON struct {
	Class     int       `json:"class"`
	LatencyMs []float64 `json:"latency_ms"`
	SizeMiB   []float64 `json:"size_mib"`
}

// checkSizeClasses validates a snapshot's size classes.
func checkSizeClasses(field string, cs []sizeClassJSON) error {
	var seen [sizeClasses]bool
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case c.Class < 0 || c.Class >= sizeClasses:
			return fmt.Errorf("%s.class: %d is not in [0, %d)", f, c.Class, sizeClasses)
		case seen[c.Class]:
			return fmt.Errorf("%s.class: %d appears twice", f, c.Class)
		case len(c.LatencyMs) != len(c.SizeMiB):
			return fmt.Errorf("%s: %d latencies for %d sizes", f, len(c.LatencyMs), len(c.SizeMiB))
		case len(c.LatencyMs) > classWindow:
			return fmt.Errorf("%s: %d samples, at most %d", f, len(c.LatencyMs), classWindow)
		}
		seen[c.Class] = true
		for j := range c.LatencyMs {
			if v := c.LatencyMs[j]; !finite(v) || v < 0 {
				return fmt.Errorf("%s.latency_ms[%d]: not a finite non-negative number", f, j)
			}
			if v := c.SizeMiB[j]; !finite(v) || v < 0 {
				return fmt.Errorf("%s.size_mib[%d]: not a finite non-negative number", f, j)
			} else if classOf(v*(1<<20)) != c.Class {
				// curve needs the classes' sizes in class order.
				return fmt.Errorf("%s.size_mib[%d]: %g MiB is not in class %d", f, j, v, c.Class)
			}
		}
	}
	return nil
}
