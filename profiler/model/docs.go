package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// DefaultBytes is the request size the documents predict at when none is given.
const DefaultBytes = 1024

// Confidence levels of a prediction, from its sample count.
const (
	ConfidenceNone = "none" // fewer than 5 samples
	ConfidenceLow  = "low"  // fewer than 30, or extrapolated
	ConfidenceHigh = "high"
)

func confidence(n int64) string {
	switch {
	case n < 5:
		return ConfidenceNone
	case n < 30:
		return ConfidenceLow
	}
	return ConfidenceHigh
}

// Overview is the document of GET /system/model.
type Overview struct {
	// Environment is the machine the model learns on.
	Environment Environment `json:"environment"`
	// Origins are the environments of the snapshots imported into it.
	Origins []Environment `json:"origins,omitempty"`
	// Bytes is the request size the functions' predictions are made at.
	Bytes     int           `json:"bytes"`
	Functions []FunctionDoc `json:"functions"`
	Relations []Relation    `json:"relations"`
}

// FunctionDoc is what the model predicts for one function at one request size
// (GET /system/model/{name}?bytes=N).
type FunctionDoc struct {
	Function string `json:"function"`
	// Bytes is the request size the predictions are made at.
	Bytes          int            `json:"bytes"`
	Runtimes       []RuntimeDoc   `json:"runtimes"`
	Arrivals       ArrivalDoc     `json:"arrivals"`
	Recommendation Recommendation `json:"recommendation"`
}

// RuntimeDoc is what the model predicts for a function on one runtime and ABI.
// Times are in milliseconds.
type RuntimeDoc struct {
	Runtime string      `json:"runtime"`
	ABI     invoker.ABI `json:"abi"`
	// ColdP50Ms and ColdP99Ms are whole cold invocations; ColdStartP50Ms
	// only their cold-start phases, detailed in ColdPhases.
	ColdP50Ms      float64                  `json:"cold_p50_ms"`
	ColdP99Ms      float64                  `json:"cold_p99_ms"`
	ColdStartP50Ms float64                  `json:"cold_start_p50_ms"`
	ColdPhases     map[string]PhaseQuantile `json:"cold_phases,omitempty"`
	// WarmP50Ms and WarmP99Ms are warm invocations of Bytes, one in flight;
	// ExecuteMs, IOMs and OverheadMs split WarmP50Ms.
	WarmP50Ms  float64 `json:"warm_p50_ms"`
	WarmP99Ms  float64 `json:"warm_p99_ms"`
	ExecuteMs  float64 `json:"execute_ms"`
	IOMs       float64 `json:"io_ms"`
	OverheadMs float64 `json:"overhead_ms"`
	// IOShare is the I/O-serialization share of the warm latency.
	IOShare float64 `json:"io_share"`
	// ResponseBytes is the predicted response size.
	ResponseBytes  int64   `json:"response_bytes"`
	MemoryBytes    int64   `json:"memory_bytes"`
	MemoryMaxBytes int64   `json:"memory_max_bytes"`
	Samples        Samples `json:"samples"`
	Confidence     string  `json:"confidence"`
	// Error is the live error of the model's predictions here.
	Error LiveError `json:"error"`
	// Extrapolated: the function never ran on Runtime; the predictions are
	// From's times the runtimes' cross-function ratio.
	Extrapolated bool   `json:"extrapolated"`
	From         string `json:"extrapolated_from,omitempty"`
}

