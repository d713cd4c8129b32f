package pool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	tests := []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"default", func(*Config) {}, true},
		{"min warm equals max", func(c *Config) { c.MinWarm = c.MaxInstances }, true},
		{"no queue", func(c *Config) { c.QueueSize, c.QueueTimeout = 0, 0 }, true},
		{"limits", func(c *Config) { c.MaxRequests, c.MaxMemoryBytes = 100, 1<<20 }, true},
		{"zero max", func(c *Config) { c.MaxInstances = 0 }, false},
		{"negative min warm", func(c *Config) { c.MinWarm = -1 }, false},
		{"min warm above max", func(c *Config) { c.MinWarm = c.MaxInstances + 1 }, false},
		{"zero idle timeout", func(c *Config) { c.IdleTimeout = 0 }, false},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, false},
		{"negative queue timeout", func(c *Config) { c.QueueTimeout = -time.Second }, false},
		{"negative max requests", func(c *Config) { c.MaxRequests = -1 }, false},
		{"negative max memory", func(c *Config) { c.MaxMemoryBytes = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if tt.valid && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.valid && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	ff := &fakeFactory{}
	if _, err := New(Config{}, ff.New, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New(zero config) = %v, want ErrInvalidConfig", err)
	}
	if _, err := New[*fakeInst](DefaultConfig(), nil, nil); err == nil {
		t.Error("New(nil factory) succeeded")
	}
}

func TestColdThenWarmLIFO(t *testing.T) {
	ff := &fakeFactory{}
	p := newTestPool(t, testConfig(), ff)

	var ls []*Lease[*fakeInst]
	var insts []*fakeInst
	for range 3 {
		l := mustAcquire(t, p)
		if l.Start != invoker.StartCold {
			t.Fatalf("first use Start = %q, want cold", l.Start)
		}
		if ph := l.Created.Phases(); len(ph) != 1 || ph[0].Name != invoker.PhaseInstantiate {
			t.Fatalf("cold lease Created = %v, want the factory's phase", l.Created.Phases())
		}
		ls = append(ls, l)
		insts = append(insts, l.Instance)
	}
	for _, l := range ls {
		p.Release(l, true)
	}
	// Most recently released first: 2, 1, 0.
	for i := 2; i >= 0; i-- {
		l := mustAcquire(t, p)
		if l.Instance != insts[i] {
			t.Fatalf("got instance %d, want %d (LIFO)", l.Instance.id, insts[i].id)
		}
		if l.Start != invoker.StartWarm || len(l.Created.Phases()) != 0 || l.QueueWait != 0 {
			t.Fatalf("reuse: Start %q Created %v QueueWait %v, want warm, none, 0",
				l.Start, l.Created.Phases(), l.QueueWait)
		}
		ls[i] = l
	}
	for _, l := range ls {
		p.Release(l, true)
	}
	if s := p.Stats(); s.ColdStarts != 3 || s.Created != 3 || s.Idle != 3 || s.Busy != 0 {
		t.Fatalf("stats %+v, want 3 cold, 3 idle", s)
	}
}

func TestPrewarm(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MinWarm = 2
	p := newTestPool(t, cfg, ff)
	eventually(t, func() bool { return p.Stats().Idle == 2 }, "2 prewarmed idle")

	l := mustAcquire(t, p)
	if l.Start != invoker.StartPrewarmed || len(l.Created.Phases()) != 1 {
		t.Fatalf("Start %q Created %v, want prewarmed with its phase", l.Start, l.Created.Phases())
	}
	inst := l.Instance
	p.Release(l, true)
	l = mustAcquire(t, p)
	if l.Instance != inst || l.Start != invoker.StartWarm {
		t.Fatalf("second use: instance %d Start %q, want %d warm", l.Instance.id, l.Start, inst.id)
	}
	p.Release(l, true)
	s := p.Stats()
	if s.Prewarmed != 2 || s.ColdStarts != 0 || s.Idle != 2 {
		t.Fatalf("stats %+v, want 2 prewarmed, 0 cold, 2 idle", s)
	}
	// MinWarm counts busy instances: holding both starts no third.
	a, b := mustAcquire(t, p), mustAcquire(t, p)
	if s := p.Stats(); s.Starting != 0 || s.Created != 2 {
		t.Fatalf("with MinWarm busy: stats %+v, want no new start", s)
	}
	p.Release(a, true)
	p.Release(b, true)
}

func TestSingleUseSparesAheadOfDemand(t *testing.T) {
	ff := &fakeFactory{singleUse: true}
	p := newTestPool(t, testConfig(), ff)

	seen := map[*fakeInst]bool{}
	l := mustAcquire(t, p)
	if l.Start != invoker.StartCold {
		t.Fatalf("first Start %q, want cold", l.Start)
	}
	seen[l.Instance] = true
	// A spare is created while the first request is still running.
	eventually(t, func() bool { return p.Stats().Idle == 1 }, "a spare ready while busy")
	first := l.Instance
	p.Release(l, true)
	eventually(t, func() bool { return first.closes.Load() == 1 }, "single-use instance destroyed")

	for range 5 {
		eventually(t, func() bool { return p.Stats().Idle >= 1 }, "spare ready")
		l := mustAcquire(t, p)
		if l.Start != invoker.StartPrewarmed {
			t.Fatalf("Start %q, want prewarmed (spare)", l.Start)
		}
		if seen[l.Instance] {
			t.Fatalf("single-use instance %d handed out twice", l.Instance.id)
		}
		seen[l.Instance] = true
		p.Release(l, true)
	}
	if s := p.Stats(); s.ColdStarts != 1 {
		t.Fatalf("stats %+v, want exactly 1 cold start", s)
	}
}

func TestSingleUseSparesFollowConcurrency(t *testing.T) {
	ff := &fakeFactory{singleUse: true}
	p := newTestPool(t, testConfig(), ff)
	var ls []*Lease[*fakeInst]
	for range 3 {
		ls = append(ls, mustAcquire(t, p))
	}
	// 3 were busy at once, so 3 spares are kept once capacity allows.
	for _, l := range ls {
		p.Release(l, true)
	}
	eventually(t, func() bool { return p.Stats().Idle == 3 }, "3 spares after 3 concurrent requests")
}

func TestScaleToZero(t *testing.T) {
	tests := []struct {
		name      string
		singleUse bool
		minWarm   int
	}{
		{"reusable to zero", false, 0},
		{"reusable to MinWarm", false, 1},
		{"single-use to zero", true, 0},
		{"single-use to MinWarm", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ff := &fakeFactory{singleUse: tt.singleUse}
			cfg := testConfig()
			cfg.IdleTimeout = 30 * time.Millisecond
			cfg.MinWarm = tt.minWarm
			p := newTestPool(t, cfg, ff)
			var ls []*Lease[*fakeInst]
			for range 3 {
				ls = append(ls, mustAcquire(t, p))
			}
			for _, l := range ls {
				p.Release(l, true)
			}
			eventually(t, func() bool {
				s := p.Stats()
				return s.Idle == tt.minWarm && s.Starting == 0 && s.Destroying == 0
			}, "idle down to MinWarm")
			live := 0
			for _, inst := range ff.instances() {
				if inst.closes.Load() == 0 {
					live++
				}
			}
			if live != tt.minWarm {
				t.Fatalf("%d instances alive, want %d", live, tt.minWarm)
			}
		})
	}
}

