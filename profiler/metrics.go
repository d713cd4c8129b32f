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
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

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
	labelFunctionName     = "function_name" // OpenFaaS's label
	labelCode             = "code"
	labelFunction         = "function"
	labelRuntime          = "runtime"
	labelOutcome          = "outcome"
	labelStart            = "start"
	labelPhase            = "phase"
	labelState            = "state"
	labelReason           = "reason"
	startNone             = "none" // the invocation never got an instance
	unitSeconds           = "s"
	unitInvocations       = "{invocation}"
	unitSpans             = "{span}"
	unitInstances         = "{instance}"
	unitRequests          = "{request}"
	unitReplicas          = "{replica}"
	unitColdStarts        = "{cold_start}"
)

// Histogram buckets in seconds: invocations from 100 us to 5 min; the
// gateway's own overhead from 5 us to 1 s.
var (
	durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	overheadBuckets = []float64{0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1}
)

// alwaysOffExemplars: no exemplars, so recording never looks at a context.
var alwaysOffExemplars = exemplar.AlwaysOffFilter

// invocationPhases are the phases of lumos_phase_duration_seconds.
var invocationPhases = [...]invoker.PhaseName{invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead}

// coldPhases are the phases of lumos_cold_start_duration_seconds.
var coldPhases = [...]invoker.PhaseName{invoker.PhaseCompile, invoker.PhaseCacheLoad, invoker.PhaseInstantiate,
	invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady}

var startKinds = [...]invoker.StartKind{"", invoker.StartCold, invoker.StartPrewarmed, invoker.StartWarm}

// instruments holds the synchronous instruments and the attribute sets
// cached per function.
type instruments struct {
	ofInvocations metric.Int64Counter
	ofDuration    metric.Float64Histogram
	invocations   metric.Int64Counter
	errors        metric.Int64Counter
	duration      metric.Float64Histogram
	phase         metric.Float64Histogram
	coldStarts    metric.Int64Counter
	coldPhase     metric.Float64Histogram
	queueWait     metric.Float64Histogram
	overhead      metric.Float64Histogram

	meter metric.Meter
	batch *batcher // nil: tracing off, no span counters

	// sets caches the options of each (function, runtime): recording then
	// allocates nothing.
	sets sync.Map // fnKey -> *fnSets
}

// fnKey identifies a function's attribute sets.
type fnKey struct{ function, runtime string }

