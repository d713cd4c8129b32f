package model

import (
	"math/rand/v2"
	"testing"
)

// At a steady concurrency above one, the in-flight feature is constant and
// collinear with the intercept: the warm prediction at one in flight must
// still be the observed latency (review finding 1).
func TestSteadyConcurrencyKeepsIntercept(t *testing.T) {
	for _, inflight := range []int{2, 4, 8} {
		m := newTestModel(Config{})
		r := rand.New(rand.NewPCG(1, 2))
		tr := truth{execBase: 1, ioBase: 0.03, overBase: 0.02, respRatio: 1}
		now := t0
		for range 300 {
			inv := tr.warm(r, "f", "rt", 1024, now)
			inv.InFlight = inflight
			m.Observe(inv)
		}
		ks := m.key(key{"f", "rt", tr.warm(r, "f", "rt", 1024, now).ABI})
		ks.mu.Lock()
		ks.fresh()
		got := ks.predictMs(1024, 1)
		ks.mu.Unlock()
		within(t, "predicted warm ms at one in flight", got, 1.05, 0.05)
		within(t, "predictFast", ks.predictFast(1024), 1.05, 0.05)
	}
}
