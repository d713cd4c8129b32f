package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// DefaultKeepAliveInterval is the default period of Config.KeepAlive's planning.
const DefaultKeepAliveInterval = time.Second

// KeepAlive plans the idle timeout and prewarm count of every pool whose
// deployment leaves them unset (adaptive keep-alive). The gateway calls Plan
// every Config.KeepAliveInterval (default 1 s) from one goroutine.
type KeepAlive interface {
	// Plan returns one PoolPlan per PoolState, same order.
	Plan(now time.Time, pools []PoolState) []PoolPlan
}

// PoolState describes one adaptive pool to KeepAlive.Plan.
type PoolState struct {
	Function, Runtime string
	MaxInstances      int           // the pool's cap; MinWarm must stay <= it
	IdleTimeout       time.Duration // current
	MinWarm           int           // current
	Instances         int           // starting + idle + busy now
}

// PoolPlan is KeepAlive's decision for one pool. A zero IdleTimeout keeps the
// current one; MinWarm is clamped to [0, MaxInstances] by the gateway.
type PoolPlan struct {
	IdleTimeout time.Duration
	MinWarm     int
}

// adaptivePool is one pool a planning round covers.
type adaptivePool struct {
	v    *version
	pool *pool.Pool[invoker.Instance]
}

// startTuner starts the keep-alive tuner when Config.KeepAlive is set.
func (g *Gateway) startTuner() {
	g.tunerDone = make(chan struct{})
	ctx, cancel := context.WithCancel(g.base)
	g.cancelTuner = cancel
	if g.cfg.KeepAlive == nil {
		close(g.tunerDone)
		return
	}
	go g.runTuner(ctx)
}

// runTuner plans every KeepAliveInterval until ctx ends.
func (g *Gateway) runTuner(ctx context.Context) {
	defer close(g.tunerDone)
	t := time.NewTicker(g.cfg.KeepAliveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.tune(now)
		}
	}
}

// waitTuner stops the tuner and waits for it, or for ctx.
func (g *Gateway) waitTuner(ctx context.Context) error {
	g.cancelTuner()
	select {
	case <-g.tunerDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tune runs one planning round: it collects the state of every adaptive
// pool, asks KeepAlive for a plan, and applies it to the pools still
// adaptive and current. A panic of the planner is logged, never fatal.
func (g *Gateway) tune(now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("keep-alive planner panicked", logKeyPanic, fmt.Sprint(r))
		}
	}()
	if g.closed.Load() {
		return // closing: the pools are being retired
	}
	targets, states := g.adaptivePools()
	if len(states) == 0 {
		return
	}
	plans := g.cfg.KeepAlive.Plan(now, states)
	if len(plans) != len(states) {
		g.log.Warn("keep-alive plan ignored: wrong length", "pools", len(states), "plans", len(plans))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return
	}
	for i, plan := range plans {
		t := targets[i]
		if t.v.pinned.Load() || g.current(t.v.name) != t.v {
			continue // scaled or replaced since the states were taken
		}
		cur := t.pool.Config()
		cfg := cur
		if plan.IdleTimeout > 0 {
			cfg.IdleTimeout = plan.IdleTimeout
		}
		cfg.MinWarm = min(max(plan.MinWarm, 0), cfg.MaxInstances)
		if cfg.MinWarm == cur.MinWarm && within(cfg.IdleTimeout, cur.IdleTimeout, idleTolerance) {
			cfg.IdleTimeout = cur.IdleTimeout // a drift of the plan, not a new one
		}
		if cfg == cur {
			continue // SetConfig would reset the pool's start backoff for nothing
		}
		if err := t.pool.SetConfig(cfg); err != nil {
			g.log.Warn("keep-alive plan not applied", logKeyFunction, t.v.name, logKeyErr, err)
		}
	}
}

// adaptivePools returns every pool of every current version that is
// adaptive (its deployment leaves idle timeout and warm minimum to the
// tuner, and no scale request pinned it), with its state.
func (g *Gateway) adaptivePools() ([]adaptivePool, []PoolState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var targets []adaptivePool
	var states []PoolState
	for _, v := range *g.table.Load() {
		if !v.set.adaptive || v.pinned.Load() {
			continue
		}
		for _, vr := range v.variants {
			cfg, st := vr.pool.Config(), vr.pool.Stats()
			targets = append(targets, adaptivePool{v: v, pool: vr.pool})
			states = append(states, PoolState{Function: v.name, Runtime: vr.runtime, MaxInstances: cfg.MaxInstances,
				IdleTimeout: cfg.IdleTimeout, MinWarm: cfg.MinWarm, Instances: st.Idle + st.Busy + st.Starting})
		}
	}
	return targets, states
}

// idleTolerance: the tuner applies a planned idle timeout within this
// fraction of the current one only together with a new warm minimum, so
// that a plan's small drifts do not reconfigure the pool every round.
const idleTolerance = 0.1

// within reports whether d is within frac of ref.
func within(d, ref time.Duration, frac float64) bool {
	diff := d - ref
	if diff < 0 {
		diff = -diff
	}
	return float64(diff) <= frac*float64(ref)
}
