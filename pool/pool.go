// Package pool keeps the warm instances of one function: it hands an
// instance to each request (the most recently used idle one first, else a
// new one under MaxInstances, else a place in a bounded FIFO queue), takes it
// back afterwards (destroying broken, single-use and worn-out instances),
// prewarms ahead of demand and scales idle instances down to MinWarm.
//
// One mutex guards all state; factory calls and instance Close never run
// under it. RATIONALE.md explains the policy.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// Instance is what the pool needs from an instance. invoker.Instance
// satisfies it.
type Instance interface {
	// Reusable is false for single-use (cgi) instances: never handed out twice.
	Reusable() bool
	// MemoryBytes is the instance's current memory footprint.
	MemoryBytes() int64
	// Close destroys the instance.
	Close(ctx context.Context) error
}

var _ Instance = invoker.Instance(nil)

// Factory creates an instance, appending its cold-start phases to tl.
type Factory[I Instance] func(ctx context.Context, tl *invoker.Timeline) (I, error)

// Errors returned by the pool. Factory errors are returned wrapped, so
// errors.Is still matches the runtime's sentinel.
var (
	// ErrQueueFull: MaxInstances are busy and QueueSize callers already wait.
	ErrQueueFull = errors.New("pool: queue full")
	// ErrQueueTimeout: the caller waited QueueTimeout without getting an instance.
	ErrQueueTimeout = errors.New("pool: timed out waiting for an instance")
	// ErrClosed: the pool is closed.
	ErrClosed = errors.New("pool: closed")
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("pool: invalid config")
)

// Lease is one instance handed out for exactly one request. The pool owns
// the Lease: after Release it may hand the same *Lease to another caller, so
// copy what you need (Created, Start) before releasing and never touch it
// afterwards. Reusing Lease objects keeps the warm path allocation-free.
type Lease[I Instance] struct {
	// Instance serves the request.
	Instance I
	// Start is cold (created on this request's path), prewarmed (created
	// ahead of demand, first use) or warm (used before).
	Start invoker.StartKind
	// QueueWait is how long the caller waited in the queue (0 if it did not).
	QueueWait time.Duration
	// Created holds the instance's cold-start phases when Start is cold or
	// prewarmed; it is empty when Start is warm.
	Created invoker.Timeline

	e *entry[I]
}

// entry is the pool's record of one live instance. Its lease is embedded:
// an instance has at most one lease at a time.
type entry[I Instance] struct {
	lease    Lease[I]
	uses     int       // requests handed out so far
	lastUsed time.Time // when it last became idle
	ahead    bool      // created ahead of demand (prewarm or spare)
	held     bool      // leased out now
}

// Stats is a snapshot of a pool.
type Stats struct {
	// Instances by state now.
	Idle, Busy, Starting int
	// Waiting is the number of callers in the queue.
	Waiting int
	// Destroying is the number of instances whose Close is in progress.
	Destroying int
	// Created counts instances created (ColdStarts + Prewarmed).
	Created uint64
	// Destroyed counts instances whose destruction began.
	Destroyed uint64
	// ColdStarts counts instances created on a request's path.
	ColdStarts uint64
	// Prewarmed counts instances created ahead of demand (MinWarm, single-use spares).
	Prewarmed uint64
	// CreateErrors counts failed factory calls.
	CreateErrors uint64
	// QueueRejected counts ErrQueueFull answers.
	QueueRejected uint64
	// QueueTimeouts counts ErrQueueTimeout answers.
	QueueTimeouts uint64
}

// Pool is the warm instance pool of one function. It is safe for concurrent use.
type Pool[I Instance] struct {
	factory Factory[I]
	log     *slog.Logger
	ctx     context.Context // canceled by Close; background factory calls run under it
	cancel  context.CancelFunc
	wg      sync.WaitGroup // janitor, background starts, background destroys
	kick    chan struct{}  // wakes the janitor (SetConfig, a failed start)
	maxMem  atomic.Int64   // cfg.MaxMemoryBytes, read outside the lock by Release

	mu            sync.Mutex
	cfg           Config
	closed        bool
	drained       chan struct{} // closed once closed and nothing is busy, starting or destroying
	drainedDone   bool
	idle          []*entry[I] // LIFO: most recently used last, so idle[0] is the oldest
	busy          int
	startingCold  int // factory calls for a caller (Acquire or a granted waiter)
	startingAhead int // background factory calls (prewarm, spares)
	// trimOnArrival counts background starts that were under way at a Trim:
	// each trims the idle list again when it lands.
	trimOnArrival int
	destroying    int
	waiters       waitQueue[I]
	singleUse     bool      // the factory's instances are single-use (learned from them)
	lastAcquire   time.Time // last Acquire: the function is active within IdleTimeout of it
	peakBusy      int       // most busy instances since the last janitor tick
	prevPeakBusy  int       // the same for the tick before
	backoff       time.Duration
	retryAt       time.Time // no background start before this, after a failure
	stats         Stats
}

