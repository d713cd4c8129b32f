package pool

import (
	"context"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// Tuning of the background work. RATIONALE.md explains the values.
const (
	// minTick and maxTick bound the janitor's period (IdleTimeout/4 between them).
	minTick = 5 * time.Millisecond
	maxTick = time.Second
	// minBackoff and maxBackoff bound the wait after a failed background start.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
	// destroyTimeout bounds one instance's Close in the background.
	destroyTimeout = 30 * time.Second
)

// Log keys.
const (
	logKeyErr     = "err"
	logKeyBackoff = "backoff"
)

// todo is work decided under the lock and done after unlocking (like
// golang-lru's eviction callbacks): instances to destroy and background
// starts to launch. The warm path leaves it empty and allocates nothing.
type todo[I Instance] struct {
	destroy []I
	async   bool            // destroy in tracked goroutines (the pool is open), else inline
	spawn   int             // background starts to launch; wg already counts them
	ctx     context.Context // for inline destroys (Close); nil: destroyTimeout
}

// finish does t's work. Call it without the lock.
func (p *Pool[I]) finish(t *todo[I]) {
	for range t.spawn {
		go p.startAhead()
	}
	for _, inst := range t.destroy {
		if t.async {
			go p.destroyBackground(inst)
		} else {
			p.destroy(t.ctx, inst)
		}
	}
}

func (p *Pool[I]) totalLocked() int {
	return len(p.idle) + p.busy + p.startingCold + p.startingAhead
}

// handoutLocked leases e, taken from the idle stack or just created ahead.
func (p *Pool[I]) handoutLocked(e *entry[I]) {
	switch {
	case e.uses > 0:
		e.lease.Start = invoker.StartWarm
		e.lease.Created.Reset()
	case e.ahead:
		e.lease.Start = invoker.StartPrewarmed
	default:
		e.lease.Start = invoker.StartCold
	}
	e.lease.QueueWait = 0
	e.held = true
	e.uses++
	p.busy++
	p.peakBusy = max(p.peakBusy, p.busy)
}

// returnLocked takes back e (no longer counted busy): when ok and the policy
// allows, it goes to the oldest waiter or on top of the idle stack; else it
// is destroyed.
func (p *Pool[I]) returnLocked(t *todo[I], e *entry[I], ok bool, now time.Time) {
	keep := ok && !p.closed &&
		(p.cfg.MaxRequests == 0 || e.uses < p.cfg.MaxRequests) &&
		p.totalLocked() < p.cfg.MaxInstances
	if !keep {
		p.discardLocked(t, e.lease.Instance)
		return
	}
	if w := p.waiters.pop(); w != nil {
		p.handoutLocked(e)
		w.ch <- grant[I]{e: e}
		return
	}
	e.lastUsed = now
	p.idle = append(p.idle, e)
}

// discardLocked schedules inst's destruction.
func (p *Pool[I]) discardLocked(t *todo[I], inst I) {
	p.stats.Destroyed++
	p.destroying++
	t.destroy = append(t.destroy, inst)
	t.async = !p.closed
	if t.async {
		p.wg.Add(1)
	}
}

// dropOldestIdleLocked destroys the n least recently used idle instances.
func (p *Pool[I]) dropOldestIdleLocked(t *todo[I], n int) {
	for _, e := range p.idle[:n] {
		p.discardLocked(t, e.lease.Instance)
	}
	k := copy(p.idle, p.idle[n:])
	clear(p.idle[k:])
	p.idle = p.idle[:k]
}

// rebalanceLocked hands freed capacity to waiters first (each gets the right
// to create one instance, oldest first), then starts background instances
// the policy wants ready.
func (p *Pool[I]) rebalanceLocked(t *todo[I], now time.Time) {
	for p.waiters.n > 0 && p.totalLocked() < p.cfg.MaxInstances {
		w := p.waiters.pop()
		p.startingCold++
		w.ch <- grant[I]{create: true}
	}
	if p.closed || p.waiters.n > 0 || now.Before(p.retryAt) {
		return
	}
	n := min(p.wantAheadLocked(now), p.cfg.MaxInstances-p.totalLocked())
	if n <= 0 {
		return
	}
	p.startingAhead += n
	p.wg.Add(n)
	t.spawn += n
}

// spareTargetLocked is how many single-use instances to keep ready: MinWarm,
// and while the function is active (an Acquire within IdleTimeout) at least
// one and as many as were busy at once recently.
func (p *Pool[I]) spareTargetLocked(now time.Time) int {
	want := p.cfg.MinWarm
	if !p.lastAcquire.IsZero() && now.Sub(p.lastAcquire) < p.cfg.IdleTimeout {
		want = max(want, 1, p.peakBusy, p.prevPeakBusy)
	}
	return want
}

// wantAheadLocked is how many more instances to start in the background.
// Reusable instances: until MinWarm exist in any state. Single-use
// instances: until the spare target is ready or starting.
func (p *Pool[I]) wantAheadLocked(now time.Time) int {
	if p.singleUse {
		return p.spareTargetLocked(now) - len(p.idle) - p.startingAhead
	}
	return p.cfg.MinWarm - p.totalLocked()
}

// keepIdleLocked is how many idle instances the janitor must not reap.
func (p *Pool[I]) keepIdleLocked(now time.Time) int {
	if p.singleUse {
		return max(0, p.spareTargetLocked(now)-p.startingAhead)
	}
	return max(0, p.cfg.MinWarm-p.busy-p.startingCold-p.startingAhead)
}

func (p *Pool[I]) checkDrainedLocked() {
	if p.closed && !p.drainedDone && p.busy == 0 && p.startingCold == 0 &&
		p.startingAhead == 0 && p.destroying == 0 {
		p.drainedDone = true
		close(p.drained)
	}
}

// startAhead creates one instance in the background (prewarm or spare).
func (p *Pool[I]) startAhead() {
	defer p.wg.Done()
	e := &entry[I]{ahead: true}
	e.lease.e = e
	inst, err := p.factory(p.ctx, &e.lease.Created)
	single := err == nil && !inst.Reusable()
	var t todo[I]
	p.mu.Lock()
	now := time.Now()
	p.startingAhead--
	if err != nil {
		p.trimOnArrival = max(0, p.trimOnArrival-1)
		p.stats.CreateErrors++
		p.backoff = min(max(2*p.backoff, minBackoff), maxBackoff)
		p.retryAt = now.Add(p.backoff)
		backoff, closed := p.backoff, p.closed
		p.rebalanceLocked(&t, now) // a waiter may try itself
		p.checkDrainedLocked()
		p.mu.Unlock()
		p.finish(&t)
		if !closed {
			p.log.Warn("pool: background instance start failed", logKeyErr, err, logKeyBackoff, backoff)
			p.wakeJanitor() // to retry after the backoff, not at its next round
		}
		return
	}
	p.backoff = 0
	p.stats.Created++
	p.stats.Prewarmed++
	if single {
		p.singleUse = true
	}
	e.lease.Instance = inst
	p.returnLocked(&t, e, true, now)
	if p.trimOnArrival > 0 {
		p.trimOnArrival--
		if over := len(p.idle) - p.cfg.MinWarm; over > 0 {
			p.dropOldestIdleLocked(&t, over)
		}
	}
	p.rebalanceLocked(&t, now)
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.finish(&t)
}

// wakeJanitor makes the janitor run a round now.
func (p *Pool[I]) wakeJanitor() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Pool[I]) destroyBackground(inst I) {
	defer p.wg.Done()
	p.destroy(nil, inst)
}

