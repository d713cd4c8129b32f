package pool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestSetConfig(t *testing.T) {
	t.Run("MinWarm up prewarms", func(t *testing.T) {
		ff := &fakeFactory{}
		p := newTestPool(t, testConfig(), ff)
		cfg := p.Config()
		cfg.MinWarm = 3
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return p.Stats().Idle == 3 }, "3 prewarmed")
		if got := p.Config(); got != cfg {
			t.Fatalf("Config() = %+v, want %+v", got, cfg)
		}
	})
	t.Run("MaxInstances down trims oldest idle", func(t *testing.T) {
		ff := &fakeFactory{}
		p := newTestPool(t, testConfig(), ff)
		ls := []*Lease[*fakeInst]{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
		for _, l := range ls {
			p.Release(l, true)
		}
		newest := ls[2].Instance
		cfg := p.Config()
		cfg.MaxInstances = 1
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Idle != 1 || s.Destroyed != 2 {
			t.Fatalf("stats %+v, want 1 idle, 2 destroyed", s)
		}
		if l := mustAcquire(t, p); l.Instance != newest {
			t.Fatalf("kept instance %d, want the most recently used %d", l.Instance.id, newest.id)
		} else {
			p.Release(l, true)
		}
	})
	t.Run("MaxInstances down destroys busy on release", func(t *testing.T) {
		ff := &fakeFactory{}
		p := newTestPool(t, testConfig(), ff)
		a, b := mustAcquire(t, p), mustAcquire(t, p)
		cfg := p.Config()
		cfg.MaxInstances = 1
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		p.Release(a, true) // 2 live > 1: destroyed
		p.Release(b, true) // 1 live: kept
		if s := p.Stats(); s.Idle != 1 || s.Destroyed != 1 {
			t.Fatalf("stats %+v, want 1 idle, 1 destroyed", s)
		}
	})
	t.Run("MaxInstances up admits a waiter", func(t *testing.T) {
		ff := &fakeFactory{}
		cfg := testConfig()
		cfg.MaxInstances = 1
		p := newTestPool(t, cfg, ff)
		held := mustAcquire(t, p)
		got := acquireAsync(context.Background(), p)
		eventually(t, waiting(p, 1), "one waiter")
		cfg.MaxInstances = 2
		if err := p.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.err != nil || r.l.Start != invoker.StartCold {
			t.Fatalf("waiter: %v, want a cold lease", r.err)
		}
		p.Release(r.l, true)
		p.Release(held, true)
	})
	t.Run("invalid rejected", func(t *testing.T) {
		ff := &fakeFactory{}
		p := newTestPool(t, testConfig(), ff)
		before := p.Config()
		if err := p.SetConfig(Config{}); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("SetConfig(zero) = %v, want ErrInvalidConfig", err)
		}
		if p.Config() != before {
			t.Fatal("an invalid config was applied")
		}
	})
}

func TestCloseWithWaitersAndLeases(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances, cfg.MinWarm = 2, 1
	p, err := New(cfg, ff.New, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustAcquire(t, p), mustAcquire(t, p)
	p.Release(b, true) // one idle
	b = mustAcquire(t, p)
	got := acquireAsync(context.Background(), p)
	eventually(t, waiting(p, 1), "one waiter")

	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	if r := <-got; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("waiter = %v, want ErrClosed", r.err)
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close = %v, want ErrClosed", err)
	}
	if err := p.SetConfig(cfg); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetConfig after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while leases are out", err)
	default:
	}
	p.Release(a, true)
	p.Release(b, true)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAllClosedOnce(t, p, ff)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseContextDone(t *testing.T) {
	ff := &fakeFactory{}
	p, err := New(testConfig(), ff.New, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := mustAcquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a lease out and a done ctx = %v, want context.Canceled", err)
	}
	p.Release(l, true) // destroyed, the pool being closed
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAllClosedOnce(t, p, ff)
}

