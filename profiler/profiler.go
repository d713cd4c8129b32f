// Package profiler is Lumos's built-in telemetry: it receives every
// invocation record from the gateway (it is a gateway.Recorder) and turns it
// into an OpenTelemetry trace (a SERVER span per request with a child span
// per phase that happened), exported over OTLP, and into metrics through
// the OpenTelemetry metric SDK, served to Prometheus at /metrics and
// optionally pushed over OTLP.
//
// Traces are off unless Config.TraceSender is set. The spans of a sampled
// invocation are built from its record, after the fact, by the export
// goroutine, which counts every span it exports and every one it drops: none
// is lost silently. Metrics are recorded for every invocation, whatever the
// trace sampler keeps. RATIONALE.md explains the choices and their cost.
package profiler

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
)

// DefaultServiceName names the service in traces and metrics when
// Config.ServiceName is empty.
const DefaultServiceName = "lumos"

// scopeName is the instrumentation scope of every span and instrument.
const scopeName = "github.com/lumos-edge/lumos/profiler"

// Config configures a Profiler. The zero value records metrics for
// Prometheus and traces nothing.
type Config struct {
	// ServiceName is the resource's service.name; "" means DefaultServiceName.
	ServiceName string
	// ServiceVersion is the resource's service.version; "" leaves it out.
	ServiceVersion string
	// TraceSender delivers the traces (an HTTPSender, or a ClientSender
	// over otlptracegrpc). nil turns tracing off: no span work at all.
	// Shutdown shuts it down.
	TraceSender TraceSender
	// Sampler picks the traces to keep; nil is the SDK's default,
	// parent-based always-on. Metrics see every invocation whatever it picks.
	Sampler sdktrace.Sampler
	// Batch tunes span export.
	Batch BatchConfig
	// DisableMetrics turns metrics off: no meter, no /metrics handler.
	DisableMetrics bool
	// MetricReaders builds extra metric readers (an OTLP periodic reader)
	// besides the Prometheus exporter. Each reader must be given producer
	// (sdkmetric.WithProducer): it yields the invocation metrics. Shutdown
	// shuts the readers down. nil: none.
	MetricReaders func(producer sdkmetric.Producer) []sdkmetric.Reader
	// Producers yield more metrics (the performance model's) beside the
	// invocation metrics, at /metrics and to every reader of MetricReaders.
	Producers []sdkmetric.Producer
}

// Functions reports the deployed functions' pools, for the gauges of queue
// depth, instances by state and replicas. *gateway.Gateway satisfies it.
type Functions interface {
	FunctionStats() iter.Seq[gateway.FunctionStats]
}

var _ Functions = (*gateway.Gateway)(nil)

// Profiler records invocations as traces and metrics. It is safe for
// concurrent use. Close it with Shutdown, which flushes what is pending.
type Profiler struct {
	sampler sdktrace.Sampler
	batch   *batcher // nil: tracing off
	mp      *sdkmetric.MeterProvider
	met     *instruments // nil: metrics off
	handler http.Handler
	shut    atomic.Bool
}

var _ gateway.Recorder = (*Profiler)(nil)

// New builds a Profiler from cfg.
func New(ctx context.Context, cfg Config) (*Profiler, error) {
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.ServiceVersion))
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
	if err != nil {
		return nil, fmt.Errorf("profiler: resource: %w", err)
	}
	p := &Profiler{}
	if cfg.TraceSender != nil {
		p.sampler = cfg.Sampler
		if p.sampler == nil {
			p.sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
		}
		p.batch = newBatcher(cfg.TraceSender, cfg.Batch, res)
	}
	if !cfg.DisableMetrics {
		if err := p.startMetrics(res, cfg.MetricReaders, cfg.Producers); err != nil {
			p.Shutdown(ctx)
			return nil, err
		}
	}
	return p, nil
}

