package model

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/lumos-edge/lumos/gateway"
)

// Keep-alive policy constants (RATIONALE.md).
const (
	// minArrivals: fewer inter-arrival samples make a function "unknown".
	minArrivals = 10
	// costlyRatio: prewarming pays when a cold invocation takes at least
	// this many times a warm one.
	costlyRatio = 2
	// periodicSpread: long-gap arrivals whose p99/p5 inter-arrival ratio is
	// at most this are periodic (predictable).
	periodicSpread = 3
	// minShare: a runtime with a smaller share of its function's recent
	// calls (an "auto" function's runtime that gets only exploration
	// traffic) is not prewarmed.
	minShare = 0.1
	// burstCover multiplies IdleMargin for the gap quantile a bursty
	// function's idle timeout covers: random gaps inside a burst are
	// exponential-like, and 1.5 × their p95 (4.5 mean gaps) still let about
	// 1% of them cold-start a new instance (BenchmarkKeepAlive: 12-13 cold
	// starts on the bursty function against 7-8 for a fixed timeout);
	// 3 × p95 lets about 0.01% through, for an idle tail twice as long
	// after each burst (TestPlanBurstyCoversRandomGaps).
	burstCover = 2
)

// Arrival kinds of a keep-alive plan.
const (
	arrivalUnknown  = "unknown"
	arrivalSteady   = "steady"
	arrivalPeriodic = "periodic"
	arrivalBursty   = "bursty"
	arrivalSparse   = "sparse"
)

// arrivals summarizes a function's arrival process.
type arrivals struct {
	n                  int64
	p5, p50, p99, mean float64 // inter-arrival, seconds
	last               time.Time
}

func (f *fnState) arrivals() arrivals {
	f.mu.Lock()
	defer f.mu.Unlock()
	return arrivals{n: f.interN, p5: quantile(f.inter, 0.05), p50: quantile(f.inter, 0.5), p99: quantile(f.inter, 0.99),
		mean: f.meanInter, last: f.last}
}

// interQuantile returns the function's q-quantile inter-arrival, seconds.
func (f *fnState) interQuantile(q float64) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return quantile(f.inter, q)
}

// runtimeShare is runtime's share of the function's recent calls: 1 when
// it is the function's only runtime so far.
func (f *fnState) runtimeShare(runtime string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.share) <= 1 {
		return 1
	}
	var sum, mine float64
	for _, s := range f.share {
		sum += s.share
		if s.runtime == runtime {
			mine = s.share
		}
	}
	if !(sum > 0) {
		return 1
	}
	return mine / sum
}

// plan is a keep-alive decision for one function on one runtime, with why.
type plan struct {
	kind    string
	idle    time.Duration
	prewarm int
	benefit float64 // cold seconds avoided per second per byte of instance memory
	mem     float64 // bytes per instance
	reason  string
}

// runtimeCosts are what keep-alive needs from a function's runtime.
type runtimeCosts struct {
	coldS, warmS float64 // p50, seconds; 0 when unknown
	mem          float64 // bytes per instance
	share        float64 // of the function's recent calls that run here, in [0, 1]
}

