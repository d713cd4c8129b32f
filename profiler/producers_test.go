package profiler

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/lumos-edge/lumos/invoker"
)

// producerFunc is a metric producer made of a function.
type producerFunc func(context.Context) ([]metricdata.ScopeMetrics, error)

func (f producerFunc) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) { return f(ctx) }

// Config.Producers' metrics appear at /metrics and to the extra readers,
// beside the invocation metrics.
func TestExtraProducers(t *testing.T) {
	extra := producerFunc(func(context.Context) ([]metricdata.ScopeMetrics, error) {
		return []metricdata.ScopeMetrics{{
			Scope: instrumentation.Scope{Name: "test"},
			Metrics: []metricdata.Metrics{{Name: "lumos_model_error_ratio", Unit: "1", Data: metricdata.Gauge[float64]{
				DataPoints: []metricdata.DataPoint[float64]{{Attributes: attribute.NewSet(attribute.String("function", "f")), Time: time.Now(), Value: 0.125}},
			}}},
		}}, nil
	})
	p, reader := testProfiler(t, Config{Producers: []sdkmetric.Producer{extra}})
	invocation{function: "f", runtime: "wasm-aot", start: invoker.StartWarm, status: 200}.run(p)
	body := scrape(t, p)
	for _, want := range []string{`lumos_model_error_ratio{function="f"} 0.125`, MetricInvocations + "{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	rm := collect(t, reader)
	if find(rm, "lumos_model_error_ratio") == nil || find(rm, MetricInvocations) == nil {
		t.Error("the extra reader misses the extra producer's or the invocation metrics")
	}
}