// New returns a pool that creates instances with f, prewarms MinWarm of
// them in the background and starts its janitor. A nil logger discards logs.
// Close the pool to stop its goroutines.
func New[I Instance](cfg Config, f Factory[I], logger *slog.Logger) (*Pool[I], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, errors.New("pool: nil factory")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool[I]{
		factory: f,
		log:     logger,
		ctx:     ctx,
		cancel:  cancel,
		kick:    make(chan struct{}, 1),
		cfg:     cfg,
		drained: make(chan struct{}),
	}
	p.maxMem.Store(cfg.MaxMemoryBytes)
	var t todo[I]
	p.mu.Lock()
	p.wg.Add(1)
	go p.janitor()
	p.rebalanceLocked(&t, time.Now())
	p.mu.Unlock()
	p.finish(&t)
	return p, nil
}

// Acquire returns an instance for exactly one request: an idle one (most
// recently used first), else a new one if under MaxInstances (cold), else it
// waits in the bounded queue for a released instance or freed capacity.
// Errors: ErrClosed, ErrQueueFull, ErrQueueTimeout, ctx's error (wrapped),
// or the factory's error (wrapped).
func (p *Pool[I]) Acquire(ctx context.Context) (*Lease[I], error) {
	var t todo[I]
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	now := time.Now()
	p.lastAcquire = now
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.handoutLocked(e)
		p.rebalanceLocked(&t, now)
		p.mu.Unlock()
		p.finish(&t)
		return &e.lease, nil
	}
	if p.totalLocked() < p.cfg.MaxInstances {
		p.startingCold++
		p.mu.Unlock()
		return p.create(ctx, 0)
	}
	if p.waiters.n >= p.cfg.QueueSize {
		p.stats.QueueRejected++
		p.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &waiter[I]{ch: make(chan grant[I], 1)}
	p.waiters.push(w)
	qt := p.cfg.QueueTimeout
	p.mu.Unlock()
	return p.wait(ctx, w, now, qt)
}

// wait blocks a queued caller until it is granted something, its ctx is
// done or the queue timeout passes.
func (p *Pool[I]) wait(ctx context.Context, w *waiter[I], since time.Time, qt time.Duration) (*Lease[I], error) {
	var timeout <-chan time.Time
	if qt > 0 {
		tm := time.NewTimer(qt)
		defer tm.Stop()
		timeout = tm.C
	}
	var err error
	select {
	case g := <-w.ch:
		return p.take(ctx, g, time.Since(since))
	case <-ctx.Done():
		err = fmt.Errorf("pool: wait for instance: %w", ctx.Err())
	case <-timeout:
		err = ErrQueueTimeout
	}
	return nil, p.abandon(w, err)
}

