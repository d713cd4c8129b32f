package pool

import (
	"fmt"
	"time"
)

// Defaults used by DefaultConfig. RATIONALE.md explains each choice.
const (
	// DefaultMaxInstances caps one function at 2x the cores of the
	// two-core target machine: CPU-bound functions only time-share beyond
	// it, and the queue absorbs bursts instead.
	DefaultMaxInstances = 4
	// DefaultIdleTimeout is how long an idle instance above MinWarm lives
	// (Knative's scale-to-zero grace is of the same order).
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultQueueSize bounds callers waiting for a busy function.
	DefaultQueueSize = 64
	// DefaultQueueTimeout bounds one caller's wait in the queue.
	DefaultQueueTimeout = 10 * time.Second
)

// Config is the scaling policy of one function's pool. The zero value is not
// valid; start from DefaultConfig.
type Config struct {
	// MinWarm instances are kept ready even when the function is idle
	// (prewarm). 0 allows scale to zero.
	MinWarm int
	// MaxInstances caps starting+idle+busy instances (>= 1). Instances
	// being destroyed are not counted.
	MaxInstances int
	// IdleTimeout: an idle instance above MinWarm is destroyed after this
	// long unused (> 0).
	IdleTimeout time.Duration
	// QueueSize is the most callers that wait when MaxInstances are busy;
	// one more gets ErrQueueFull. 0 disables queueing.
	QueueSize int
	// QueueTimeout is the longest a caller waits in the queue before
	// ErrQueueTimeout. 0 means the caller's context alone bounds the wait.
	QueueTimeout time.Duration
	// MaxRequests recycles a reusable instance after this many requests
	// (0 = no limit).
	MaxRequests int
	// MaxMemoryBytes recycles a reusable instance whose MemoryBytes exceeds
	// it after a request (0 = no limit).
	MaxMemoryBytes int64
}

// DefaultConfig returns edge defaults: scale to zero, at most
// DefaultMaxInstances instances, DefaultIdleTimeout, a queue of
// DefaultQueueSize callers waiting at most DefaultQueueTimeout, and no
// recycling limits.
func DefaultConfig() Config {
	return Config{
		MinWarm:      0,
		MaxInstances: DefaultMaxInstances,
		IdleTimeout:  DefaultIdleTimeout,
		QueueSize:    DefaultQueueSize,
		QueueTimeout: DefaultQueueTimeout,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.MaxInstances < 1:
		return fmt.Errorf("%w: MaxInstances %d < 1", ErrInvalidConfig, c.MaxInstances)
	case c.MinWarm < 0:
		return fmt.Errorf("%w: MinWarm %d < 0", ErrInvalidConfig, c.MinWarm)
	case c.MinWarm > c.MaxInstances:
		return fmt.Errorf("%w: MinWarm %d > MaxInstances %d", ErrInvalidConfig, c.MinWarm, c.MaxInstances)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("%w: IdleTimeout %v <= 0", ErrInvalidConfig, c.IdleTimeout)
	case c.QueueSize < 0:
		return fmt.Errorf("%w: QueueSize %d < 0", ErrInvalidConfig, c.QueueSize)
	case c.QueueTimeout < 0:
		return fmt.Errorf("%w: QueueTimeout %v < 0", ErrInvalidConfig, c.QueueTimeout)
	case c.MaxRequests < 0:
		return fmt.Errorf("%w: MaxRequests %d < 0", ErrInvalidConfig, c.MaxRequests)
	case c.MaxMemoryBytes < 0:
		return fmt.Errorf("%w: MaxMemoryBytes %d < 0", ErrInvalidConfig, c.MaxMemoryBytes)
	}
	return nil
}
