package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// errBoom is the fake factory's failure.
var errBoom = errors.New("fake: boom")

// fakeInst is a test instance that records how the pool treats it.
type fakeInst struct {
	id       int64
	reusable bool
	mem      atomic.Int64
	leased   atomic.Int32 // leases held right now (must never exceed 1)
	uses     atomic.Int32 // leases ever handed out
	closes   atomic.Int32 // Close calls (must end at exactly 1)
	unusable atomic.Bool  // released unhealthy: must never be handed out again
}

func (f *fakeInst) Reusable() bool                { return f.reusable }
func (f *fakeInst) MemoryBytes() int64            { return f.mem.Load() }
func (f *fakeInst) Close(_ context.Context) error { f.closes.Add(1); return nil }

// fakeFactory creates fakeInsts and remembers all of them.
type fakeFactory struct {
	singleUse bool
	gate      chan struct{} // when set, each call waits for a receive (or ctx)
	failNext  atomic.Int32  // the next n calls fail
	failAll   atomic.Bool
	failRate  int // 1 in failRate calls fail (0: none), by call number
	calls     atomic.Int64

	mu  sync.Mutex
	all []*fakeInst
}

func (f *fakeFactory) New(ctx context.Context, tl *invoker.Timeline) (*fakeInst, error) {
	n := f.calls.Add(1)
	start := time.Now()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.failAll.Load() || f.failNext.Add(-1) >= 0 || (f.failRate > 0 && n%int64(f.failRate) == 0) {
		return nil, errBoom
	}
	tl.Add(invoker.PhaseInstantiate, start)
	inst := &fakeInst{id: n, reusable: !f.singleUse}
	f.mu.Lock()
	f.all = append(f.all, inst)
	f.mu.Unlock()
	return inst, nil
}

func (f *fakeFactory) instances() []*fakeInst {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeInst(nil), f.all...)
}

// eventually polls cond until it holds; it fails the test only if cond stays
// false for a very long time (a hang, not a slow machine).
func eventually(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testConfig is a small pool that never reaps and never times out on its own.
func testConfig() Config {
	return Config{MaxInstances: 4, IdleTimeout: time.Hour, QueueSize: 4}
}

// newTestPool builds a pool and, at cleanup, closes it and checks that every
// instance the factory made was closed exactly once.
func newTestPool(t *testing.T, cfg Config, ff *fakeFactory) *Pool[*fakeInst] {
	t.Helper()
	p, err := New(cfg, ff.New, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkAllClosedOnce(t, p, ff)
	})
	return p
}

func checkAllClosedOnce(t *testing.T, p *Pool[*fakeInst], ff *fakeFactory) {
	t.Helper()
	all := ff.instances()
	for _, inst := range all {
		if n := inst.closes.Load(); n != 1 {
			t.Errorf("instance %d closed %d times, want 1", inst.id, n)
		}
	}
	s := p.Stats()
	if s.Created != uint64(len(all)) || s.Destroyed != s.Created || s.ColdStarts+s.Prewarmed != s.Created {
		t.Errorf("after Close: factory made %d; stats %+v", len(all), s)
	}
	if s.Idle+s.Busy+s.Starting+s.Waiting+s.Destroying != 0 {
		t.Errorf("after Close: stats not drained: %+v", s)
	}
}

func mustAcquire(t testing.TB, p *Pool[*fakeInst]) *Lease[*fakeInst] {
	t.Helper()
	l, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return l
}

// acquireAsync starts an Acquire in a goroutine and returns its result channel.
func acquireAsync(ctx context.Context, p *Pool[*fakeInst]) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		l, err := p.Acquire(ctx)
		ch <- acquired{l, err}
	}()
	return ch
}

type acquired struct {
	l   *Lease[*fakeInst]
	err error
}

// waiting returns a condition: exactly n callers are queued.
func waiting(p *Pool[*fakeInst], n int) func() bool {
	return func() bool { return p.Stats().Waiting == n }
}