// measure is the option list of one attribute set, ready for Add and Record.
type measure struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newMeasure(kvs ...attribute.KeyValue) measure {
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return measure{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// fnSets are the attribute sets of one function on one runtime.
type fnSets struct {
	key      fnKey
	base     measure // function, runtime
	outcome  [numOutcomes]measure
	start    [len(startKinds)]measure
	phase    [len(invocationPhases)]measure
	cold     [len(coldPhases)]measure
	codesMu  sync.Mutex                      // serializes additions to codes
	codes    atomic.Pointer[map[int]measure] // OpenFaaS's function_name, code; copy on write
	function attribute.KeyValue
}

func newFnSets(k fnKey) *fnSets {
	fn, rt := attribute.String(labelFunction, k.function), attribute.String(labelRuntime, k.runtime)
	s := &fnSets{key: k, base: newMeasure(fn, rt), function: attribute.String(labelFunctionName, k.function)}
	for o := range numOutcomes {
		s.outcome[o] = newMeasure(fn, rt, attribute.String(labelOutcome, o.String()))
	}
	for i, sk := range startKinds {
		name := string(sk)
		if name == "" {
			name = startNone
		}
		s.start[i] = newMeasure(fn, rt, attribute.String(labelStart, name))
	}
	for i, ph := range invocationPhases {
		s.phase[i] = newMeasure(fn, rt, attribute.String(labelPhase, string(ph)))
	}
	for i, ph := range coldPhases {
		s.cold[i] = newMeasure(fn, rt, attribute.String(labelPhase, string(ph)))
	}
	s.codes.Store(&map[int]measure{})
	return s
}

// code returns the OpenFaaS attribute set for status.
func (s *fnSets) code(status int) measure {
	if m, ok := (*s.codes.Load())[status]; ok {
		return m
	}
	s.codesMu.Lock()
	defer s.codesMu.Unlock()
	old := *s.codes.Load()
	if m, ok := old[status]; ok {
		return m
	}
	m := newMeasure(s.function, attribute.String(labelCode, strconv.Itoa(status)))
	codes := make(map[int]measure, len(old)+1)
	for k, v := range old {
		codes[k] = v
	}
	codes[status] = m
	s.codes.Store(&codes)
	return m
}

// sets returns the cached attribute sets of inv's function.
func (in *instruments) setsFor(function, runtime string) *fnSets {
	k := fnKey{function, runtime}
	if s, ok := in.sets.Load(k); ok {
		return s.(*fnSets)
	}
	s, _ := in.sets.LoadOrStore(k, newFnSets(k))
	return s.(*fnSets)
}

func newInstruments(m metric.Meter, batch *batcher) (*instruments, error) {
	in := &instruments{meter: m, batch: batch}
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		if err == nil && e != nil {
			err = fmt.Errorf("profiler: instrument %s: %w", name, e)
		}
		return c
	}
	hist := func(name, desc string, buckets []float64) metric.Float64Histogram {
		h, e := m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit(unitSeconds),
			metric.WithExplicitBucketBoundaries(buckets...))
		if err == nil && e != nil {
			err = fmt.Errorf("profiler: instrument %s: %w", name, e)
		}
		return h
	}
	in.ofInvocations = counter(MetricOpenFaaSInvocations, "Invocations by function and HTTP status (OpenFaaS).", unitRequests)
	in.ofDuration = hist(MetricOpenFaaSDuration, "Invocation time in the gateway by function and HTTP status (OpenFaaS).", durationBuckets)
	in.invocations = counter(MetricInvocations, "Invocations by function, runtime and outcome.", unitInvocations)
	in.errors = counter(MetricErrors, "Failed invocations by function, runtime and outcome.", unitInvocations)
	in.duration = hist(MetricDuration, "Invocation time in the gateway, request received to response decided, by start kind.", durationBuckets)
	in.phase = hist(MetricPhaseDuration, "Time in each invocation phase: request_write, execute, response_read.", durationBuckets)
	in.coldStarts = counter(MetricColdStarts, "Instances created on a request's path.", unitColdStarts)
	in.coldPhase = hist(MetricColdStartPhase, "Cold-start time by phase (compile, cache_load, instantiate, container_create, task_create, task_start, first_ready).", durationBuckets)
	in.queueWait = hist(MetricQueueWait, "Time waiting for a busy pool, for invocations that got an instance.", durationBuckets)
	in.overhead = hist(MetricGatewayOverhead, "Gateway time not spent executing the function (total minus execute), for invocations that executed.", overheadBuckets)
	if err != nil {
		return nil, err
	}
	if batch != nil {
		exported, e1 := m.Int64ObservableCounter(MetricSpansExported, metric.WithDescription("Spans accepted by the trace exporter."), metric.WithUnit(unitSpans))
		dropped, e2 := m.Int64ObservableCounter(MetricSpansDropped, metric.WithDescription("Spans that never reached the trace backend, by reason (queue_full, export_failed, shutdown)."), metric.WithUnit(unitSpans))
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("profiler: span counters: %v %v", e1, e2)
		}
		reasons := [numDropReasons]metric.ObserveOption{}
		for r := range numDropReasons {
			reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String(labelReason, r.String())))
		}
		_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			st := batch.counts()
			o.ObserveInt64(exported, int64(st.exported))
			for r := range numDropReasons {
				o.ObserveInt64(dropped, int64(st.dropped[r]), reasons[r])
			}
			return nil
		}, exported, dropped)
		if err != nil {
			return nil, fmt.Errorf("profiler: span counters: %w", err)
		}
	}
	return in, nil
}

// record counts one invocation.
func (in *instruments) record(inv *invoker.Invocation) {
	ctx := context.Background()
	s := in.setsFor(inv.Function, inv.Runtime)
	out := classify(inv.Status, inv.Err)
	total := inv.Total.Seconds()

	ofm := s.code(inv.Status)
	in.ofInvocations.Add(ctx, 1, ofm.add...)
	in.ofDuration.Record(ctx, total, ofm.rec...)

	in.invocations.Add(ctx, 1, s.outcome[out].add...)
	if out != outcomeSuccess {
		in.errors.Add(ctx, 1, s.outcome[out].add...)
	}
	si := 0
	for i, sk := range startKinds {
		if sk == inv.Start {
			si = i
		}
	}
	in.duration.Record(ctx, total, s.start[si].rec...)
	if inv.Start != "" {
		in.queueWait.Record(ctx, inv.Phases.Get(invoker.PhaseQueueWait).Seconds(), s.base.rec...)
	}
	if inv.Start == invoker.StartCold {
		in.coldStarts.Add(ctx, 1, s.base.add...)
	}
	var execute time.Duration
	executed := false
	for _, ph := range inv.Phases.Phases() {
		if ph.Name == invoker.PhaseExecute {
			execute += ph.Duration
			executed = true
		}
		if i := phaseIndex(invocationPhases[:], ph.Name); i >= 0 {
			in.phase.Record(ctx, ph.Duration.Seconds(), s.phase[i].rec...)
		} else if i := phaseIndex(coldPhases[:], ph.Name); i >= 0 {
			in.coldPhase.Record(ctx, ph.Duration.Seconds(), s.cold[i].rec...)
		}
	}
	if executed {
		in.overhead.Record(ctx, max(inv.Total-execute, 0).Seconds(), s.base.rec...)
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

// observe registers the gauges read from fs at each collection.
func (in *instruments) observe(fs Functions) error {
	m := in.meter
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