func (m *Model) costs(f *fnState, runtime string) runtimeCosts {
	c := runtimeCosts{mem: DefaultInstanceMemory, share: 1}
	ks := (*f.byRuntime.Load())[runtime]
	if ks == nil {
		return c
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	c.coldS = quantile(ks.coldTotal, 0.5)
	if ks.exec.n > 0 {
		ks.fresh()
		c.warmS = ks.predictMs(ks.reqEWMA, 1) / 1e3
	}
	if ks.memN > 0 {
		c.mem = ks.memEWMA
	}
	return c
}

func (m *Model) clampIdle(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return min(max(d, m.cfg.MinIdle), m.cfg.MaxIdle)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// planFor decides a function's idle timeout and prewarm count at now, in
// the spirit of the hybrid histogram policy of "Serverless in the Wild"
// (Shahrad et al., ATC'20).
func (m *Model) planFor(f *fnState, a arrivals, c runtimeCosts, now time.Time) plan {
	p := plan{mem: c.mem}
	costly := c.coldS > 0 && c.coldS >= costlyRatio*c.warmS && c.share >= minShare
	maxIdle := m.cfg.MaxIdle.Seconds()
	switch {
	case a.n < minArrivals:
		p.kind, p.idle = arrivalUnknown, m.cfg.DefaultIdle
		p.reason = fmt.Sprintf("only %d inter-arrival times seen (fewer than %d), so the default idle timeout of %v applies", a.n, minArrivals, p.idle)
	case a.p99 <= maxIdle:
		p.kind, p.idle = arrivalSteady, m.clampIdle(seconds(a.p99*m.cfg.IdleMargin))
		rate := c.share / math.Max(a.mean, 1e-9)
		active := now.Sub(a.last) <= p.idle
		if costly && active {
			p.prewarm = int(math.Ceil(rate * c.warmS))
			p.benefit = c.coldS * rate / c.mem
		}
		p.reason = fmt.Sprintf("steady arrivals (p99 inter-arrival %s, %.3g/s) keep it idle %v", fmtSeconds(a.p99), rate, p.idle)
		if p.prewarm > 0 {
			p.reason += fmt.Sprintf(" and, with a cold start of %s against %s warm, prewarm %d (rate × warm latency)", fmtSeconds(c.coldS), fmtSeconds(c.warmS), p.prewarm)
		}
	case a.p5 >= m.cfg.MinIdle.Seconds() && a.p99 <= periodicSpread*a.p5:
		p.kind, p.idle = arrivalPeriodic, m.cfg.MinIdle
		lead := c.coldS + 2*m.cfg.MinIdle.Seconds()
		from, to := a.last.Add(seconds(a.p5-lead)), a.last.Add(seconds(a.p99))
		inWindow := !now.Before(from) && !now.After(to)
		if costly && inWindow {
			p.prewarm = 1
			p.benefit = c.coldS / math.Max(a.p50, 1e-9) / c.mem
		}
		p.reason = fmt.Sprintf("periodic arrivals every %s to %s (p5-p99) keep it idle only %v and prewarm %d", fmtSeconds(a.p5), fmtSeconds(a.p99), p.idle, p.prewarm)
		if costly {
			p.reason += fmt.Sprintf(" inside the window before the next predicted arrival (cold start %s)", fmtSeconds(c.coldS))
		}
	default:
		// Bursty: cover the gaps inside a burst, not those between bursts.
		var q, gap float64
		for _, qq := range [...]float64{0.95, 0.9, 0.75, 0.5} {
			if g := f.interQuantile(qq); g <= maxIdle {
				q, gap = qq, g
				break
			}
		}
		if q == 0 {
			p.kind, p.idle = arrivalSparse, m.cfg.MinIdle
			p.reason = fmt.Sprintf("sparse irregular arrivals (median inter-arrival %s beyond the %v maximum idle) are not worth keeping warm: idle %v", fmtSeconds(a.p50), m.cfg.MaxIdle, p.idle)
			break
		}
		p.kind, p.idle = arrivalBursty, m.clampIdle(seconds(gap*m.cfg.IdleMargin*burstCover))
		rate := c.share / math.Max(a.mean, 1e-9)
		if costly && now.Sub(a.last) <= p.idle {
			p.prewarm = int(math.Ceil(rate * c.warmS))
			p.benefit = c.coldS * rate / c.mem
		}
		p.reason = fmt.Sprintf("bursty arrivals (p%.0f inter-arrival %s, p99 %s) keep it idle %v within a burst and prewarm %d", q*100, fmtSeconds(gap), fmtSeconds(a.p99), p.idle, p.prewarm)
	}
	return p
}

// Plan decides each adaptive pool's idle timeout and prewarm count
// (gateway.KeepAlive). A pool's prewarm count follows its runtime's share
// of the function's recent calls (an "auto" function's runtimes share its
// arrivals); a runtime with less than a tenth of them is not prewarmed.
// Prewarmed instances of all pools together stay within
// Config.MemoryBudget, granted to the pools that avoid the most cold-start
// time per byte first.
func (m *Model) Plan(now time.Time, pools []gateway.PoolState) []gateway.PoolPlan {
	out := make([]gateway.PoolPlan, len(pools))
	plans := make([]plan, len(pools))
	for i, ps := range pools {
		f := m.fn(ps.Function)
		c := m.costs(f, ps.Runtime)
		c.share = f.runtimeShare(ps.Runtime)
		plans[i] = m.planFor(f, f.arrivals(), c, now)
		out[i].IdleTimeout = plans[i].idle
		out[i].MinWarm = min(plans[i].prewarm, max(ps.MaxInstances, 0))
	}
	if m.cfg.MemoryBudget <= 0 {
		return out
	}
	order := make([]int, len(pools))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return plans[order[a]].benefit > plans[order[b]].benefit })
	left := float64(m.cfg.MemoryBudget)
	for _, i := range order {
		fit := int(left / plans[i].mem)
		out[i].MinWarm = max(0, min(out[i].MinWarm, fit))
		left -= float64(out[i].MinWarm) * plans[i].mem
	}
	return out
}

// fmtSeconds prints a duration in seconds with a readable unit.
func fmtSeconds(s float64) string {
	d := seconds(s)
	switch {
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(100 * time.Nanosecond)
	}
	return d.String()
}
