package profiler

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lumos-edge/lumos/invoker"
)

// Metric names, exactly as exposed at /metrics (the Prometheus exporter is
// told to add no suffix) and over OTLP. The gateway_* names are OpenFaaS's.
const (
	MetricOpenFaaSInvocations  = "gateway_function_invocation_total"
	MetricOpenFaaSDuration     = "gateway_functions_seconds"
	MetricOpenFaaSServiceCount = "gateway_service_count"

	MetricInvocations     = "lumos_invocations_total"
	MetricErrors          = "lumos_invocation_errors_total"
	MetricDuration        = "lumos_invocation_duration_seconds"
	MetricPhaseDuration   = "lumos_phase_duration_seconds"
	MetricColdStarts      = "lumos_cold_starts_total"
	MetricColdStartPhase  = "lumos_cold_start_duration_seconds"
	MetricQueueWait       = "lumos_queue_wait_seconds"
	MetricQueueDepth      = "lumos_queue_depth"
	MetricPoolInstances   = "lumos_pool_instances"
	MetricGatewayOverhead = "lumos_gateway_overhead_seconds"
	MetricSpansExported   = "lumos_trace_spans_exported_total"
	MetricSpansDropped    = "lumos_trace_spans_dropped_total"
)

// Labels and units.
const (
	labelFunctionName = "function_name" // OpenFaaS's label
	labelCode         = "code"
	labelFunction     = "function"
	labelRuntime      = "runtime"
	labelOutcome      = "outcome"
	labelStart        = "start"
	labelPhase        = "phase"
	labelState        = "state"
	labelReason       = "reason"
	startNone         = "none" // the invocation never got an instance
	unitSeconds       = "s"
	unitInvocations   = "{invocation}"
	unitSpans         = "{span}"
	unitInstances     = "{instance}"
	unitRequests      = "{request}"
	unitReplicas      = "{replica}"
	unitColdStarts    = "{cold_start}"
)

// Histogram buckets in seconds: invocations from 100 us to 5 min; the
// gateway's own overhead from 5 us to 1 s.
var (
	durationBuckets = newBuckets(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
	overheadBuckets = newBuckets(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1)
)

// invocationPhases are the phases of lumos_phase_duration_seconds.
var invocationPhases = [...]invoker.PhaseName{invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead}

// coldPhases are the phases of lumos_cold_start_duration_seconds.
var coldPhases = [...]invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseCacheLoad, invoker.PhaseInstantiate,
	invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady}

var startKinds = [...]invoker.StartKind{"", invoker.StartCold, invoker.StartPrewarmed, invoker.StartWarm}

// buckets are a histogram's upper bounds, in seconds for the exposition and
// in nanoseconds for recording.
type buckets struct {
	seconds []float64
	nanos   []int64
}

func newBuckets(bounds ...float64) *buckets {
	b := &buckets{seconds: bounds}
	for _, s := range bounds {
		b.nanos = append(b.nanos, int64(s*float64(time.Second)))
	}
	return b
}

// histogram is a cumulative explicit-bucket histogram of durations,
// recorded with atomic adds: no lock, no allocation.
type histogram struct {
	b      *buckets
	counts []atomic.Uint64 // len(b.nanos)+1, the last one unbounded
	sum    atomic.Int64    // nanoseconds
}

func newHistogram(b *buckets) histogram {
	return histogram{b: b, counts: make([]atomic.Uint64, len(b.nanos)+1)}
}

