package gateway

import (
	"iter"

	"github.com/lumos-edge/lumos/pool"
)

// FunctionStats is a snapshot of one deployed function, for metrics.
type FunctionStats struct {
	// Name and Runtime identify the function.
	Name, Runtime string
	// Replicas is as in FunctionStatus: the warm minimum or the live
	// instances, whichever is more (OpenFaaS's gateway_service_count).
	Replicas int
	// Pool is the function's pool: queue depth, instances by state.
	Pool pool.Stats
}

// FunctionStats yields a snapshot of each deployed function, in no order.
// It takes no lock that the invocation path needs.
func (g *Gateway) FunctionStats() iter.Seq[FunctionStats] {
	return func(yield func(FunctionStats) bool) {
		for name, v := range *g.table.Load() {
			st := v.pool.Stats()
			live := st.Idle + st.Busy + st.Starting
			fs := FunctionStats{Name: name, Runtime: v.set.runtime, Replicas: max(v.pool.Config().MinWarm, live), Pool: st}
			if !yield(fs) {
				return
			}
		}
	}
}