func TestCloseWhileStarting(t *testing.T) {
	ff := &fakeFactory{gate: make(chan struct{})}
	p, err := New(testConfig(), ff.New, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := acquireAsync(context.Background(), p)
	eventually(t, func() bool { return p.Stats().Starting == 1 }, "a cold start in progress")
	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	cfg := p.Config()
	eventually(t, func() bool { return errors.Is(p.SetConfig(cfg), ErrClosed) }, "pool closed")
	ff.gate <- struct{}{} // the factory finishes after Close began
	if r := <-got; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Acquire = %v, want ErrClosed", r.err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkAllClosedOnce(t, p, ff)
}

func TestDoubleReleasePanics(t *testing.T) {
	ff := &fakeFactory{}
	p := newTestPool(t, testConfig(), ff)
	l := mustAcquire(t, p)
	p.Release(l, true)
	defer func() {
		if recover() == nil {
			t.Fatal("second Release did not panic")
		}
	}()
	p.Release(l, true)
}

func TestColdFactoryError(t *testing.T) {
	ff := &fakeFactory{}
	ff.failNext.Store(1)
	p := newTestPool(t, testConfig(), ff)
	_, err := p.Acquire(context.Background())
	if !errors.Is(err, errBoom) {
		t.Fatalf("Acquire = %v, want errBoom wrapped", err)
	}
	if s := p.Stats(); s.CreateErrors != 1 || s.Starting != 0 || s.Created != 0 {
		t.Fatalf("stats %+v, want 1 create error, nothing starting", s)
	}
	l := mustAcquire(t, p) // the next call succeeds: no lasting damage
	p.Release(l, true)
}

func TestColdFactoryErrorWakesWaiter(t *testing.T) {
	ff := &fakeFactory{gate: make(chan struct{})}
	ff.failNext.Store(1)
	cfg := testConfig()
	cfg.MaxInstances = 1
	p := newTestPool(t, cfg, ff)
	first := acquireAsync(context.Background(), p)
	eventually(t, func() bool { return p.Stats().Starting == 1 }, "first caller starting")
	second := acquireAsync(context.Background(), p)
	eventually(t, waiting(p, 1), "second caller queued")

	ff.gate <- struct{}{} // first call fails
	if r := <-first; !errors.Is(r.err, errBoom) {
		t.Fatalf("first Acquire = %v, want errBoom", r.err)
	}
	ff.gate <- struct{}{} // the woken waiter tries itself and succeeds
	r := <-second
	if r.err != nil || r.l.Start != invoker.StartCold {
		t.Fatalf("waiter = %v, want a cold lease", r.err)
	}
	p.Release(r.l, true)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPrewarmErrorBacksOff(t *testing.T) {
	ff := &fakeFactory{}
	ff.failAll.Store(true)
	var logs syncBuffer
	cfg := testConfig()
	cfg.MinWarm = 1
	p, err := New(cfg, ff.New, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
		checkAllClosedOnce(t, p, ff)
	})
	start := time.Now()
	eventually(t, func() bool { return p.Stats().CreateErrors >= 2 }, "two failed prewarms")
	elapsed := time.Since(start)
	// Each retry waits at least minBackoff, doubling: the call count is bounded
	// by the time elapsed, however fast the machine.
	if calls, bound := ff.calls.Load(), 2+int64(elapsed/minBackoff); calls > bound {
		t.Fatalf("%d factory calls in %v: spinning (bound %d)", calls, elapsed, bound)
	}
	if !strings.Contains(logs.String(), "background instance start failed") || !strings.Contains(logs.String(), errBoom.Error()) {
		t.Fatalf("failure not logged with its cause: %q", logs.String())
	}
	ff.failAll.Store(false)
	eventually(t, func() bool { return p.Stats().Idle == 1 }, "prewarm recovers")
}

// A SetConfig that changes only IdleTimeout or MinWarm (the keep-alive
// tuner's) keeps the start backoff; other changes give a fresh try.
func TestSetConfigKeepsBackoff(t *testing.T) {
	ff := &fakeFactory{}
	ff.failAll.Store(true)
	cfg := testConfig()
	cfg.MinWarm = 1
	p, err := New(cfg, ff.New, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	eventually(t, func() bool { return p.Stats().CreateErrors >= 1 }, "a failed prewarm")
	retryAt := func() time.Time {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.retryAt
	}
	before := retryAt()
	if before.IsZero() {
		t.Fatal("no backoff after a failed start")
	}
	cfg.IdleTimeout += time.Second
	cfg.MinWarm = 2
	if err := p.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := retryAt(); got.Before(before) {
		t.Errorf("SetConfig of IdleTimeout and MinWarm reset the backoff: retry at %v, was %v", got, before)
	}
	cfg.MaxInstances++
	if err := p.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := retryAt(); !got.IsZero() && !got.After(before) {
		t.Errorf("SetConfig of MaxInstances kept the old backoff (retry at %v)", got)
	}
}
