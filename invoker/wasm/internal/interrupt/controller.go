package interrupt

import (
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/lumos-edge/lumos/invoker"
)

// DefaultQuantum is how often a running call is asked to yield when
// NewController gets a non-positive quantum.
const DefaultQuantum = 2 * time.Millisecond

// Controller drives the interrupts of one instance. It is safe for concurrent
// use: the invoker arms and disarms it around each call, a timer goroutine
// raises the flag, and the guest's goroutine clears it in yield.
type Controller struct {
	quantum time.Duration

	mu       sync.Mutex
	flag     api.MutableGlobal // nil until Bind
	armed    bool
	killed   bool
	deadline time.Time // zero: no deadline
	timer    *time.Timer
	gen      uint64 // incremented by Disarm and Stop: stale timer callbacks do nothing
	stopped  bool
}

// NewController returns a controller that raises the flag every quantum
// while a call is armed. A non-positive quantum means DefaultQuantum.
func NewController(quantum time.Duration) *Controller {
	if quantum <= 0 {
		quantum = DefaultQuantum
	}
	return &Controller{quantum: quantum}
}

// Bind finds the exported interrupt flag of an instrumented module. Call it
// after instantiation and before running any guest code under this
// controller (for a command module, instantiate with no start function, Bind,
// then call _start).
func (c *Controller) Bind(mod api.Module) error {
	g, ok := mod.ExportedGlobal(FlagExport).(api.MutableGlobal)
	if !ok {
		return fmt.Errorf("interrupt: module %q exports no mutable global %q (not instrumented?): %w",
			mod.Name(), FlagExport, invoker.ErrInvalidArtifact)
	}
	c.mu.Lock()
	c.flag = g
	if c.killed {
		g.Set(1)
	}
	c.mu.Unlock()
	return nil
}

// Arm marks a call as in flight: from now on the flag is raised every
// quantum, and at the deadline (a zero deadline means none). Once the
// deadline has passed, the guest's next check aborts the call.
func (c *Controller) Arm(deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.gen++
	c.armed = true
	c.deadline = deadline
	c.scheduleLocked(time.Now())
}

// scheduleLocked starts the timer for the next tick: one quantum from now, or
// the deadline if it comes first.
func (c *Controller) scheduleLocked(now time.Time) {
	d := c.quantum
	if !c.deadline.IsZero() {
		if left := c.deadline.Sub(now); left < d {
			d = max(left, 0)
		}
	}
	gen := c.gen
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, func() { c.tick(gen) })
}

// tick runs on the timer goroutine: raise the flag and schedule the next tick
// unless the call is over or the deadline passed (then the flag stays up).
func (c *Controller) tick(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || c.stopped || gen != c.gen {
		return
	}
	if c.flag != nil {
		c.flag.Set(1)
	}
	now := time.Now()
	if !c.deadline.IsZero() && !now.Before(c.deadline) {
		return
	}
	c.scheduleLocked(now)
}

// Disarm marks the call as finished: the timer stops and the flag is
// cleared. An idle instance costs nothing.
func (c *Controller) Disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.armed = false
	c.deadline = time.Time{}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.flag != nil && !c.killed {
		c.flag.Set(0)
	}
}

// Kill aborts the running guest at its next check (at most one loop
// iteration or function entry away). The guest's Call returns an error
// wrapping ErrInterrupted and invoker.ErrTimeout. A killed controller stays
// killed: every later call under it is aborted at its first check.
func (c *Controller) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
	if c.flag != nil {
		c.flag.Set(1)
	}
}

// Stop releases the timer. The controller must not be armed again.
func (c *Controller) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.armed = false
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// yield is called on the guest's goroutine when the guest saw the flag up.
// It clears the flag and reports whether the guest must be aborted.
func (c *Controller) yield() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed {
		return fmt.Errorf("%w: killed: %w", ErrInterrupted, invoker.ErrTimeout)
	}
	if c.armed && !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		return fmt.Errorf("%w: deadline %s passed: %w", ErrInterrupted,
			c.deadline.Format(time.RFC3339Nano), invoker.ErrTimeout)
	}
	if c.flag != nil {
		c.flag.Set(0)
	}
	return nil
}
