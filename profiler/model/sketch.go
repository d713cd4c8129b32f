package model

import (
	"fmt"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// Sketch parameters: 1% relative accuracy; a snapshot's sketch holds at
// most sketchBins bins.
const (
	sketchAccuracy = 0.01
	sketchBins     = 2048
)

// sketches makes and decodes the model's quantile sketches, all on one index
// mapping so that they merge.
type sketches struct {
	mapping mapping.IndexMapping
}

func newSketches() sketches {
	m, err := mapping.NewLogarithmicMapping(sketchAccuracy)
	if err != nil {
		// sketchAccuracy is a valid constant: this cannot happen.
		panic(fmt.Sprintf("model: sketch mapping: %v", err))
	}
	return sketches{mapping: m}
}

// provider makes a sketch's store: sparse (pages of 32 bins, made as bins
// are used), so that a sketch's memory follows its bins and not the span
// of its indices: a snapshot of two-bin sketches at ±maxSketchIndex would
// make dense stores allocate sketchBins bins each. The index bound above
// bounds a store's bins.
func (s sketches) provider() store.Store { return store.NewBufferedPaginatedStore() }

// make returns an empty sketch.
func (s sketches) make() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(s.mapping, s.provider)
}

// Values enter the sketches clamped to [sketchMin, sketchMax] (zero stays
// zero), so that every bin index lies within about ±1382 at 1% accuracy,
// and a snapshot's bins are checked against ±maxSketchIndex.
const (
	sketchMin      = 1e-12
	sketchMax      = 1e12
	maxSketchIndex = 1500
)

// sketchJSON is a sketch in a snapshot: its zero count and its bins
// (logarithmic mapping at sketchAccuracy, bin Index[i] holds Count[i]).
// DDSketch's own binary and protobuf decoders trust their input (indices
// near the int range make the dense stores loop for ages), so snapshots
// carry the bins plainly and Import bounds them.
type sketchJSON struct {
	Zero  float64   `json:"zero,omitempty"`
	Index []int     `json:"index"`
	Count []float64 `json:"count"`
}

// encodeSketch returns sk's bins.
func encodeSketch(sk *ddsketch.DDSketch) sketchJSON {
	out := sketchJSON{Zero: sk.GetZeroCount(), Index: []int{}, Count: []float64{}}
	sk.GetPositiveValueStore().ForEach(func(i int, c float64) bool {
		if c != 0 {
			out.Index = append(out.Index, i)
			out.Count = append(out.Count, c)
		}
		return false
	})
	return out
}

// decode rebuilds a sketch made by encodeSketch; field names it in errors.
// Every count must be finite and non-negative, every index within bounds.
func (s sketches) decode(field string, j sketchJSON) (*ddsketch.DDSketch, error) {
	if len(j.Index) != len(j.Count) {
		return nil, fmt.Errorf("%s: %d indices for %d counts", field, len(j.Index), len(j.Count))
	}
	if len(j.Index) > sketchBins {
		return nil, fmt.Errorf("%s: %d bins, at most %d", field, len(j.Index), sketchBins)
	}
	if !finite(j.Zero) || j.Zero < 0 {
		return nil, fmt.Errorf("%s.zero: not a finite non-negative count", field)
	}
	pos := s.provider()
	total := j.Zero
	for i, idx := range j.Index {
		c := j.Count[i]
		if idx < -maxSketchIndex || idx > maxSketchIndex {
			return nil, fmt.Errorf("%s.index[%d]: %d out of [%d, %d]", field, i, idx, -maxSketchIndex, maxSketchIndex)
		}
		if !finite(c) || c < 0 {
			return nil, fmt.Errorf("%s.count[%d]: not a finite non-negative count", field, i)
		}
		total += c
		pos.AddWithCount(idx, c)
	}
	if !finite(total) {
		return nil, fmt.Errorf("%s: the counts add up to infinity", field)
	}
	sk := ddsketch.NewDDSketch(s.mapping, pos, s.provider())
	if j.Zero > 0 {
		_ = sk.AddWithCount(0, j.Zero) // zero is always trackable
	}
	return sk, nil
}

// quantile returns sk's q-quantile, 0 when it is empty.
func quantile(sk *ddsketch.DDSketch, q float64) float64 {
	if sk == nil || sk.IsEmpty() {
		return 0
	}
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		return 0
	}
	return v
}

// addSketch adds v (>= 0) to sk; values the sketch cannot index are dropped.
func addSketch(sk *ddsketch.DDSketch, v float64) {
	if !(v >= 0) {
		return
	}
	if v > 0 {
		v = min(max(v, sketchMin), sketchMax)
	}
	_ = sk.Add(v) // cannot fail: v is within the mapping's range
}

// decay halves sk's counts every period additions: the sketch then
// reflects roughly the last 2·period values (forgetting for drift).
func decay(sk *ddsketch.DDSketch, added int64, period int64) {
	if added > 0 && added%period == 0 {
		_ = sk.Reweight(0.5) // fails only for a non-positive weight
	}
}