func (h *histogram) observe(d time.Duration) {
	n := int64(d)
	i := 0
	for i < len(h.b.nanos) && n > h.b.nanos[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(n)
}

// point snapshots h; ok is false when it recorded nothing.
func (h *histogram) point(set attribute.Set, start, now time.Time) (metricdata.HistogramDataPoint[float64], bool) {
	counts := make([]uint64, len(h.counts))
	var total uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	return metricdata.HistogramDataPoint[float64]{
		Attributes: set, StartTime: start, Time: now, Count: total,
		Bounds: h.b.seconds, BucketCounts: counts, Sum: time.Duration(h.sum.Load()).Seconds(),
	}, total > 0
}

// fnStats are the measurements of one function on one runtime, with their
// attribute sets built once.
type fnStats struct {
	function, runtime string
	base              attribute.Set // function, runtime
	invocations       [numOutcomes]atomic.Uint64
	outcomeSet        [numOutcomes]attribute.Set
	duration          [len(startKinds)]histogram
	startSet          [len(startKinds)]attribute.Set
	phase             [len(invocationPhases)]histogram
	phaseSet          [len(invocationPhases)]attribute.Set
	cold              [len(coldPhases)]histogram
	coldSet           [len(coldPhases)]attribute.Set
	coldStarts        atomic.Uint64
	queueWait         histogram
	overhead          histogram

	codesMu sync.Mutex                         // serializes additions to codes
	codes   atomic.Pointer[map[int]*codeStats] // OpenFaaS's series by status; copy on write
}

// codeStats is OpenFaaS's series of one function and status code.
type codeStats struct {
	set      attribute.Set // function_name, code
	n        atomic.Uint64
	duration histogram
}

func newFnStats(function, runtime string) *fnStats {
	fn, rt := attribute.String(labelFunction, function), attribute.String(labelRuntime, runtime)
	s := &fnStats{function: function, runtime: runtime, base: attribute.NewSet(fn, rt),
		queueWait: newHistogram(durationBuckets), overhead: newHistogram(overheadBuckets)}
	for o := range numOutcomes {
		s.outcomeSet[o] = attribute.NewSet(fn, rt, attribute.String(labelOutcome, o.String()))
	}
	for i, sk := range startKinds {
		name := string(sk)
		if name == "" {
			name = startNone
		}
		s.startSet[i] = attribute.NewSet(fn, rt, attribute.String(labelStart, name))
		s.duration[i] = newHistogram(durationBuckets)
	}
	for i, ph := range invocationPhases {
		s.phaseSet[i] = attribute.NewSet(fn, rt, attribute.String(labelPhase, string(ph)))
		s.phase[i] = newHistogram(durationBuckets)
	}
	for i, ph := range coldPhases {
		s.coldSet[i] = attribute.NewSet(fn, rt, attribute.String(labelPhase, string(ph)))
		s.cold[i] = newHistogram(durationBuckets)
	}
	s.codes.Store(&map[int]*codeStats{})
	return s
}

// code returns the OpenFaaS series of status.
func (s *fnStats) code(status int) *codeStats {
	if c, ok := (*s.codes.Load())[status]; ok {
		return c
	}
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	old := *s.codes.Load()
	if c, ok := old[status]; ok {
		return c
	}
	c := &codeStats{set: attribute.NewSet(attribute.String(labelFunctionName, s.function), attribute.String(labelCode, strconv.Itoa(status))),
		duration: newHistogram(durationBuckets)}
	codes := make(map[int]*codeStats, len(old)+1)
	for k, v := range old {
		codes[k] = v
	}
	codes[status] = c
	s.codes.Store(&codes)
	return c
}

// instruments records the invocation metrics in atomic counters and
// histograms, and hands them to the metric SDK's readers as a
// metric.Producer at each collection. Recording a warm invocation is a few
// atomic adds: the SDK's synchronous instruments cost about ten times more
// (RATIONALE.md). The pool gauges and span counters are SDK observable
// instruments.
type instruments struct {
	start time.Time // the start of every cumulative series
	stats sync.Map  // fnKey -> *fnStats
}

// fnKey identifies a function's series.
type fnKey struct{ function, runtime string }

func newInstruments(start time.Time) *instruments { return &instruments{start: start} }

// statsFor returns the series of a function on a runtime.
func (in *instruments) statsFor(function, runtime string) *fnStats {
	k := fnKey{function, runtime}
	if s, ok := in.stats.Load(k); ok {
		return s.(*fnStats)
	}
	s, _ := in.stats.LoadOrStore(k, newFnStats(function, runtime))
	return s.(*fnStats)
}

// record counts one invocation.
func (in *instruments) record(inv *invoker.Invocation) {
	s := in.statsFor(inv.Function, inv.Runtime)
	c := s.code(inv.Status)
	c.n.Add(1)
	c.duration.observe(inv.Total)
	s.invocations[classify(inv.Status, inv.Err)].Add(1)
	si := 0
	for i, sk := range startKinds {
		if sk == inv.Start {
			si = i
		}
	}
	s.duration[si].observe(inv.Total)
	if inv.Start != "" {
		s.queueWait.observe(inv.Phases.Get(invoker.PhaseQueueWait))
	}
	if inv.Start == invoker.StartCold {
		s.coldStarts.Add(1)
	}
	var execute time.Duration
	executed := false
	for _, ph := range inv.Phases.Phases() {
		if ph.Name == invoker.PhaseExecute {
			execute += ph.Duration
			executed = true
		}
		if i := phaseIndex(invocationPhases[:], ph.Name); i >= 0 {
			s.phase[i].observe(ph.Duration)
		} else if i := phaseIndex(coldPhases[:], ph.Name); i >= 0 {
			s.cold[i].observe(ph.Duration)
		}
	}
	if executed {
		s.overhead.observe(max(inv.Total-execute, 0))
	}
}

func phaseIndex(names []invoker.PhaseName, n invoker.PhaseName) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return -1
}

