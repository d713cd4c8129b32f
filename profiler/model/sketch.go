package model

import (
	"encoding/base64"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// Sketch parameters: 1% relative accuracy; at most sketchBins bins, the
// lowest collapsed first (a bound on memory, also for decoded snapshots:
// 2048 bins at 1% span more than 10^17, from nanoseconds to years).
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

func (s sketches) provider() store.Store { return store.NewCollapsingLowestDenseStore(sketchBins) }

// make returns an empty sketch.
func (s sketches) make() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(s.mapping, s.provider)
}

// encode returns sk in DDSketch's binary encoding, base64.
func encodeSketch(sk *ddsketch.DDSketch) string {
	var b []byte
	sk.Encode(&b, false)
	return base64.StdEncoding.EncodeToString(b)
}

// decode parses a sketch made by encodeSketch; field names it in errors.
// Every count must be finite and non-negative and the mapping the model's.
func (s sketches) decode(field, text string) (*ddsketch.DDSketch, error) {
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %w", field, err)
	}
	sk, err := ddsketch.DecodeDDSketch(b, s.provider, s.mapping)
	if err != nil {
		return nil, fmt.Errorf("%s: bad sketch: %w", field, err)
	}
	bad := false
	sk.ForEach(func(v, c float64) bool {
		bad = !finite(c) || c < 0 || math.IsNaN(v)
		return bad
	})
	if n := sk.GetCount(); bad || !finite(n) || n < 0 || !finite(sk.GetZeroCount()) || sk.GetZeroCount() < 0 {
		return nil, fmt.Errorf("%s: bad sketch: a count is negative or not finite", field)
	}
	if !sk.GetNegativeValueStore().IsEmpty() {
		return nil, fmt.Errorf("%s: bad sketch: negative values", field)
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
	if !(v >= 0) || math.IsInf(v, 0) {
		return
	}
	_ = sk.Add(v) // fails only for values beyond the mapping's range
}

// decay halves sk's counts every period additions: the sketch then
// reflects roughly the last 2·period values (forgetting for drift).
func decay(sk *ddsketch.DDSketch, added int64, period int64) {
	if added > 0 && added%period == 0 {
		_ = sk.Reweight(0.5) // fails only for a non-positive weight
	}
}
