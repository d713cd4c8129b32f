package gateway

import (
	"iter"

	"github.com/lumos-edge/lumos/pool"
)

// FunctionStats is a snapshot of one deployed function, for metrics.
type FunctionStats struct {
	// Name and Runtime identify the function; Runtime is as deployed
	// (RuntimeAuto for a function whose runtime is chosen per invocation).
	Name, Runtime string
	// Replicas is as in FunctionStatus: the warm minimum or the live
	// instances, whichever is more (OpenFaaS's gateway_service_count),
	// summed over the function's runtimes.
	Replicas int
	// Pool is the function's pool: queue depth, instances by state; for
	// runtime auto, the sum of its runtimes' pools.
	Pool pool.Stats
	// Variants holds each runtime's pool of a function deployed with
	// runtime auto; nil for a function on one runtime.
	Variants []VariantStats
}

// VariantStats is the pool of one runtime of a function deployed with
// runtime auto.
type VariantStats struct {
	Runtime string
	Pool    pool.Stats
}

// FunctionStats yields a snapshot of each deployed function, in no order.
// It takes no lock that the invocation path needs.
func (g *Gateway) FunctionStats() iter.Seq[FunctionStats] {
	return func(yield func(FunctionStats) bool) {
		for name, v := range *g.table.Load() {
			fs := FunctionStats{Name: name, Runtime: v.set.runtime}
			if len(v.variants) > 1 {
				fs.Variants = make([]VariantStats, 0, len(v.variants))
			}
			for _, vr := range v.variants {
				st := vr.pool.Stats()
				fs.Pool = addStats(fs.Pool, st)
				fs.Replicas += max(vr.pool.Config().MinWarm, st.Idle+st.Busy+st.Starting)
				if fs.Variants != nil {
					fs.Variants = append(fs.Variants, VariantStats{Runtime: vr.runtime, Pool: st})
				}
			}
			if !yield(fs) {
				return
			}
		}
	}
}

// addStats sums two pools' snapshots, field by field.
func addStats(a, b pool.Stats) pool.Stats {
	return pool.Stats{
		Idle: a.Idle + b.Idle, Busy: a.Busy + b.Busy, Starting: a.Starting + b.Starting,
		Waiting: a.Waiting + b.Waiting, Destroying: a.Destroying + b.Destroying,
		Created: a.Created + b.Created, Destroyed: a.Destroyed + b.Destroyed,
		ColdStarts: a.ColdStarts + b.ColdStarts, Prewarmed: a.Prewarmed + b.Prewarmed,
		CreateErrors: a.CreateErrors + b.CreateErrors, QueueRejected: a.QueueRejected + b.QueueRejected,
		QueueTimeouts: a.QueueTimeouts + b.QueueTimeouts,
	}
}