// Produce returns the invocation metrics (metric.Producer): cumulative
// counters and histograms, a series only once it counted something.
func (in *instruments) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	sum := func(name, desc, unit string) (metricdata.Metrics, *metricdata.Sum[int64]) {
		return metricdata.Metrics{Name: name, Description: desc, Unit: unit}, &metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
	}
	hist := func(name, desc string) (metricdata.Metrics, *metricdata.Histogram[float64]) {
		return metricdata.Metrics{Name: name, Description: desc, Unit: unitSeconds}, &metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
	}
	ofInv, ofInvData := sum(MetricOpenFaaSInvocations, "Invocations by function and HTTP status (OpenFaaS).", unitRequests)
	ofDur, ofDurData := hist(MetricOpenFaaSDuration, "Invocation time in the gateway by function and HTTP status (OpenFaaS).")
	inv, invData := sum(MetricInvocations, "Invocations by function, runtime and outcome.", unitInvocations)
	errs, errsData := sum(MetricErrors, "Failed invocations by function, runtime and outcome.", unitInvocations)
	dur, durData := hist(MetricDuration, "Invocation time in the gateway, request received to response decided, by start kind.")
	phase, phaseData := hist(MetricPhaseDuration, "Time in each invocation phase: request_write, execute, response_read.")
	colds, coldsData := sum(MetricColdStarts, "Instances created on a request's path.", unitColdStarts)
	cold, coldData := hist(MetricColdStartPhase, "Cold-start time by phase (compile, cache_load, instantiate, container_create, task_create, task_start, first_ready).")
	queue, queueData := hist(MetricQueueWait, "Time waiting for a busy pool, for invocations that got an instance.")
	over, overData := hist(MetricGatewayOverhead, "Gateway time not spent executing the function (total minus execute), for invocations that executed.")

	addSum := func(d *metricdata.Sum[int64], set attribute.Set, v uint64) {
		if v > 0 {
			d.DataPoints = append(d.DataPoints, metricdata.DataPoint[int64]{Attributes: set, StartTime: in.start, Time: now, Value: int64(v)})
		}
	}
	addHist := func(d *metricdata.Histogram[float64], h *histogram, set attribute.Set) {
		if p, ok := h.point(set, in.start, now); ok {
			d.DataPoints = append(d.DataPoints, p)
		}
	}
	in.stats.Range(func(_, v any) bool {
		s := v.(*fnStats)
		for _, c := range *s.codes.Load() {
			addSum(ofInvData, c.set, c.n.Load())
			addHist(ofDurData, &c.duration, c.set)
		}
		for o := range numOutcomes {
			n := s.invocations[o].Load()
			addSum(invData, s.outcomeSet[o], n)
			if o != outcomeSuccess {
				addSum(errsData, s.outcomeSet[o], n)
			}
		}
		for i := range s.duration {
			addHist(durData, &s.duration[i], s.startSet[i])
		}
		for i := range s.phase {
			addHist(phaseData, &s.phase[i], s.phaseSet[i])
		}
		for i := range s.cold {
			addHist(coldData, &s.cold[i], s.coldSet[i])
		}
		addSum(coldsData, s.base, s.coldStarts.Load())
		addHist(queueData, &s.queueWait, s.base)
		addHist(overData, &s.overhead, s.base)
		return true
	})
	ofInv.Data, ofDur.Data, inv.Data, errs.Data, dur.Data = *ofInvData, *ofDurData, *invData, *errsData, *durData
	phase.Data, colds.Data, cold.Data, queue.Data, over.Data = *phaseData, *coldsData, *coldData, *queueData, *overData
	return []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: scopeName},
		Metrics: []metricdata.Metrics{ofInv, ofDur, inv, errs, dur, phase, colds, cold, queue, over},
	}}, nil
}

