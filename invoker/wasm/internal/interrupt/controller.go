package interrupt

import (
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/lumos-edge/lumos/invoker"
)

// Budget bounds: the budget is how many checks (function entries and loop
// iterations) the guest runs between two yields.
const (
	initialBudget = 1 << 12 // until the first yield calibrates it
	minBudget     = 1 << 6
	maxBudget     = 1 << 16
	// idleBudget is what yield grants a guest that runs with no controller.
	idleBudget = 1 << 30
)

// DefaultQuantum is how often a running guest yields when NewController gets
// a non-positive quantum.
const DefaultQuantum = time.Millisecond

// Controller drives the interrupts of one instance. The instrumented guest
// counts down a budget itself and calls yield when it runs out; yield,
// running on the guest's goroutine, checks the deadline and kill state, lets
// the Go scheduler and GC in (runtime.Gosched), and grants a new budget sized
// so that the next yield comes about one quantum later. No timer or other
// goroutine is involved: a goroutine cannot be relied on to interrupt the
// guest, since it may need the very P the guest holds (RATIONALE.md).
//
// A Controller is safe for concurrent use: the invoker arms and disarms it
// around each call and may Kill it from any goroutine.
type Controller struct {
	quantum time.Duration

	mu        sync.Mutex
	budget    api.MutableGlobal // nil until Bind
	grant     int32             // current budget per quantum
	lastYield time.Time
	armed     bool
	killed    bool
	stopped   bool
	deadline  time.Time // zero: no deadline
	// idleSince is when the last call was disarmed; zero before the first.
	idleSince time.Time
}

// IdleGrace is how long a guest may keep computing after its call was
// disarmed (a runtime finishing up, a guest's own GC) before it is aborted
// like a timed-out one. An idle guest should be parked in a host call,
// waiting for its next request; one that spins instead would burn a core
// with no deadline and hand its next caller a late answer.
const IdleGrace = 250 * time.Millisecond

// NewController returns a controller that makes a running guest yield about
// every quantum. A non-positive quantum means DefaultQuantum.
func NewController(quantum time.Duration) *Controller {
	if quantum <= 0 {
		quantum = DefaultQuantum
	}
	return &Controller{quantum: quantum, grant: initialBudget}
}

// Bind finds the exported budget global of an instrumented module. Call it
// after instantiation and before running guest code under this controller
// (for a command module: instantiate with no start function, Bind, then call
// _start with WithController).
func (c *Controller) Bind(mod api.Module) error {
	g, ok := mod.ExportedGlobal(FlagExport).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return fmt.Errorf("interrupt: module %q exports no mutable i32 global %q (not instrumented?): %w",
			mod.Name(), FlagExport, invoker.ErrInvalidArtifact)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget = g
	c.setLocked(c.grant)
	return nil
}

// setLocked writes the budget. Only the guest's goroutine writes it (Bind
// before the guest runs, yield while it runs): the guest reads and writes it
// too, natively (invisible to the race detector) or, on the interpreter, in
// plain Go.
func (c *Controller) setLocked(v int32) {
	if c.budget != nil {
		c.budget.Set(uint64(uint32(v)))
	}
}

// Arm marks a call as in flight with the given deadline (zero: none). Once
// the deadline has passed, the guest's next yield aborts the call, at most
// about one quantum late.
func (c *Controller) Arm(deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = true
	c.deadline = deadline
	c.lastYield = time.Now()
}

// Disarm marks the call as finished. It costs nothing while the guest is
// parked in a host call; a guest that keeps computing is aborted once
// IdleGrace has passed.
func (c *Controller) Disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	c.deadline = time.Time{}
	c.idleSince = time.Now()
}

// Kill aborts the running guest at its next yield, about one quantum away
// at most. The guest's call returns an error wrapping ErrInterrupted and
// invoker.ErrTimeout. A killed controller stays killed: every later call
// under it is aborted at its first yield. Kill does not touch the guest's
// budget: the guest owns it, and a write from another goroutine would race
// with the interpreter's plain Go reads.
func (c *Controller) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
}

// Stop marks the controller as finished with. It holds no timer or
// goroutine, so Stop only makes later calls under it fail like Kill; it
// exists so that owners can release controllers uniformly.
func (c *Controller) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// yield runs on the guest's goroutine when the guest's budget ran out. It
// reports whether the guest must be aborted; otherwise it grants a new
// budget scaled so that the next yield comes about one quantum from now.
func (c *Controller) yield() error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.killed:
		return fmt.Errorf("%w: killed: %w", ErrInterrupted, invoker.ErrTimeout)
	case c.stopped:
		return fmt.Errorf("%w: controller stopped: %w", ErrInterrupted, invoker.ErrTimeout)
	case c.armed && !c.deadline.IsZero() && !now.Before(c.deadline):
		return fmt.Errorf("%w: deadline passed %s ago: %w", ErrInterrupted, now.Sub(c.deadline), invoker.ErrTimeout)
	case !c.armed && !c.idleSince.IsZero() && now.Sub(c.idleSince) > IdleGrace:
		return fmt.Errorf("%w: still computing %s after its call ended: %w", ErrInterrupted, now.Sub(c.idleSince), invoker.ErrTimeout)
	}
	if !c.lastYield.IsZero() {
		switch elapsed := now.Sub(c.lastYield); {
		case elapsed < c.quantum/2 && c.grant <= maxBudget/2:
			c.grant *= 2
		case elapsed > 2*c.quantum && c.grant >= 2*minBudget:
			c.grant /= 2
		}
	}
	c.lastYield = now
	next := c.grant
	if c.armed && !c.deadline.IsZero() {
		// Do not overshoot a close deadline by much: shrink the grant in
		// proportion to the time left.
		if left := c.deadline.Sub(now); left < c.quantum {
			next = max(minBudget, int32(int64(next)*int64(left)/int64(c.quantum)))
		}
	}
	c.setLocked(next)
	return nil
}
