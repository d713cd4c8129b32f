package profiler

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discardSender drops the encoded requests: the encoding is the cost.
type discardSender struct{}

func (discardSender) Send(context.Context, []byte) error { return nil }
func (discardSender) Shutdown(context.Context) error     { return nil }

// BenchmarkRecord measures what the profiler adds to one warm invocation
// (Begin and Record; the spans encoded for OTLP, then discarded):
//
//	go test -run='^$' -bench=Record -benchmem ./profiler/
func BenchmarkRecord(b *testing.B) {
	big := BatchConfig{QueueSize: 1 << 24} // no drop: every span's export is measured
	for _, bm := range []struct {
		name string
		cfg  Config
	}{
		{"metrics", Config{}},
		{"traces-all", Config{TraceSender: discardSender{}, DisableMetrics: true, Batch: big}},
		{"traces-10pct", Config{TraceSender: discardSender{}, Batch: big, Sampler: sdktrace.TraceIDRatioBased(0.1), DisableMetrics: true}},
		{"both-all", Config{TraceSender: discardSender{}, Batch: big}},
		{"both-10pct", Config{TraceSender: discardSender{}, Batch: big, Sampler: sdktrace.TraceIDRatioBased(0.1)}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			p, _ := testProfiler(b, bm.cfg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					warmHello.run(p)
				}
			})
			p.ForceFlush(context.Background()) // the export's cost is the invocations'
			b.StopTimer()
			if d := p.SpanStats().Dropped; d > 0 {
				b.Logf("%d spans dropped", d)
			}
		})
	}
}
