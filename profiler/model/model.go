// Package model is Lumos's performance model: learned online from every
// invocation record, per function, runtime and ABI, it predicts cold-start
// and warm latency (as a function of request and response bytes and of the
// concurrency in flight), memory per instance and the arrival process;
// relates runtimes to each other across functions; scores its own
// predictions on live traffic; and acts on what it learned, choosing the
// runtime of functions deployed as "auto" (gateway.Chooser) and planning
// idle timeouts and prewarmed instances (gateway.KeepAlive). Its state
// exports to and imports from a versioned JSON snapshot.
//
// RATIONALE.md states the model's assumptions and where it will be wrong.
package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// Defaults of Config's zero fields.
const (
	DefaultForgetting     = 0.995
	DefaultExploreSamples = 10
	DefaultReexploreError = 0.5
	DefaultExploreEvery   = 200
	DefaultMinIdle        = time.Second
	DefaultMaxIdle        = 10 * time.Minute
	DefaultIdleMargin     = 1.5
	// DefaultInstanceMemory is assumed per instance when the model has not
	// seen a function's memory yet.
	DefaultInstanceMemory = 64 << 20
)

// Config configures a Model. The zero value is ready to use.
type Config struct {
	// Environment is the machine the model learns on; nil means
	// CurrentEnvironment() (tests inject a fixed one).
	Environment *Environment
	// Forgetting is the regressions' forgetting factor λ in (0, 1]: a sample
	// n invocations old weighs λ^n. Default DefaultForgetting (about the
	// last 200 invocations).
	Forgetting float64
	// ExploreSamples is how many invocations (warm, cold or failed) each candidate runtime of
	// an "auto" function gets in a payload regime before Choose exploits.
	ExploreSamples int
	// ReexploreError is the drift signal of the chosen runtime above which
	// Choose explores again: an EWMA (α = 0.1) of the warm predictions'
	// relative errors |predicted-observed|/observed, each capped at 1, so it
	// lies in [0, 1]. It must be in (0, 1); 0 or out of range means
	// DefaultReexploreError (Validate reports out of range).
	ReexploreError float64
	// ExploreEvery: one call in ExploreEvery goes to another candidate than
	// the chosen one, so drift on the others is noticed.
	ExploreEvery int
	// DefaultIdle is the idle timeout planned for functions whose arrivals
	// are unknown or rare; default pool.DefaultIdleTimeout.
	DefaultIdle time.Duration
	// MinIdle and MaxIdle bound every planned idle timeout.
	MinIdle, MaxIdle time.Duration
	// IdleMargin multiplies the p99 inter-arrival time into an idle timeout.
	IdleMargin float64
	// MemoryBudget bounds the memory of all prewarmed instances together,
	// in bytes; 0 means no bound.
	MemoryBudget int64
	// Now is the clock of Overview and Function (their recommendations);
	// nil means time.Now.
	Now func() time.Time
}

// Validate reports settings New would replace by their defaults because
// they are out of range (zero values are fine: they mean the defaults).
func (c Config) Validate() error {
	switch {
	case c.Forgetting < 0 || c.Forgetting > 1:
		return fmt.Errorf("model: Forgetting %v: want a factor in (0, 1]", c.Forgetting)
	case c.ReexploreError < 0 || c.ReexploreError >= 1:
		return fmt.Errorf("model: ReexploreError %v: want a value in (0, 1) (the drift signal it is compared with caps each error at 1)", c.ReexploreError)
	case c.ExploreSamples < 0:
		return fmt.Errorf("model: ExploreSamples %d: want a non-negative count", c.ExploreSamples)
	case c.ExploreEvery < 0:
		return fmt.Errorf("model: ExploreEvery %d: want a non-negative count", c.ExploreEvery)
	case c.MemoryBudget < 0:
		return fmt.Errorf("model: MemoryBudget %d: want a non-negative byte count", c.MemoryBudget)
	}
	return nil
}

