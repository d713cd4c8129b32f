package pool_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// loopInstance stands for a reusable (loop ABI) instance.
type loopInstance struct{ memory int64 }

func (*loopInstance) Reusable() bool                { return true }
func (i *loopInstance) MemoryBytes() int64          { return i.memory }
func (*loopInstance) Close(_ context.Context) error { return nil }

var _ pool.Instance = (*loopInstance)(nil)

func Example() {
	newInstance := func(_ context.Context, tl *invoker.Timeline) (*loopInstance, error) {
		start := time.Now()
		inst := &loopInstance{memory: 4 << 20} // instantiate here
		tl.Add(invoker.PhaseInstantiate, start)
		return inst, nil
	}
	p, err := pool.New(pool.DefaultConfig(), newInstance, nil)
	if err != nil {
		panic(err)
	}
	defer p.Close(context.Background())

	ctx := context.Background()
	for range 2 {
		l, err := p.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(l.Start, len(l.Created.Phases()))
		// ... l.Instance serves one request; healthy is false after any error.
		healthy := true
		p.Release(l, healthy)
	}
	s := p.Stats()
	fmt.Println("idle", s.Idle, "created", s.Created)
	// Output:
	// cold 1
	// warm 0
	// idle 1 created 1
}