// startMetrics builds the meter provider, the Prometheus registry and the
// invocation metrics' producer.
func (p *Profiler) startMetrics(res *resource.Resource, readers func(sdkmetric.Producer) []sdkmetric.Reader, extra []sdkmetric.Producer) error {
	p.met = newInstruments(time.Now())
	var producer sdkmetric.Producer = p.met
	if len(extra) > 0 {
		producer = producers(append([]sdkmetric.Producer{p.met}, extra...))
	}
	reg := prometheus.NewRegistry()
	prom, err := newPrometheusReader(reg, producer)
	if err != nil {
		return err
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if readers != nil {
		for _, r := range readers(producer) {
			opts = append(opts, sdkmetric.WithReader(r))
		}
	}
	p.mp = sdkmetric.NewMeterProvider(opts...)
	if p.batch != nil {
		if err := observeSpans(p.mp.Meter(scopeName), p.batch); err != nil {
			return err
		}
	}
	p.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return nil
}

// producers yields the metrics of all its producers, in order.
type producers []sdkmetric.Producer

// Produce implements sdkmetric.Producer; it stops at the first error.
func (ps producers) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	var out []metricdata.ScopeMetrics
	for _, p := range ps {
		sm, err := p.Produce(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, sm...)
	}
	return out, nil
}

// MetricsHandler serves the metrics in Prometheus's text format; nil when
// metrics are off.
func (p *Profiler) MetricsHandler() http.Handler { return p.handler }

// ObserveFunctions reports fs's pools in the gauges (queue depth, instances
// by state, gateway_service_count) at each collection. Call it once, after
// the gateway exists; without it those gauges are absent.
func (p *Profiler) ObserveFunctions(fs Functions) error {
	if p.mp == nil {
		return nil
	}
	return observePools(p.mp.Meter(scopeName), fs)
}

// Tracing reports whether the profiler traces.
func (p *Profiler) Tracing() bool { return p.batch != nil }

// SpanStats counts the spans handed to the exporter and the spans dropped.
type SpanStats struct {
	// Exported spans were accepted by the exporter.
	Exported uint64
	// Dropped spans never reached a backend: the queue was full, the
	// exporter failed, or the profiler was shut down.
	Dropped uint64
}

// SpanStats returns the span counters (zero when tracing is off).
func (p *Profiler) SpanStats() SpanStats {
	if p.batch == nil {
		return SpanStats{}
	}
	return p.batch.stats()
}

// ForceFlush exports the spans pending now and waits for it, or for ctx.
func (p *Profiler) ForceFlush(ctx context.Context) error {
	if p.batch == nil {
		return nil
	}
	return p.batch.flush(ctx)
}

// Shutdown flushes pending spans and metrics and stops the exporters; later
// calls do nothing. The spans of invocations recorded afterwards are
// dropped (and counted).
func (p *Profiler) Shutdown(ctx context.Context) error {
	if p.shut.Swap(true) {
		return nil
	}
	var errs []error
	if p.batch != nil {
		errs = append(errs, p.batch.shutdown(ctx))
	}
	if p.mp != nil {
		errs = append(errs, p.mp.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("profiler: shutdown: %w", err)
	}
	return nil
}

// Begin starts the invocation's SERVER span (when tracing) and returns its
// trace context for the function.
func (p *Profiler) Begin(inv *invoker.Invocation, call gateway.Call) gateway.TraceContext {
	if p.batch == nil {
		return gateway.TraceContext{}
	}
	return p.beginSpan(inv, call)
}

// Record counts inv in the metrics and, when its trace is sampled, queues
// it for span export; it keeps inv only then. It never blocks and never
// fails the request.
func (p *Profiler) Record(inv *invoker.Invocation) (kept bool) {
	if p.met != nil {
		p.met.record(inv)
	}
	if c, ok := inv.Trace.(*sampledCall); ok && p.batch != nil {
		return p.batch.add(record{call: c, inv: inv, n: spanCount(inv)})
	}
	return false
}