// destroy closes inst, logging a failure. ctx nil means destroyTimeout.
func (p *Pool[I]) destroy(ctx context.Context, inst I) {
	if ctx == nil {
		c, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), destroyTimeout)
		defer cancel()
		ctx = c
	}
	if err := inst.Close(ctx); err != nil {
		p.log.Warn("pool: destroy instance", logKeyErr, err)
	}
	p.mu.Lock()
	p.destroying--
	p.checkDrainedLocked()
	p.mu.Unlock()
}

// janitor reaps idle instances and retries background starts, every
// IdleTimeout/4 bounded to [minTick, maxTick] (sooner when a failed start is
// due for a retry), until Close.
func (p *Pool[I]) janitor() {
	defer p.wg.Done()
	tm := time.NewTimer(p.tick())
	defer tm.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tm.C:
		case <-p.kick:
		}
		tm.Reset(p.tick())
	}
}

// tick runs one janitor round and returns the delay until the next.
func (p *Pool[I]) tick() time.Duration {
	var t todo[I]
	p.mu.Lock()
	now := time.Now()
	p.prevPeakBusy, p.peakBusy = p.peakBusy, p.busy
	cut := 0
	for limit := len(p.idle) - p.keepIdleLocked(now); cut < limit &&
		now.Sub(p.idle[cut].lastUsed) >= p.cfg.IdleTimeout; cut++ {
	}
	if !p.closed && cut > 0 {
		p.dropOldestIdleLocked(&t, cut)
	}
	if !p.closed {
		p.rebalanceLocked(&t, now)
	}
	d := min(max(p.cfg.IdleTimeout/4, minTick), maxTick)
	if p.retryAt.After(now) {
		d = max(min(d, p.retryAt.Sub(now)), minTick) // retry a failed start on time
	}
	p.mu.Unlock()
	p.finish(&t)
	return d
}
