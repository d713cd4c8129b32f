package model

import (
	"context"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metric names, as exposed at /metrics and over OTLP.
const (
	// MetricErrorRatio is the live error (EWMA of |predicted-observed|/observed)
	// of the model's predictions, per function, runtime and ABI.
	MetricErrorRatio = "lumos_model_error_ratio"
	// MetricSamples counts the invocations the model learned from, per
	// function, runtime, ABI and kind (cold, prewarmed, warm, error).
	MetricSamples = "lumos_model_samples"
)

// scopeName is the instrumentation scope of the model's metrics.
const scopeName = "github.com/lumos-edge/lumos/profiler/model"

var _ sdkmetric.Producer = (*Model)(nil)

// Produce returns the model's gauges (metric.Producer): its live error
// ratio and its sample counts, for every key it has scored or seen.
func (m *Model) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	errGauge := &metricdata.Gauge[float64]{}
	samples := &metricdata.Gauge[int64]{}
	for k, ks := range *m.keys.Load() {
		base := []attribute.KeyValue{attribute.String("function", k.function), attribute.String("runtime", k.runtime), attribute.String("abi", string(k.abi))}
		ks.mu.Lock()
		counts := [...]struct {
			kind string
			n    int64
		}{{"cold", ks.cold}, {"prewarmed", ks.prewarmed}, {"warm", ks.warm}, {"error", ks.failed}}
		scored, e := ks.errN, ks.errEWMA
		ks.mu.Unlock()
		if scored > 0 && !math.IsNaN(e) {
			errGauge.DataPoints = append(errGauge.DataPoints, metricdata.DataPoint[float64]{Attributes: attribute.NewSet(base...), Time: now, Value: e})
		}
		for _, c := range counts {
			set := attribute.NewSet(append(base[:3:3], attribute.String("kind", c.kind))...)
			samples.DataPoints = append(samples.DataPoints, metricdata.DataPoint[int64]{Attributes: set, Time: now, Value: c.n})
		}
	}
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: scopeName},
		Metrics: []metricdata.Metrics{
			{Name: MetricErrorRatio, Description: "Live error of the performance model's latency predictions: EWMA of |predicted - observed| / observed.", Unit: "1", Data: *errGauge},
			{Name: MetricSamples, Description: "Invocations the performance model learned from, by kind (cold, prewarmed, warm, error).", Unit: "{invocation}", Data: *samples},
		},
	}}, nil
}
