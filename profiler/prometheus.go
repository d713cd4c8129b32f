package profiler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// newPrometheusReader exposes the meter provider's metrics in reg, the
// profiler's own registry (never the global one). Instrument names are
// already Prometheus names, so the exporter is told to add no suffix (no
// _total, no unit) and no scope labels: the exposition shows exactly the
// Metric* names.
func newPrometheusReader(reg *prometheus.Registry, producer sdkmetric.Producer) (sdkmetric.Reader, error) {
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithProducer(producer),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithoutSuffixes),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("profiler: prometheus exporter: %w", err)
	}
	return exp, nil
}