// PhaseQuantile is a cold-start phase's distribution, in milliseconds.
type PhaseQuantile struct {
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// Samples counts the invocations the model learned from.
type Samples struct {
	Cold      int64 `json:"cold"`
	Prewarmed int64 `json:"prewarmed"`
	Warm      int64 `json:"warm"`
	Errors    int64 `json:"errors"`
}

// LiveError is the model's self-score: the mean absolute percentage error
// (as a ratio) of the predictions it made before each invocation.
type LiveError struct {
	// MAPE is the exponentially weighted recent error (the last ~20 calls).
	MAPE float64 `json:"mape"`
	// CumulativeMAPE is the mean over all Scored predictions.
	CumulativeMAPE float64 `json:"cumulative_mape"`
	Scored         int64   `json:"scored"`
	// DriftResets counts the times the error grew so large that the warm
	// regressions dropped most of their memory to follow a new behaviour.
	DriftResets int64 `json:"drift_resets"`
}

// ArrivalDoc summarizes a function's arrival process (all runtimes).
type ArrivalDoc struct {
	Samples  int64   `json:"samples"`
	RatePerS float64 `json:"rate_per_s"`
	P5Ms     float64 `json:"interarrival_p5_ms"`
	P50Ms    float64 `json:"interarrival_p50_ms"`
	P99Ms    float64 `json:"interarrival_p99_ms"`
	Last     string  `json:"last,omitempty"`
	Kind     string  `json:"kind"`
}

// Relation relates two runtimes across functions: the geometric mean over
// the Functions that ran on both of (p50 on A / p50 on B).
type Relation struct {
	A         string  `json:"a"`
	B         string  `json:"b"`
	WarmRatio float64 `json:"warm_ratio"`
	// ColdRatio is 0 when no function has cold starts on both.
	ColdRatio     float64 `json:"cold_ratio"`
	Functions     int     `json:"functions"`
	ColdFunctions int     `json:"cold_functions"`
}

// Recommendation is what the model advises for a function.
type Recommendation struct {
	Runtime            string  `json:"runtime"`
	IdleTimeout        string  `json:"idle_timeout"`
	IdleTimeoutSeconds float64 `json:"idle_timeout_seconds"`
	Prewarm            int     `json:"prewarm"`
	// Reason is one sentence with the numbers behind the advice.
	Reason string `json:"reason"`
}

// Minimum warm samples of a function on both runtimes for a relation.
const minRelationSamples = 5

// Overview returns the model's whole document (gateway.Model).
func (m *Model) Overview() any { return m.overview() }

func (m *Model) overview() Overview {
	rel := m.relations()
	o := Overview{Environment: m.env, Bytes: DefaultBytes, Relations: rel, Functions: []FunctionDoc{}}
	m.originMu.Lock()
	o.Origins = append(o.Origins, m.origins...)
	m.originMu.Unlock()
	fns := *m.fns.Load()
	names := make([]string, 0, len(fns))
	for name, f := range fns {
		if len(*f.byRuntime.Load()) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		o.Functions = append(o.Functions, m.functionDoc(fns[name], DefaultBytes, rel))
	}
	return o
}

// Function returns the document of one function at a request of bytes
// (gateway.Model); ok is false when the model has never seen name.
func (m *Model) Function(name string, bytes int) (any, bool) {
	f, ok := (*m.fns.Load())[name]
	if !ok || len(*f.byRuntime.Load()) == 0 {
		return nil, false
	}
	if bytes < 0 {
		bytes = DefaultBytes
	}
	return m.functionDoc(f, bytes, m.relations()), true
}

// runtimeDoc predicts ks at bytes. Callers hold ks.mu.
func (ks *keyState) doc(bytes int) RuntimeDoc {
	d := RuntimeDoc{Runtime: ks.runtime, ABI: ks.abi,
		ColdP50Ms: quantile(ks.coldTotal, 0.5) * 1e3, ColdP99Ms: quantile(ks.coldTotal, 0.99) * 1e3,
		ColdStartP50Ms: quantile(ks.coldStart, 0.5) * 1e3,
		MemoryBytes:    int64(ks.memEWMA), MemoryMaxBytes: ks.memMax,
		Samples:    Samples{Cold: ks.cold, Prewarmed: ks.prewarmed, Warm: ks.warm, Errors: ks.failed},
		Confidence: confidence(max(ks.warm, ks.cold)),
		Error:      LiveError{MAPE: ks.errEWMA, Scored: ks.errN, DriftResets: ks.drifts},
	}
	if ks.errN > 0 {
		d.Error.CumulativeMAPE = ks.errSum / float64(ks.errN)
	}
	for i, p := range coldPhases {
		if sk := ks.coldPhase[i]; !sk.IsEmpty() {
			if d.ColdPhases == nil {
				d.ColdPhases = map[string]PhaseQuantile{}
			}
			d.ColdPhases[string(p)] = PhaseQuantile{P50Ms: quantile(sk, 0.5) * 1e3, P95Ms: quantile(sk, 0.95) * 1e3, P99Ms: quantile(sk, 0.99) * 1e3}
		}
	}
	if ks.warm > 0 {
		ks.fresh()
		d.ExecuteMs, d.IOMs, d.OverheadMs = ks.predictParts(float64(bytes), 1)
		d.WarmP50Ms = d.ExecuteMs + d.IOMs + d.OverheadMs
		d.WarmP99Ms = d.WarmP50Ms
		if ks.residual.GetCount() >= minResidualFit {
			d.WarmP99Ms = d.WarmP50Ms * math.Max(1, quantile(ks.residual, 0.99))
		}
		if d.WarmP50Ms > 0 {
			d.IOShare = d.IOMs / d.WarmP50Ms
		}
		d.ResponseBytes = int64(ks.responseMiB(float64(bytes)/(1<<20)) * (1 << 20))
	}
	return d
}

func (m *Model) functionDoc(f *fnState, bytes int, rel []Relation) FunctionDoc {
	doc := FunctionDoc{Function: f.name, Bytes: bytes, Runtimes: []RuntimeDoc{}}
	keys := *m.keys.Load()
	seen := map[string]RuntimeDoc{}
	for k, ks := range keys {
		if k.function != f.name {
			continue
		}
		ks.mu.Lock()
		d := ks.doc(bytes)
		ks.mu.Unlock()
		doc.Runtimes = append(doc.Runtimes, d)
		if cur, ok := seen[d.Runtime]; !ok || d.Samples.Warm > cur.Samples.Warm {
			seen[d.Runtime] = d
		}
	}
	doc.Runtimes = append(doc.Runtimes, extrapolate(seen, rel)...)
	sort.Slice(doc.Runtimes, func(i, j int) bool {
		a, b := doc.Runtimes[i], doc.Runtimes[j]
		if a.Runtime != b.Runtime {
			return a.Runtime < b.Runtime
		}
		return a.ABI < b.ABI
	})
	now := m.cfg.Now()
	a := f.arrivals()
	doc.Arrivals = ArrivalDoc{Samples: a.n, P5Ms: a.p5 * 1e3, P50Ms: a.p50 * 1e3, P99Ms: a.p99 * 1e3}
	if a.mean > 0 {
		doc.Arrivals.RatePerS = 1 / a.mean
	}
	if !a.last.IsZero() {
		doc.Arrivals.Last = a.last.UTC().Format(time.RFC3339Nano)
	}
	doc.Recommendation, doc.Arrivals.Kind = m.recommend(f, a, doc, now)
	return doc
}

// extrapolate predicts the runtimes a function never ran on, from one it
// ran on (the best-related one) times the cross-function ratio.
func extrapolate(seen map[string]RuntimeDoc, rel []Relation) []RuntimeDoc {
	var out []RuntimeDoc
	best := map[string]Relation{}
	for _, r := range rel {
		if _, has := seen[r.A]; has {
			continue
		}
		src, ok := seen[r.B]
		if !ok || src.Samples.Warm == 0 {
			continue
		}
		if cur, ok := best[r.A]; !ok || r.Functions > cur.Functions || (r.Functions == cur.Functions && r.B < cur.B) {
			best[r.A] = r
		}
	}
	for target, r := range best {
		src := seen[r.B]
		d := RuntimeDoc{Runtime: target, ABI: src.ABI, Extrapolated: true, From: r.B,
			WarmP50Ms: src.WarmP50Ms * r.WarmRatio, WarmP99Ms: src.WarmP99Ms * r.WarmRatio,
			ExecuteMs: src.ExecuteMs * r.WarmRatio, IOMs: src.IOMs * r.WarmRatio, OverheadMs: src.OverheadMs * r.WarmRatio,
			IOShare: src.IOShare, ResponseBytes: src.ResponseBytes, Confidence: src.Confidence}
		if r.ColdRatio > 0 {
			d.ColdP50Ms, d.ColdP99Ms, d.ColdStartP50Ms = src.ColdP50Ms*r.ColdRatio, src.ColdP99Ms*r.ColdRatio, src.ColdStartP50Ms*r.ColdRatio
		}
		if d.Confidence == ConfidenceHigh {
			d.Confidence = ConfidenceLow
		}
		out = append(out, d)
	}
	return out
}

// relations computes the cross-runtime ratios over all functions.
func (m *Model) relations() []Relation {
	type acc struct {
		warmLog, coldLog float64
		n, coldN         int
	}
	accs := map[[2]string]*acc{}
	for _, f := range *m.fns.Load() {
		type point struct {
			warm, cold, bytes float64
		}
		pts := map[string]point{}
		for rt, ks := range *f.byRuntime.Load() {
			ks.mu.Lock()
			if ks.warm >= minRelationSamples {
				pts[rt] = point{cold: quantile(ks.coldTotal, 0.5), bytes: math.Max(ks.reqEWMA, 1)}
			}
			ks.mu.Unlock()
		}
		for a, pa := range pts {
			for b, pb := range pts {
				if a == b {
					continue
				}
				// Compare at the same payload: the geometric mean of the two's typical sizes.
				bytes := math.Sqrt(pa.bytes * pb.bytes)
				wa, wb := m.warmAt(f, a, bytes), m.warmAt(f, b, bytes)
				if !(wa > 0 && wb > 0) {
					continue
				}
				ac := accs[[2]string{a, b}]
				if ac == nil {
					ac = &acc{}
					accs[[2]string{a, b}] = ac
				}
				ac.warmLog += math.Log(wa / wb)
				ac.n++
				if pa.cold > 0 && pb.cold > 0 {
					ac.coldLog += math.Log(pa.cold / pb.cold)
					ac.coldN++
				}
			}
		}
	}
	out := []Relation{}
	for k, ac := range accs {
		r := Relation{A: k[0], B: k[1], WarmRatio: math.Exp(ac.warmLog / float64(ac.n)), Functions: ac.n, ColdFunctions: ac.coldN}
		if ac.coldN > 0 {
			r.ColdRatio = math.Exp(ac.coldLog / float64(ac.coldN))
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

// warmAt is the predicted warm latency (ms) of f on runtime at bytes.
func (m *Model) warmAt(f *fnState, runtime string, bytes float64) float64 {
	ks := (*f.byRuntime.Load())[runtime]
	if ks == nil {
		return 0
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.fresh()
	return ks.predictMs(bytes, 1)
}

// recommend picks the runtime predicted fastest at the document's size and
// plans its keep-alive; it returns the arrival kind too.
func (m *Model) recommend(f *fnState, a arrivals, doc FunctionDoc, now time.Time) (Recommendation, string) {
	var bestDoc, second *RuntimeDoc
	for i := range doc.Runtimes {
		d := &doc.Runtimes[i]
		if d.Extrapolated || d.Samples.Warm == 0 {
			continue
		}
		if bestDoc == nil || d.WarmP50Ms < bestDoc.WarmP50Ms {
			bestDoc, second = d, bestDoc
		} else if second == nil || d.WarmP50Ms < second.WarmP50Ms {
			second = d
		}
	}
	if bestDoc == nil {
		for i := range doc.Runtimes {
			if d := &doc.Runtimes[i]; !d.Extrapolated {
				bestDoc = d
				break
			}
		}
	}
	if bestDoc == nil {
		return Recommendation{Reason: "The model has not seen this function run."}, arrivalUnknown
	}
	p := m.planFor(f, a, m.costs(f, bestDoc.Runtime), now)
	rec := Recommendation{Runtime: bestDoc.Runtime, IdleTimeout: p.idle.String(), IdleTimeoutSeconds: p.idle.Seconds(), Prewarm: p.prewarm}
	var b strings.Builder
	switch {
	case bestDoc.Samples.Warm == 0:
		fmt.Fprintf(&b, "%s is the only runtime seen, with no warm call yet", bestDoc.Runtime)
	case second == nil:
		fmt.Fprintf(&b, "%s is the only runtime seen warm (p50 %.3g ms at %d bytes)", bestDoc.Runtime, bestDoc.WarmP50Ms, doc.Bytes)
	default:
		fmt.Fprintf(&b, "%s is predicted fastest at %d bytes (warm p50 %.3g ms against %.3g ms on %s, %.2gx)",
			bestDoc.Runtime, doc.Bytes, bestDoc.WarmP50Ms, second.WarmP50Ms, second.Runtime, second.WarmP50Ms/math.Max(bestDoc.WarmP50Ms, 1e-9))
	}
	fmt.Fprintf(&b, "; %s.", p.reason)
	rec.Reason = b.String()
	return rec, p.kind
}