// abandon takes a waiter that gave up out of the queue and returns err. If a
// grant raced with giving up, it is in the channel already: hand it on so
// that no instance or capacity slot is lost.
func (p *Pool[I]) abandon(w *waiter[I], err error) error {
	p.mu.Lock()
	if w.queued {
		p.waiters.remove(w)
		if errors.Is(err, ErrQueueTimeout) {
			p.stats.QueueTimeouts++
		}
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	p.giveBack(<-w.ch)
	return err
}

// take turns a grant into a lease.
func (p *Pool[I]) take(ctx context.Context, g grant[I], waited time.Duration) (*Lease[I], error) {
	switch {
	case g.err != nil:
		return nil, g.err
	case g.create:
		return p.create(ctx, waited)
	default:
		g.e.lease.QueueWait = waited
		return &g.e.lease, nil
	}
}

// create runs the factory for a caller; the caller has reserved a slot (startingCold).
func (p *Pool[I]) create(ctx context.Context, waited time.Duration) (*Lease[I], error) {
	e := &entry[I]{}
	e.lease.e = e
	inst, err := p.factory(ctx, &e.lease.Created)
	single := err == nil && !inst.Reusable()
	var t todo[I]
	p.mu.Lock()
	p.startingCold--
	if err != nil {
		p.stats.CreateErrors++
		p.rebalanceLocked(&t, time.Now()) // the freed slot goes to one waiter, which tries itself
		p.checkDrainedLocked()
		p.mu.Unlock()
		p.finish(&t)
		return nil, fmt.Errorf("pool: create instance: %w", err)
	}
	p.stats.Created++
	p.stats.ColdStarts++
	if single {
		p.singleUse = true
	}
	if p.closed {
		p.discardLocked(&t, inst)
		p.mu.Unlock()
		p.finish(&t)
		return nil, ErrClosed
	}
	e.lease.Instance = inst
	e.lease.Start = invoker.StartCold
	e.lease.QueueWait = waited
	e.held = true
	e.uses = 1
	p.busy++
	p.peakBusy = max(p.peakBusy, p.busy)
	p.rebalanceLocked(&t, time.Now())
	p.mu.Unlock()
	p.finish(&t)
	return &e.lease, nil
}

// giveBack returns a grant that its waiter no longer wants.
func (p *Pool[I]) giveBack(g grant[I]) {
	if g.err != nil {
		return
	}
	var t todo[I]
	p.mu.Lock()
	now := time.Now()
	if g.create {
		p.startingCold--
	} else {
		e := g.e
		e.held = false
		e.uses--
		p.busy--
		p.returnLocked(&t, e, true, now)
	}
	p.rebalanceLocked(&t, now)
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.finish(&t)
}

// Release gives the instance back after its request. healthy=false (trap,
// timeout, broken framing, any error) destroys it; so do a single-use
// instance, one past MaxRequests or over MaxMemoryBytes, and any instance
// while the pool is over MaxInstances or closed. A kept instance goes to the
// oldest waiter, else becomes idle. Destruction runs in the background, never
// under the pool lock. Release must be called exactly once per lease.
func (p *Pool[I]) Release(l *Lease[I], healthy bool) {
	e := l.e
	ok := healthy && l.Instance.Reusable()
	if ok {
		if limit := p.maxMem.Load(); limit > 0 && l.Instance.MemoryBytes() > limit {
			ok = false
		}
	}
	var t todo[I]
	p.mu.Lock()
	if !e.held {
		p.mu.Unlock()
		panic("pool: Release of a lease that is not held")
	}
	now := time.Now()
	e.held = false
	p.busy--
	p.returnLocked(&t, e, ok, now)
	p.rebalanceLocked(&t, now)
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.finish(&t)
}

// SetConfig applies a new policy: idle instances above a lowered
// MaxInstances are destroyed now (oldest first), busy ones when released;
// a raised MaxInstances admits waiters; a raised MinWarm prewarms in the
// background. Idle instances above a lowered MinWarm stay until IdleTimeout.
// Callers already queued stay queued when QueueSize shrinks. A change of
// only IdleTimeout and MinWarm keeps the start backoff after failed
// background starts; any other change retries at once.
func (p *Pool[I]) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var t todo[I]
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	tuned := p.cfg
	tuned.IdleTimeout, tuned.MinWarm = cfg.IdleTimeout, cfg.MinWarm
	p.cfg = cfg
	p.maxMem.Store(cfg.MaxMemoryBytes)
	if over := min(p.totalLocked()-cfg.MaxInstances, len(p.idle)); over > 0 {
		p.dropOldestIdleLocked(&t, over)
	}
	if tuned != cfg {
		// A new policy deserves a fresh try; a new idle timeout or warm
		// minimum (the keep-alive tuner's, often) does not: the start
		// backoff stays.
		p.retryAt = time.Time{}
	}
	p.rebalanceLocked(&t, time.Now())
	p.mu.Unlock()
	p.finish(&t)
	p.wakeJanitor()
	return nil
}

// Trim destroys now the idle instances above MinWarm (least recently used
// first) instead of leaving them to IdleTimeout, and forgets the recent
// demand that would keep single-use spares ready. Scaling to zero is
// SetConfig with MinWarm 0, then Trim. Busy instances are not touched.
func (p *Pool[I]) Trim() {
	var t todo[I]
	p.mu.Lock()
	if over := len(p.idle) - p.cfg.MinWarm; over > 0 && !p.closed {
		p.dropOldestIdleLocked(&t, over)
	}
	// Background starts under way finish after this call: they trim on arrival.
	p.trimOnArrival = p.startingAhead
	p.lastAcquire = time.Time{}
	p.peakBusy, p.prevPeakBusy = 0, 0
	p.mu.Unlock()
	p.finish(&t)
}

// Config returns the current policy.
func (p *Pool[I]) Config() Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// Stats returns a snapshot of the pool's state and counters.
func (p *Pool[I]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Idle = len(p.idle)
	s.Busy = p.busy
	s.Starting = p.startingCold + p.startingAhead
	s.Waiting = p.waiters.n
	s.Destroying = p.destroying
	return s
}

// Close fails queued callers with ErrClosed, destroys idle instances, and
// waits until leased instances are released (and destroyed), starting ones
// finished (and destroyed) and background goroutines stopped, or ctx is
// done. Acquire fails with ErrClosed from now on. Close may be called more
// than once; each call waits.
func (p *Pool[I]) Close(ctx context.Context) error {
	t := todo[I]{ctx: ctx}
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.cancel()
		for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
			w.ch <- grant[I]{err: ErrClosed}
		}
		p.dropOldestIdleLocked(&t, len(p.idle))
		p.idle = nil
	}
	p.checkDrainedLocked()
	p.mu.Unlock()
	p.finish(&t)

	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		<-p.drained
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pool: close: %w", ctx.Err())
	}
}
