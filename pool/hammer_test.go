package pool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// checkInvariants verifies the pool's bookkeeping under its lock.
func checkInvariants(p *Pool[*fakeInst]) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy < 0 || p.startingCold < 0 || p.startingAhead < 0 || p.destroying < 0 || p.waiters.n < 0 {
		return fmt.Errorf("negative count: busy %d cold %d ahead %d destroying %d waiters %d",
			p.busy, p.startingCold, p.startingAhead, p.destroying, p.waiters.n)
	}
	seen := map[*entry[*fakeInst]]bool{}
	for _, e := range p.idle {
		if e.held || seen[e] || e.lease.Instance.closes.Load() != 0 || e.lease.Instance.unusable.Load() {
			return fmt.Errorf("bad idle entry %d: held %v dup %v closed %d unusable %v", e.lease.Instance.id,
				e.held, seen[e], e.lease.Instance.closes.Load(), e.lease.Instance.unusable.Load())
		}
		seen[e] = true
	}
	n := 0
	for w := p.waiters.head; w != nil; w = w.next {
		n++
	}
	if n != p.waiters.n {
		return fmt.Errorf("wait queue holds %d, count says %d", n, p.waiters.n)
	}
	if p.waiters.n > 0 && (len(p.idle) > 0 || p.totalLocked() < p.cfg.MaxInstances) {
		return fmt.Errorf("%d wait while %d idle, %d of %d live", p.waiters.n, len(p.idle), p.totalLocked(), p.cfg.MaxInstances)
	}
	if p.closed && (len(p.idle) > 0 || p.waiters.n > 0) {
		return fmt.Errorf("closed with %d idle, %d waiting", len(p.idle), p.waiters.n)
	}
	return nil
}

// TestHammer pounds a pool from 64 goroutines with random healthy and
// unhealthy releases, random policies and a concurrent Close, then checks
// that every instance was closed exactly once and never leased twice at once.
func TestHammer(t *testing.T) {
	for _, singleUse := range []bool{false, true} {
		t.Run(fmt.Sprintf("singleUse=%v", singleUse), func(t *testing.T) {
			hammer(t, singleUse)
		})
	}
}

func hammer(t *testing.T, singleUse bool) {
	const (
		workers = 64
		iters   = 200 // leases per worker, within at most 20*iters attempts
	)
	ff := &fakeFactory{singleUse: singleUse, failRate: 17}
	cfg := Config{MinWarm: 2, MaxInstances: 6, IdleTimeout: 2 * time.Millisecond,
		QueueSize: workers, QueueTimeout: 5 * time.Millisecond, MaxRequests: 5, MaxMemoryBytes: 150}
	p, err := New(cfg, ff.New, nil)
	if err != nil {
		t.Fatal(err)
	}

	var (
		leases   atomic.Int64
		finished atomic.Int64 // workers done
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for got, tries := 0, 0; got < iters && tries < 20*iters; tries++ {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if r.IntN(8) == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(300))*time.Microsecond)
				}
				l, err := p.Acquire(ctx)
				cancel()
				switch {
				case err == nil:
				case errors.Is(err, ErrClosed):
					return
				case errors.Is(err, ErrQueueFull), errors.Is(err, ErrQueueTimeout),
					errors.Is(err, context.DeadlineExceeded), errors.Is(err, errBoom):
					if r.IntN(2) == 0 {
						runtime.Gosched()
					}
					continue
				default:
					t.Errorf("Acquire: unexpected error %v", err)
					return
				}
				got++
				leases.Add(1)
				inst := l.Instance
				if n := inst.leased.Add(1); n != 1 {
					t.Errorf("instance %d leased %d times at once", inst.id, n)
				}
				if inst.closes.Load() != 0 || inst.unusable.Load() {
					t.Errorf("instance %d handed out after destruction", inst.id)
				}
				u := inst.uses.Add(1)
				if u > 1 && !inst.reusable {
					t.Errorf("single-use instance %d handed out %d times", inst.id, u)
				}
				if (u == 1) == (l.Start == invoker.StartWarm) {
					t.Errorf("use %d of instance %d has Start %q", u, inst.id, l.Start)
				}
				if r.IntN(4) == 0 {
					runtime.Gosched()
				}
				inst.mem.Store(r.Int64N(200))
				healthy := r.IntN(8) != 0
				if !healthy {
					inst.unusable.Store(true)
				}
				inst.leased.Add(-1)
				p.Release(l, healthy)
			}
		}()
	}

	// Random policies, stats reads and invariant checks until the end.
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		r := rand.New(rand.NewPCG(99, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			c := Config{MaxInstances: 1 + r.IntN(8), IdleTimeout: time.Duration(1+r.IntN(10)) * time.Millisecond,
				QueueSize: workers - r.IntN(workers/2), QueueTimeout: time.Duration(r.IntN(5000)) * time.Microsecond,
				MaxRequests: r.IntN(6), MaxMemoryBytes: int64(r.IntN(2)) * 150}
			c.MinWarm = r.IntN(c.MaxInstances + 1)
			if r.IntN(20) == 0 {
				c.QueueSize = 0 // no queue for a moment: ErrQueueFull
			}
			if c.QueueTimeout == 0 {
				c.QueueTimeout = time.Millisecond // keep waits bounded while workers run
			}
			if err := p.SetConfig(c); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("SetConfig: %v", err)
			}
			_ = p.Stats()
			if err := checkInvariants(p); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
		}
	}()

	// Close concurrently once half the work is done.
	closeErr := make(chan error, 1)
	go func() {
		for leases.Load() < workers*iters/2 && finished.Load() < workers {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closeErr <- p.Close(ctx)
	}()

	wg.Wait()
	if err := <-closeErr; err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(stop)
	bg.Wait()
	if err := checkInvariants(p); err != nil {
		t.Error(err)
	}
	checkAllClosedOnce(t, p, ff)
	s := p.Stats()
	if leases.Load() == 0 || s.Created == 0 {
		t.Fatalf("the hammer did no work: %d leases, stats %+v", leases.Load(), s)
	}
	t.Logf("%d leases; stats %+v", leases.Load(), s)
}