func TestQueueFullAndHandoff(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances, cfg.QueueSize = 1, 1
	p := newTestPool(t, cfg, ff)
	held := mustAcquire(t, p)
	inst := held.Instance

	got := acquireAsync(context.Background(), p)
	eventually(t, waiting(p, 1), "one waiter")
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Acquire over the queue = %v, want ErrQueueFull", err)
	}
	p.Release(held, true)
	r := <-got
	if r.err != nil {
		t.Fatalf("waiter: %v", r.err)
	}
	if r.l.Instance != inst || r.l.Start != invoker.StartWarm || r.l.QueueWait <= 0 {
		t.Fatalf("waiter got %d %q wait %v, want the released instance %d, warm, waited",
			r.l.Instance.id, r.l.Start, r.l.QueueWait, inst.id)
	}
	p.Release(r.l, true)
	if s := p.Stats(); s.QueueRejected != 1 || s.Created != 1 || s.Idle != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestQueueFIFO(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances = 1
	p := newTestPool(t, cfg, ff)
	held := mustAcquire(t, p)
	var chans []<-chan acquired
	for i := range 3 {
		chans = append(chans, acquireAsync(context.Background(), p))
		eventually(t, waiting(p, i+1), "waiter queued")
	}
	for i, ch := range chans {
		p.Release(held, true)
		r := <-ch
		if r.err != nil {
			t.Fatalf("waiter %d: %v", i, r.err)
		}
		held = r.l
		// The next waiter has not been served: FIFO, one handoff per release.
		if w := p.Stats().Waiting; w != len(chans)-i-1 {
			t.Fatalf("after serving waiter %d, %d wait, want %d", i, w, len(chans)-i-1)
		}
	}
	p.Release(held, true)
}

