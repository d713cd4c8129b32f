package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
)

// Observe, Choose, Plan, the documents, Export, Import and Produce from many
// goroutines at once (run under -race).
func TestHammer(t *testing.T) {
	m := newTestModel(Config{})
	snap, err := trained(t, 7).Export()
	if err != nil {
		t.Fatal(err)
	}
	candidates := []string{"wasm-aot", "wasm-interp", "container"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			now := t0
			for i := range 300 {
				fn := fmt.Sprintf("f%d", i%3)
				rt := candidates[m.Choose(fn, 1<<(10+i%10), candidates)]
				now = now.Add(time.Millisecond)
				inv := runtimes[rt].warm(r, fn, rt, 1<<(10+i%10), now)
				inv.InFlight = 1 + i%4
				if i%50 == 0 {
					inv = cold(fn, rt, now, 30*time.Millisecond, time.Millisecond)
				}
				m.Observe(inv)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			m.Plan(t0, []gateway.PoolState{{Function: "f0", Runtime: "wasm-aot", MaxInstances: 3}, {Function: "f1", Runtime: "container", MaxInstances: 3}})
			m.Overview()
			m.Function("f1", 4096)
		}
	})
	wg.Go(func() {
		for range 10 {
			data, err := m.Export()
			if err != nil {
				t.Error(err)
				return
			}
			if err := newTestModel(Config{}).Import(data); err != nil {
				t.Errorf("import of a concurrent export: %v", err)
			}
			if err := m.Import(snap); err != nil {
				t.Error(err)
			}
			if _, err := m.Produce(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	var warm int64
	for fn := range 3 {
		doc, ok := m.Function(fmt.Sprintf("f%d", fn), 1024)
		if !ok {
			t.Fatalf("f%d unknown after the hammer", fn)
		}
		for _, d := range doc.(FunctionDoc).Runtimes {
			warm += d.Samples.Warm + d.Samples.Cold
		}
	}
	if warm != 8*300 {
		t.Errorf("learned from %d invocations, want %d", warm, 8*300)
	}
}
