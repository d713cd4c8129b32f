package model

import (
	"math"
)

// redecideEvery is how many warm observations of a function pass before
// Choose recomputes a regime's cached decision.
const redecideEvery = 32

// Choose picks the runtime of an invocation of function (gateway.Chooser).
// Per payload regime of requestBytes it explores each candidate, round
// robin, until it has Config.ExploreSamples observations there (warm, cold
// or failed); then it
// exploits the candidate with the lowest predicted latency at requestBytes
// (among those whose recent rate of runtime failures is at most one half;
// failed calls count as explored, and toward recomputing the decision; a
// 4xx or a 429 is not the runtime's failure),
// sends one call in Config.ExploreEvery elsewhere, and explores again when
// the chosen runtime's drift signal (an EWMA of its warm predictions'
// relative errors, each capped at 1) passes Config.ReexploreError. It does not
// allocate once the function is known.
func (m *Model) Choose(function string, requestBytes int, candidates []string) int {
	n := len(candidates)
	if n <= 1 {
		return 0
	}
	f := m.fn(function)
	r := regime(requestBytes)
	c := &f.choice[r]
	byRuntime := *f.byRuntime.Load()
	explore := m.cfg.ExploreSamples

	// Explore: round robin over the candidates short of samples here.
	start := int(c.rr.Add(1) % uint32(n)) // in range where int has 32 bits too
	for j := range n {
		i := (start + j) % n
		ks := byRuntime[candidates[i]]
		if ks == nil || ks.tried(r)-ks.exploreBase[r].Load() < int64(explore) {
			return i
		}
	}

	obs := f.warmObs.Load()
	idx := int(c.idx.Load()) - 1
	if idx < 0 || idx >= n || obs-c.at.Load() >= redecideEvery {
		idx = best(byRuntime, candidates, r, float64(requestBytes))
		c.idx.Store(int32(idx + 1))
		c.at.Store(obs)
	}
	// Re-explore when the chosen runtime's predictions went wrong, at most
	// once per full exploration's worth of observations.
	if ks := byRuntime[candidates[idx]]; ks != nil && ks.scored.Load() >= robustAfter &&
		math.Float64frombits(ks.liveErr.Load()) > m.cfg.ReexploreError && obs-c.resetAt.Load() >= int64(2*explore*n) {
		c.resetAt.Store(obs)
		for _, name := range candidates {
			if o := byRuntime[name]; o != nil {
				o.exploreBase[r].Store(o.tried(r))
			}
		}
		c.idx.Store(0)
		return (idx + 1) % n
	}
	// Bounded exploration: one call in ExploreEvery may go to another
	// candidate, in turn; a candidate predicted r times slower takes only
	// one of every ⌈r⌉ of its turns, so that exploring costs about
	// 1/ExploreEvery of the chosen runtime's time whatever the others cost
	// (one 90 ms interpreted call in 200 of 3 ms added 14% to the mean).
	if calls := f.calls.Add(1); calls%uint64(m.cfg.ExploreEvery) == 0 {
		turn := calls / uint64(m.cfg.ExploreEvery)
		alt := (idx + 1 + int(turn%uint64(n-1))) % n
		if every := exploreShare(byRuntime, candidates[idx], candidates[alt], float64(requestBytes)); (turn/uint64(n-1))%every == 0 {
			return alt
		}
	}
	return idx
}

// maxFailRate is the recent failure rate above which best passes a runtime over.
const maxFailRate = 0.5

// maxExploreRatio bounds how much rarer bounded exploration gets for a slow
// candidate, so that a drift on it is still seen.
const maxExploreRatio = 50

// exploreShare returns ⌈predicted(alt) / predicted(chosen)⌉ at reqBytes,
// in [1, maxExploreRatio]: a bounded exploration of alt takes one of that
// many of its turns.
func exploreShare(byRuntime map[string]*keyState, chosen, alt string, reqBytes float64) uint64 {
	c, a := byRuntime[chosen], byRuntime[alt]
	if c == nil || a == nil || c.warmN.Load() == 0 || a.warmN.Load() == 0 {
		return 1
	}
	classes := c.hasClasses() && a.hasClasses()
	pc, pa := c.predictFast(reqBytes, classes), a.predictFast(reqBytes, classes)
	if !(pc > 0) || !(pa > pc) {
		return 1
	}
	return uint64(min(math.Ceil(pa/pc), maxExploreRatio))
}

// best returns the candidate with the lowest predicted warm latency at
// reqBytes (the lowest median cold latency when none has warm data), among those whose recent failure rate in regime r is at most
// maxFailRate (a runtime that cannot serve the function is never fastest).
func best(byRuntime map[string]*keyState, candidates []string, r int, reqBytes float64) int {
	bi, bv := 0, math.Inf(1)
	eligible := func(ks *keyState) bool {
		return ks != nil && ks.warmN.Load() > 0 && math.Float64frombits(ks.failRate[r].Load()) <= maxFailRate
	}
	classes := true // medians against medians, or means against means
	for _, name := range candidates {
		if ks := byRuntime[name]; eligible(ks) && !ks.hasClasses() {
			classes = false
		}
	}
	for i, name := range candidates {
		ks := byRuntime[name]
		if !eligible(ks) {
			continue
		}
		if v := ks.predictFast(reqBytes, classes); v < bv {
			bi, bv = i, v
		}
	}
	if !math.IsInf(bv, 1) {
		return bi
	}
	// No warm data (sparse traffic, every call cold): the lowest median cold latency.
	for i, name := range candidates {
		ks := byRuntime[name]
		if ks == nil || ks.coldByRegime[r].Load() == 0 || math.Float64frombits(ks.failRate[r].Load()) > maxFailRate {
			continue
		}
		if v := math.Float64frombits(ks.coldP50.Load()); v < bv {
			bi, bv = i, v
		}
	}
	return bi
}