func TestQueueTimeout(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances, cfg.QueueTimeout = 1, 20*time.Millisecond
	p := newTestPool(t, cfg, ff)
	held := mustAcquire(t, p)
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("Acquire = %v, want ErrQueueTimeout", err)
	}
	if s := p.Stats(); s.QueueTimeouts != 1 || s.Waiting != 0 {
		t.Fatalf("stats %+v, want 1 timeout, none waiting", s)
	}
	p.Release(held, true)
	if s := p.Stats(); s.Idle != 1 {
		t.Fatalf("after release: stats %+v, want the instance idle (not lost)", s)
	}
}

func TestQueueContextCanceled(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances = 1
	p := newTestPool(t, cfg, ff)
	held := mustAcquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	got := acquireAsync(ctx, p)
	eventually(t, waiting(p, 1), "one waiter")
	cancel()
	if r := <-got; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", r.err)
	}
	if s := p.Stats(); s.Waiting != 0 || s.QueueTimeouts != 0 {
		t.Fatalf("stats %+v, want none waiting, no timeout counted", s)
	}
	p.Release(held, true)
	if s := p.Stats(); s.Idle != 1 {
		t.Fatalf("stats %+v, want the instance idle", s)
	}
}

// TestAbandonAfterGrant drives the race of a handoff with a giving-up waiter
// deterministically: the grant is already sent when the waiter gives up.
func TestAbandonAfterGrant(t *testing.T) {
	tests := []struct {
		name    string
		healthy bool // false: the release frees capacity, the grant is a create right
	}{
		{"instance handed", true},
		{"create right handed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ff := &fakeFactory{}
			cfg := testConfig()
			cfg.MaxInstances = 1
			p := newTestPool(t, cfg, ff)
			held := mustAcquire(t, p)

			w := &waiter[*fakeInst]{ch: make(chan grant[*fakeInst], 1)}
			p.mu.Lock()
			p.waiters.push(w)
			p.mu.Unlock()
			other := &waiter[*fakeInst]{ch: make(chan grant[*fakeInst], 1)}
			p.mu.Lock()
			p.waiters.push(other)
			p.mu.Unlock()

			p.Release(held, tt.healthy) // grants w
			if err := p.abandon(w, ErrQueueTimeout); !errors.Is(err, ErrQueueTimeout) {
				t.Fatalf("abandon = %v", err)
			}
			// w's grant went on to the next waiter instead of being lost.
			var g grant[*fakeInst]
			select {
			case g = <-other.ch:
			default:
				t.Fatal("the abandoned grant did not reach the next waiter")
			}
			l, err := p.take(context.Background(), g, 0)
			if err != nil {
				t.Fatalf("take: %v", err)
			}
			want := invoker.StartWarm
			if !tt.healthy {
				want = invoker.StartCold
			}
			if l.Start != want {
				t.Fatalf("next waiter Start %q, want %q", l.Start, want)
			}
			p.Release(l, true)
			if s := p.Stats(); s.Idle != 1 || s.Busy != 0 || s.Starting != 0 || s.Waiting != 0 {
				t.Fatalf("stats %+v, want 1 idle and nothing else", s)
			}
		})
	}
}

func TestUnhealthyNeverReused(t *testing.T) {
	ff := &fakeFactory{}
	p := newTestPool(t, testConfig(), ff)
	l := mustAcquire(t, p)
	bad := l.Instance
	p.Release(l, false)
	eventually(t, func() bool { return bad.closes.Load() == 1 }, "unhealthy instance destroyed")
	for range 20 {
		l := mustAcquire(t, p)
		if l.Instance == bad {
			t.Fatal("an instance released unhealthy was handed out again")
		}
		p.Release(l, true)
	}
}

func TestUnhealthyReleaseFreesCapacityForWaiter(t *testing.T) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances = 1
	p := newTestPool(t, cfg, ff)
	held := mustAcquire(t, p)
	bad := held.Instance
	got := acquireAsync(context.Background(), p)
	eventually(t, waiting(p, 1), "one waiter")
	p.Release(held, false)
	r := <-got
	if r.err != nil {
		t.Fatalf("waiter: %v", r.err)
	}
	if r.l.Instance == bad || r.l.Start != invoker.StartCold || r.l.QueueWait <= 0 {
		t.Fatalf("waiter got %d %q wait %v, want a new cold instance after a wait",
			r.l.Instance.id, r.l.Start, r.l.QueueWait)
	}
	p.Release(r.l, true)
}