// observeSpans registers the span counters of b, read at each collection.
func observeSpans(m metric.Meter, b *batcher) error {
	exported, e1 := m.Int64ObservableCounter(MetricSpansExported, metric.WithDescription("Spans accepted by the trace exporter."), metric.WithUnit(unitSpans))
	dropped, e2 := m.Int64ObservableCounter(MetricSpansDropped, metric.WithDescription("Spans that never reached the trace backend, by reason (queue_full, export_failed, shutdown)."), metric.WithUnit(unitSpans))
	if e1 != nil || e2 != nil {
		return fmt.Errorf("profiler: span counters: %v %v", e1, e2)
	}
	var reasons [numDropReasons]metric.ObserveOption
	for r := range numDropReasons {
		reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String(labelReason, r.String())))
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := b.counts()
		o.ObserveInt64(exported, int64(st.exported))
		for r := range numDropReasons {
			o.ObserveInt64(dropped, int64(st.dropped[r]), reasons[r])
		}
		return nil
	}, exported, dropped)
	if err != nil {
		return fmt.Errorf("profiler: span counters: %w", err)
	}
	return nil
}

// observePools registers the gauges read from fs at each collection.
func observePools(m metric.Meter, fs Functions) error {
	depth, e1 := m.Int64ObservableGauge(MetricQueueDepth, metric.WithDescription("Callers waiting for a busy pool, by function."), metric.WithUnit(unitRequests))
	instances, e2 := m.Int64ObservableGauge(MetricPoolInstances, metric.WithDescription("Pool instances by function and state (idle, busy, starting, destroying)."), metric.WithUnit(unitInstances))
	replicas, e3 := m.Int64ObservableGauge(MetricOpenFaaSServiceCount, metric.WithDescription("Replicas of each function: its warm minimum or its live instances, whichever is more (OpenFaaS)."), metric.WithUnit(unitReplicas))
	if e1 != nil || e2 != nil || e3 != nil {
		return fmt.Errorf("profiler: gauges: %v %v %v", e1, e2, e3)
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for st := range fs.FunctionStats() {
			fn := attribute.String(labelFunction, st.Name)
			o.ObserveInt64(depth, int64(st.Pool.Waiting), metric.WithAttributes(fn))
			for _, kv := range [...]struct {
				state string
				n     int
			}{{"idle", st.Pool.Idle}, {"busy", st.Pool.Busy}, {"starting", st.Pool.Starting}, {"destroying", st.Pool.Destroying}} {
				o.ObserveInt64(instances, int64(kv.n), metric.WithAttributes(fn, attribute.String(labelState, kv.state)))
			}
			o.ObserveInt64(replicas, int64(st.Replicas), metric.WithAttributes(attribute.String(labelFunctionName, st.Name)))
		}
		return nil
	}, depth, instances, replicas)
	if err != nil {
		return fmt.Errorf("profiler: gauges: %w", err)
	}
	return nil
}