func (c *Config) defaults() {
	if c.Forgetting <= 0 || c.Forgetting > 1 {
		c.Forgetting = DefaultForgetting
	}
	if c.ExploreSamples <= 0 {
		c.ExploreSamples = DefaultExploreSamples
	}
	if c.ReexploreError <= 0 || c.ReexploreError >= 1 {
		c.ReexploreError = DefaultReexploreError // >= 1 would never re-explore
	}
	if c.ExploreEvery <= 0 {
		c.ExploreEvery = DefaultExploreEvery
	}
	if c.DefaultIdle <= 0 {
		c.DefaultIdle = pool.DefaultIdleTimeout
	}
	if c.MinIdle <= 0 {
		c.MinIdle = DefaultMinIdle
	}
	if c.MaxIdle < c.MinIdle {
		c.MaxIdle = max(DefaultMaxIdle, c.MinIdle)
	}
	if c.IdleMargin < 1 {
		c.IdleMargin = DefaultIdleMargin
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Model is the learned performance model. It is safe for concurrent use.
type Model struct {
	cfg Config
	env Environment
	sk  sketches

	mu   sync.Mutex                          // serializes additions to keys and fns
	keys atomic.Pointer[map[key]*keyState]   // copy on write
	fns  atomic.Pointer[map[string]*fnState] // copy on write

	importMu sync.Mutex // serializes Import's check of maxKeys with its merge

	originMu sync.Mutex
	origins  []Environment // environments of imported snapshots
}

var (
	_ gateway.Chooser   = (*Model)(nil)
	_ gateway.Model     = (*Model)(nil)
	_ gateway.KeepAlive = (*Model)(nil)
)

// New returns an empty model.
func New(cfg Config) *Model {
	cfg.defaults()
	m := &Model{cfg: cfg, sk: newSketches()}
	if cfg.Environment != nil {
		m.env = *cfg.Environment
	} else {
		m.env = CurrentEnvironment()
	}
	keys := map[key]*keyState{}
	fns := map[string]*fnState{}
	m.keys.Store(&keys)
	m.fns.Store(&fns)
	return m
}

// Environment returns the environment the model learns on.
func (m *Model) Environment() Environment { return m.env }

// key identifies what the model learns separately.
type key struct {
	function, runtime string
	abi               invoker.ABI
}

// coldPhases are the cold-start phases with a sketch each.
var coldPhases = [...]invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseCacheLoad, invoker.PhaseInstantiate,
	invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady}

// Payload regimes of Choose: request bodies < 4 KiB, < 64 KiB, < 1 MiB, larger.
const regimes = 4

func regime(requestBytes int) int {
	switch {
	case requestBytes < 4<<10:
		return 0
	case requestBytes < 64<<10:
		return 1
	case requestBytes < 1<<20:
		return 2
	}
	return 3
}

// Smoothing of the EWMAs (live error, memory, request size, arrival rate).
const ewmaAlpha = 0.05

// shareAlpha smooths each runtime's share of a function's calls (about the
// last 200 calls).
const shareAlpha = 0.005

// Residual and inter-arrival sketches halve their counts every decayPeriod
// additions.
const decayPeriod = 1024

// Drift reset: when the drift signal (an EWMA with driftAlpha of the warm
// predictions' errors, each capped at 1, counted once the fit has
// robustAfter samples) passes driftError after at least robustAfter
// predictions, and driftAfter warm samples since the last reset), the regressions keep only driftKeep of their accumulated weight
// and do not clip residuals for the next driftAfter samples.
//
// A miss within driftFloorMs is not counted as an error there: the
// scheduler's jitter on this shared machine (tens to hundreds of
// microseconds) is 100% of a 60 us hello, which reset the regressions
// (dropping their clipping) and made runtime auto re-explore the
// interpreter every few dozen calls (BenchmarkAutoRuntime: 50 of 200 calls
// of hello; TestJitterIsNotDrift).
const (
	driftFloorMs = 0.25
	driftError   = 0.5
	driftAfter   = 50
	driftKeep    = 0.001
	driftAlpha   = 0.1
)

// minResidualFit is the warm sample count before residuals are recorded
// (before it the fit itself is still moving).
const minResidualFit = 10

// keyState is what the model learned about one function on one runtime and ABI.
type keyState struct {
	key
	fn *fnState

	mu        sync.Mutex
	cold      int64
	prewarmed int64
	warm      int64
	failed    int64
	coldTotal *ddsketch.DDSketch // whole cold invocations, seconds
	coldStart *ddsketch.DDSketch // sum of the cold-start phases, seconds
	coldPhase [len(coldPhases)]*ddsketch.DDSketch
	exec, io  ewls                    // milliseconds
	over      ewls                    // gateway overhead: total minus the phases, milliseconds
	resp      ewls                    // response MiB from [1, request MiB]
	sizes     [sizeClasses]*sizeClass // the latest warm latencies by request size; nil until used
	residual  *ddsketch.DDSketch
	residualN int64
	memEWMA   float64
	memMax    int64
	memN      int64
	reqEWMA   float64 // request bytes
	driftAt   int64   // ks.warm at the last drift reset
	drifts    int64
	driftErr  float64 // EWMA (driftAlpha) of capped warm errors since the fit has robustAfter samples
	driftN    int64   // warm predictions in driftErr
	errEWMA   float64
	errSum    float64
	errN      int64

	// Published after each update for the lock-free readers (Choose, metrics).
	coef         [dims]atomic.Uint64 // float64 bits: exec+io+over θ
	respCoef     [2]atomic.Uint64
	classX       [sizeClasses]atomic.Uint64 // float64 bits: a size class's mean request MiB
	classY       [sizeClasses]atomic.Uint64 // float64 bits: its median latency, ms
	classMask    atomic.Uint32              // the classes with classMin samples
	warmN        atomic.Int64
	liveErr      atomic.Uint64 // float64 bits of driftErr
	scored       atomic.Int64  // driftN
	warmByRegime [regimes]atomic.Int64
	failByRegime [regimes]atomic.Int64
	failRate     [regimes]atomic.Uint64 // float64 bits: EWMA (failAlpha) of runtime failures per call
	coldByRegime [regimes]atomic.Int64
	coldP50      atomic.Uint64         // float64 bits: median cold latency, seconds
	exploreBase  [regimes]atomic.Int64 // warm + failed at the last re-exploration
}

// tried is how many calls of regime r ran here: warm, cold or failed.
func (ks *keyState) tried(r int) int64 {
	return ks.warmByRegime[r].Load() + ks.coldByRegime[r].Load() + ks.failByRegime[r].Load()
}

func (m *Model) newKeyState(k key, fn *fnState) *keyState {
	ks := &keyState{key: k, fn: fn, coldTotal: m.sk.make(), coldStart: m.sk.make(), residual: m.sk.make(),
		exec: newEWLS(dims), io: newEWLS(dims), over: newEWLS(dims), resp: newEWLS(2)}
	for i := range ks.coldPhase {
		ks.coldPhase[i] = m.sk.make()
	}
	return ks
}

// fnState is what the model learned about one function on all runtimes:
// its arrivals, and the state of Choose.
type fnState struct {
	name string

	mu        sync.Mutex
	inter     *ddsketch.DDSketch // inter-arrival times, seconds
	interN    int64
	last      time.Time
	meanInter float64   // EWMA, seconds
	share     []shareOf // per runtime, the EWMA (shareAlpha) of its share of the calls

	byRuntime atomic.Pointer[map[string]*keyState] // the latest key per runtime; copy on write
	calls     atomic.Uint64
	warmObs   atomic.Int64 // observations Choose counts toward redeciding: warm and cold calls, runtime failures
	choice    [regimes]choice
}

// shareOf is a runtime's share of a function's recent calls (a slice of
// them, not a map: a function has one to three runtimes, and Observe
// updates every share on every call).
type shareOf struct {
	runtime string
	share   float64
}

// choice is Choose's cached decision for one payload regime.
type choice struct {
	idx     atomic.Int32 // chosen candidate + 1; 0: none yet
	at      atomic.Int64 // fnState.warmObs when decided
	resetAt atomic.Int64 // fnState.warmObs at the last re-exploration
	rr      atomic.Uint32
}

// fn returns name's state, creating it.
func (m *Model) fn(name string) *fnState {
	if f, ok := (*m.fns.Load())[name]; ok {
		return f
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.fns.Load()
	if f, ok := old[name]; ok {
		return f
	}
	f := &fnState{name: name, inter: m.sk.make()}
	empty := map[string]*keyState{}
	f.byRuntime.Store(&empty)
	next := make(map[string]*fnState, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = f
	m.fns.Store(&next)
	return f
}

// key returns k's state, creating it.
func (m *Model) key(k key) *keyState {
	if ks, ok := (*m.keys.Load())[k]; ok {
		return ks
	}
	f := m.fn(k.function)
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.keys.Load()
	if ks, ok := old[k]; ok {
		return ks
	}
	ks := m.newKeyState(k, f)
	next := make(map[key]*keyState, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = ks
	m.keys.Store(&next)
	m.setRuntime(f, ks)
	return ks
}

// setRuntime makes ks the key Choose reads for its runtime. Callers hold m.mu.
func (m *Model) setRuntime(f *fnState, ks *keyState) {
	old := *f.byRuntime.Load()
	if old[ks.runtime] == ks {
		return
	}
	next := make(map[string]*keyState, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[ks.runtime] = ks
	f.byRuntime.Store(&next)
}

// features fills x for a call of reqBytes with respBytes in flight inflight.
func features(x *[dims]float64, reqBytes, respBytes float64, inflight int) {
	x[0] = 1
	x[1] = reqBytes / (1 << 20)
	x[2] = respBytes / (1 << 20)
	x[3] = float64(max(inflight, 1) - 1)
}

// Observe learns from one invocation record. It reads inv synchronously and
// keeps nothing of it; it is safe to call from many goroutines.
func (m *Model) Observe(inv *invoker.Invocation) {
	if inv == nil || inv.Function == "" {
		return
	}
	ks := m.key(key{inv.Function, inv.Runtime, inv.ABI})
	if (*ks.fn.byRuntime.Load())[inv.Runtime] != ks {
		m.mu.Lock()
		m.setRuntime(ks.fn, ks)
		m.mu.Unlock()
	}
	m.observeArrival(ks.fn, inv.Runtime, inv.Begin)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.observe(inv, m.cfg.Forgetting)
}

func (m *Model) observeArrival(f *fnState, runtime string, begin time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := false
	for i := range f.share {
		s := &f.share[i]
		s.share *= 1 - shareAlpha
		if s.runtime == runtime {
			s.share += shareAlpha
			found = true
		}
	}
	if !found {
		f.share = append(f.share, shareOf{runtime, shareAlpha})
	}
	if begin.IsZero() {
		return
	}
	if !f.last.IsZero() {
		d := begin.Sub(f.last).Seconds()
		if d < 0 { // records of concurrent calls arrive out of order
			d = 0
		}
		addSketch(f.inter, d)
		f.interN++
		decay(f.inter, f.interN, decayPeriod)
		if f.interN == 1 {
			f.meanInter = d
		} else {
			f.meanInter += ewmaAlpha * (d - f.meanInter)
		}
	}
	if begin.After(f.last) {
		f.last = begin
	}
}

// observe updates ks from inv. Callers hold ks.mu.
func (ks *keyState) observe(inv *invoker.Invocation, lambda float64) {
	total := inv.Total.Seconds()
	if inv.MemoryBytes > 0 {
		if ks.memN == 0 {
			ks.memEWMA = float64(inv.MemoryBytes)
		} else {
			ks.memEWMA += ewmaAlpha * (float64(inv.MemoryBytes) - ks.memEWMA)
		}
		ks.memMax = max(ks.memMax, inv.MemoryBytes)
		ks.memN++
	}
	if inv.Err != nil {
		if !runtimeFailure(inv) {
			return
		}
		ks.failed++
		r := regime(inv.RequestBytes)
		ks.failByRegime[r].Add(1)
		ks.outcome(r, true)
		if inv.Start == invoker.StartCold {
			ks.cold++
		}
		ks.fn.warmObs.Add(1)
		return
	}
	switch inv.Start {
	case invoker.StartCold:
		if ks.coldTotal.GetCount() >= 1 {
			ks.score(quantile(ks.coldTotal, 0.5), total)
		}
		ks.cold++
		addSketch(ks.coldTotal, total)
		ks.coldP50.Store(math.Float64bits(quantile(ks.coldTotal, 0.5)))
		r := regime(inv.RequestBytes)
		ks.coldByRegime[r].Add(1)
		ks.outcome(r, false)
		ks.fn.warmObs.Add(1)
		var sum float64
		for i, p := range coldPhases {
			if d := inv.Phases.Get(p); d > 0 {
				addSketch(ks.coldPhase[i], d.Seconds())
				sum += d.Seconds()
			}
		}
		addSketch(ks.coldStart, sum)
		return
	case invoker.StartPrewarmed:
		ks.prewarmed++
	case invoker.StartWarm:
	default:
		return
	}
	req := float64(inv.RequestBytes)
	var x [dims]float64
	// The warm prediction excludes queueing (overhead is the total minus
	// all phases, queue wait included): score it against the call's own
	// time, so that overload does not look like drift.
	served := (inv.Total - inv.Phases.Get(invoker.PhaseQueueWait)).Seconds()
	if ks.exec.n >= 3 {
		pred := ks.predictMs(req, inv.InFlight)
		e := ks.score(pred/1e3, served)
		if ks.exec.n >= robustAfter && e >= 0 && ks.knows(req) {
			// The drift signal: recent errors, each capped at 1 so that
			// one outlier does not raise it alone, and none when the miss
			// is within driftFloorMs: the jitter of a sub-millisecond call.
			// Only at sizes the model has seen: a miss at a new size is
			// the extrapolation's, not a change of behaviour (resetting
			// for it threw away what every other size had taught).
			if math.Abs(pred-total*1e3) < driftFloorMs {
				e = 0
			}
			ks.driftErr += driftAlpha * (min(e, 1) - ks.driftErr)
			ks.driftN++
			ks.liveErr.Store(math.Float64bits(ks.driftErr))
			ks.scored.Store(ks.driftN)
		}
		if ks.warm >= minResidualFit && pred > 0 && served > 0 {
			addSketch(ks.residual, served*1e3/pred)
			ks.residualN++
			decay(ks.residual, ks.residualN, decayPeriod)
		}
	}
	ks.warm++
	if ks.driftN >= robustAfter && ks.driftErr > driftError && ks.warm-ks.driftAt >= driftAfter {
		// The predictions went wrong lately: the behaviour drifted (a
		// redeploy, a noisy neighbour). Shrink the regressions' memory so
		// the next samples dominate (covariance resetting).
		ks.driftAt = ks.warm
		ks.drifts++
		ks.driftErr, ks.driftN = 0, 0
		for _, r := range [...]*ewls{&ks.exec, &ks.io, &ks.over} {
			r.shrink(driftKeep, driftAfter)
		}
		// The size classes stay: each follows its own calls within half
		// its window, and emptied by a reset that a burst of noise set
		// off, they left only the shrunk regressions to predict every
		// size (fib on wasm-aot at 1 MiB: 0.14 ms predicted, 0.58 seen).
	}
	features(&x, req, float64(inv.ResponseBytes), inv.InFlight)
	exec := inv.Phases.Get(invoker.PhaseExecute)
	io := inv.Phases.Get(invoker.PhaseRequestWrite) + inv.Phases.Get(invoker.PhaseResponseRead)
	var phases time.Duration
	for _, p := range inv.Phases.Phases() {
		phases += p.Duration
	}
	ks.exec.updateRelative(&x, ms(exec), lambda)
	ks.io.updateRelative(&x, ms(io), lambda)
	ks.over.updateRelative(&x, ms(inv.Total-phases), lambda)
	// The size class keeps the latency at one call in flight: the
	// regressions' cost of the others is taken off (never below half).
	lat := served * 1e3
	ks.addSize(classOf(req), math.Max(lat/2, lat-ks.inflightMs(inv.InFlight)), x[1])
	rx := [dims]float64{1, x[1]}
	ks.resp.update(&rx, x[2], lambda)
	if ks.warm == 1 {
		ks.reqEWMA = req
	} else {
		ks.reqEWMA += ewmaAlpha * (req - ks.reqEWMA)
	}
	ks.publish()
	r := regime(inv.RequestBytes)
	ks.warmByRegime[r].Add(1)
	ks.outcome(r, false)
	ks.fn.warmObs.Add(1)
}

// failAlpha smooths the failure rate Choose reads: a runtime that starts
// failing every call passes a rate of 0.5 after 7 failures.
const failAlpha = 0.1

// outcome updates regime r's failure rate with one call. Callers hold ks.mu.
func (ks *keyState) outcome(r int, failed bool) {
	var v float64
	if failed {
		v = 1
	}
	old := math.Float64frombits(ks.failRate[r].Load())
	ks.failRate[r].Store(math.Float64bits(old + failAlpha*(v-old)))
}

// runtimeFailure reports whether inv failed because of its runtime (a trap,
// a lost instance, a timeout), not because of the client (4xx: a bad or too
// large request) or of overload (429: queue full or queue timeout), nor
// because the gateway is closing or the client went away.
func runtimeFailure(inv *invoker.Invocation) bool {
	switch {
	case inv.Err == nil, inv.Status >= 400 && inv.Status < 500,
		errors.Is(inv.Err, pool.ErrQueueFull), errors.Is(inv.Err, pool.ErrQueueTimeout),
		errors.Is(inv.Err, pool.ErrClosed), errors.Is(inv.Err, context.Canceled):
		return false
	}
	return true
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// score records the relative error of a prediction made before the update
// and returns it (-1 when observed is not positive).
func (ks *keyState) score(pred, observed float64) float64 {
	if !(observed > 0) {
		return -1
	}
	e := math.Abs(pred-observed) / observed
	if ks.errN == 0 {
		ks.errEWMA = e
	} else {
		ks.errEWMA += ewmaAlpha * (e - ks.errEWMA)
	}
	ks.errSum += e
	ks.errN++
	return e
}

// fresh brings every regression's θ up to date. Callers hold ks.mu.
func (ks *keyState) fresh() {
	for _, r := range [...]*ewls{&ks.exec, &ks.io, &ks.over, &ks.resp} {
		r.fresh()
	}
}

// knows reports whether the size class of reqBytes has classMin samples.
// Callers hold ks.mu.
func (ks *keyState) knows(reqBytes float64) bool {
	sc := ks.sizes[classOf(reqBytes)]
	return sc != nil && sc.count() >= classMin
}

// addSize adds a warm sample to size class c and publishes the class.
// Callers hold ks.mu.
func (ks *keyState) addSize(c int, latMs, sizeMiB float64) {
	sc := ks.sizes[c]
	if sc == nil {
		sc = &sizeClass{}
		ks.sizes[c] = sc
	}
	sc.add(latMs, sizeMiB)
	ks.publishClass(c)
}

// publishClass stores size class c's point for the lock-free readers.
// Callers hold ks.mu.
func (ks *keyState) publishClass(c int) {
	sc := ks.sizes[c]
	bit := uint32(1) << c
	if sc == nil || sc.count() < classMin {
		ks.classMask.And(^bit)
		return
	}
	x, y := sc.point()
	ks.classX[c].Store(math.Float64bits(x))
	ks.classY[c].Store(math.Float64bits(y))
	ks.classMask.Or(bit)
}

// points fills pts with the points of the size classes with classMin
// samples, in class order, and returns how many. Callers hold ks.mu.
func (ks *keyState) points(pts *[sizeClasses]point) int {
	n := 0
	for _, sc := range ks.sizes {
		if sc != nil && sc.count() >= classMin {
			pts[n].x, pts[n].y = sc.point()
			n++
		}
	}
	return n
}

// publish stores the warm prediction's coefficients for the lock-free readers.
func (ks *keyState) publish() {
	for i := range dims {
		ks.coef[i].Store(math.Float64bits(ks.exec.theta[i] + ks.io.theta[i] + ks.over.theta[i]))
	}
	ks.respCoef[0].Store(math.Float64bits(ks.resp.theta[0]))
	ks.respCoef[1].Store(math.Float64bits(ks.resp.theta[1]))
	ks.warmN.Store(ks.warm)
}

// responseMiB predicts the response size of a request of reqMiB. Callers hold ks.mu.
func (ks *keyState) responseMiB(reqMiB float64) float64 {
	x := [dims]float64{1, reqMiB}
	return math.Max(0, ks.resp.predict(&x))
}

// regressionParts returns the regressions' execute, I/O and overhead
// times in milliseconds of a warm call of reqBytes with inflight in
// flight. Callers hold ks.mu.
func (ks *keyState) regressionParts(reqBytes float64, inflight int) (exec, io, over float64) {
	var x [dims]float64
	features(&x, reqBytes, 0, inflight)
	x[2] = ks.responseMiB(x[1])
	return math.Max(0, ks.exec.predict(&x)), math.Max(0, ks.io.predict(&x)), math.Max(0, ks.over.predict(&x))
}

// inflightMs is the regressions' cost, in milliseconds, of inflight - 1
// other calls in flight; never negative (a noisy coefficient below zero
// would make a sample taken at 32 in flight count as many times slower
// at one). Callers hold ks.mu.
func (ks *keyState) inflightMs(inflight int) float64 {
	k := float64(max(inflight, 1) - 1)
	return k * math.Max(0, ks.exec.theta[3]+ks.io.theta[3]+ks.over.theta[3])
}

// predictParts returns the predicted execute, I/O and overhead times in
// milliseconds of a warm call of reqBytes with inflight in flight: the size
// classes' p50 at reqBytes (curve) plus the cost of the calls in flight,
// split in the regressions' proportions; the regressions alone while no
// class has classMin samples. Callers hold ks.mu.
func (ks *keyState) predictParts(reqBytes float64, inflight int) (exec, io, over float64) {
	exec, io, over = ks.regressionParts(reqBytes, inflight)
	var pts [sizeClasses]point
	n := ks.points(&pts)
	if n == 0 {
		return exec, io, over
	}
	var reg func(float64) float64
	if n == 1 {
		reg = func(mib float64) float64 {
			e, i, o := ks.regressionParts(mib*(1<<20), 1)
			return e + i + o
		}
	}
	p := math.Max(0, curve(pts[:n], reqBytes/(1<<20), reg)+ks.inflightMs(inflight))
	if s := exec + io + over; s > 0 {
		f := p / s
		return exec * f, io * f, over * f
	}
	return p, 0, 0
}

// predictMs is the predicted warm latency in milliseconds (predictParts'
// sum). Callers hold ks.mu.
func (ks *keyState) predictMs(reqBytes float64, inflight int) float64 {
	var pts [sizeClasses]point
	if n := ks.points(&pts); n > 1 { // the common case, without the regressions
		return math.Max(0, curve(pts[:n], reqBytes/(1<<20), nil)+ks.inflightMs(inflight))
	}
	e, i, o := ks.predictParts(reqBytes, inflight)
	return e + i + o
}

// hasClasses reports whether a size class has a published point.
func (ks *keyState) hasClasses() bool { return ks.classMask.Load() != 0 }

// predictFast is predictMs at one call in flight from the published size
// classes (when classes is true) and coefficients, without a lock. Choose
// compares runtimes by one kind of estimate: the classes' medians for all,
// or the regressions' means for all.
func (ks *keyState) predictFast(reqBytes float64, classes bool) float64 {
	reqMiB := reqBytes / (1 << 20)
	var pts [sizeClasses]point
	n := 0
	var mask uint32
	if classes {
		mask = ks.classMask.Load()
	}
	for c := range sizeClasses {
		if mask&(1<<c) != 0 {
			pts[n] = point{math.Float64frombits(ks.classX[c].Load()), math.Float64frombits(ks.classY[c].Load())}
			n++
		}
	}
	if n > 1 {
		return curve(pts[:n], reqMiB, nil)
	}
	reg := func(mib float64) float64 {
		resp := math.Max(0, math.Float64frombits(ks.respCoef[0].Load())+math.Float64frombits(ks.respCoef[1].Load())*mib)
		return math.Float64frombits(ks.coef[0].Load()) + math.Float64frombits(ks.coef[1].Load())*mib +
			math.Float64frombits(ks.coef[2].Load())*resp
	}
	if n == 1 {
		return curve(pts[:1], reqMiB, reg)
	}
	return reg(reqMiB)
}

// Forget drops everything the model learned of function: its keys, its
// arrivals, Choose's decisions and its metric series (gateway.Model). The
// gateway calls it when the function is removed or its candidate runtimes
// change. Records of calls in flight may recreate the function afterwards.
func (m *Model) Forget(function string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldFns := *m.fns.Load()
	if _, ok := oldFns[function]; ok {
		next := make(map[string]*fnState, len(oldFns))
		for k, v := range oldFns {
			if k != function {
				next[k] = v
			}
		}
		m.fns.Store(&next)
	}
	oldKeys := *m.keys.Load()
	next := make(map[key]*keyState, len(oldKeys))
	for k, v := range oldKeys {
		if k.function != function {
			next[k] = v
		}
	}
	if len(next) != len(oldKeys) {
		m.keys.Store(&next)
	}
}