func TestRecycle(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*Config)
		mem      int64
		keptUses int // releases that keep the instance
	}{
		{"max requests", func(c *Config) { c.MaxRequests = 3 }, 0, 2},
		{"max memory", func(c *Config) { c.MaxMemoryBytes = 100 }, 101, 0},
		{"memory at limit kept", func(c *Config) { c.MaxMemoryBytes = 100 }, 100, 5},
		{"no limits", func(*Config) {}, 1 << 40, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ff := &fakeFactory{}
			cfg := testConfig()
			tt.cfg(&cfg)
			p := newTestPool(t, cfg, ff)
			l := mustAcquire(t, p)
			first := l.Instance
			first.mem.Store(tt.mem)
			p.Release(l, true)
			for i := range tt.keptUses {
				l := mustAcquire(t, p)
				if l.Instance != first {
					t.Fatalf("use %d: got a new instance, want %d reused", i+2, first.id)
				}
				p.Release(l, true)
			}
			if tt.keptUses == 5 {
				return // never recycled
			}
			eventually(t, func() bool { return first.closes.Load() == 1 }, "recycled instance destroyed")
			l = mustAcquire(t, p)
			if l.Instance == first || l.Start != invoker.StartCold {
				t.Fatalf("after recycling: instance %d %q, want a new cold one", l.Instance.id, l.Start)
			}
			p.Release(l, true)
		})
	}
}

// TestTrim scales a prewarmed pool to zero at once, busy instances excepted,
// for both kinds of instance.
func TestTrim(t *testing.T) {
	for _, singleUse := range []bool{false, true} {
		t.Run(fmt.Sprintf("singleUse=%v", singleUse), func(t *testing.T) {
			ff := &fakeFactory{singleUse: singleUse}
			cfg := testConfig()
			cfg.MinWarm = 3
			cfg.IdleTimeout = time.Hour // only Trim can remove them
			p := newTestPool(t, cfg, ff)
			eventually(t, func() bool { return p.Stats().Idle == 3 }, "3 prewarmed idle")
			busy := mustAcquire(t, p)
			// A single-use pool starts a spare for the one taken: let it land.
			eventually(t, func() bool { return p.Stats().Starting == 0 }, "background starts done")
			idle := p.Stats().Idle

			cfg.MinWarm = 0
			if err := p.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			p.Trim()
			if s := p.Stats(); s.Idle != 0 || s.Busy != 1 {
				t.Fatalf("after Trim: %+v, want no idle instance and the busy one kept", s)
			}
			eventually(t, func() bool { return p.Stats().Destroyed == uint64(idle) }, "the idle instances destroyed")
			if busy.Instance.closes.Load() != 0 {
				t.Fatal("Trim closed a busy instance")
			}
			p.Release(busy, true)
			time.Sleep(50 * time.Millisecond) // a janitor tick or two
			if s := p.Stats(); s.Starting != 0 || (!singleUse && s.Idle != 1) {
				t.Fatalf("after Trim and release: %+v, want nothing restarted", s)
			}
		})
	}
}

// TestTrimWhileStarting: a prewarm still starting when the pool is scaled to
// zero is trimmed when it lands, not kept until the idle timeout.
func TestTrimWhileStarting(t *testing.T) {
	ff := &fakeFactory{gate: make(chan struct{})}
	cfg := testConfig()
	cfg.MinWarm = 2
	cfg.IdleTimeout = time.Hour // only Trim can remove them
	p := newTestPool(t, cfg, ff)
	eventually(t, func() bool { return p.Stats().Starting == 2 }, "2 prewarms starting")

	cfg.MinWarm = 0
	if err := p.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	p.Trim()
	close(ff.gate) // both land now, and every later start goes straight through
	eventually(t, func() bool { s := p.Stats(); return s.Starting == 0 && s.Destroyed == 2 }, "both late prewarms destroyed")
	if s := p.Stats(); s.Idle != 0 {
		t.Fatalf("after the late prewarms landed: %+v, want no idle instance", s)
	}
	// A later start is not trimmed: the pending trims were used up.
	l := mustAcquire(t, p)
	p.Release(l, true)
	if s := p.Stats(); s.Idle != 1 {
		t.Fatalf("after a later acquire and release: %+v, want its instance idle", s)
	}
}
