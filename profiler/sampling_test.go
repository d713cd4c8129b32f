package profiler

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestMetricsCompleteWhatever(t *testing.T) {
	for _, tt := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{{"never sampled", sdktrace.NeverSample()}, {"10%", sdktrace.TraceIDRatioBased(0.1)}, {"always", sdktrace.AlwaysSample()}} {
		t.Run(tt.name, func(t *testing.T) {
			p, reader := testProfiler(t, Config{TraceSender: newMemClient(), Sampler: tt.sampler})
			const n = 200
			for range n {
				warmHello.run(p)
			}
			rm := collect(t, reader)
			for _, name := range []string{MetricInvocations, MetricOpenFaaSInvocations, MetricDuration, MetricOpenFaaSDuration, MetricGatewayOverhead, MetricQueueWait} {
				if got := count(t, rm, name, nil); got != n {
					t.Errorf("%s counted %d of %d invocations", name, got, n)
				}
			}
			if got := count(t, rm, MetricPhaseDuration, map[string]string{"phase": "execute"}); got != n {
				t.Errorf("execute phases %d, want %d", got, n)
			}
		})
	}
}
