package pool

import (
	"context"
	"testing"
)

// BenchmarkAcquireRelease measures the warm path: an idle instance is
// acquired and released by GOMAXPROCS goroutines at once.
func BenchmarkAcquireRelease(b *testing.B) {
	ff := &fakeFactory{}
	cfg := testConfig()
	cfg.MaxInstances, cfg.QueueSize = 256, 256
	p, err := New(cfg, ff.New, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := p.Close(context.Background()); err != nil {
			b.Error(err)
		}
	}()
	ctx := context.Background()
	// Warm up enough instances for every parallel goroutine.
	var ls []*Lease[*fakeInst]
	for range 64 {
		l, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		p.Release(l, true)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l, err := p.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release(l, true)
		}
	})
	b.StopTimer()
	if s := p.Stats(); s.ColdStarts != 64 {
		b.Fatalf("the benchmark left the warm path: %+v", s)
	}
}

// TestWarmPathAllocates nothing: leases live in the pool's entries.
func TestWarmPathAllocatesNothing(t *testing.T) {
	ff := &fakeFactory{}
	p := newTestPool(t, testConfig(), ff)
	p.Release(mustAcquire(t, p), true)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		l, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(l, true)
	})
	if allocs != 0 {
		t.Fatalf("warm Acquire+Release allocates %v times", allocs)
	}
}
