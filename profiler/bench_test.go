package profiler

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// wireClient encodes each upload as the OTLP exporters do, and keeps nothing.
type wireClient struct{}

func (wireClient) Start(context.Context) error { return nil }
func (wireClient) Stop(context.Context) error  { return nil }
func (wireClient) UploadTraces(_ context.Context, rss []*tracepb.ResourceSpans) error {
	_, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rss})
	return err
}

// BenchmarkRecord measures what the profiler adds to one warm invocation
// (Begin and Record; the spans built and encoded for OTLP, then discarded):
//
//	go test -run='^$' -bench=Record -benchmem ./profiler/
func BenchmarkRecord(b *testing.B) {
	big := BatchConfig{QueueSize: 1 << 24} // no drop: every span's export is measured
	for _, bm := range []struct {
		name string
		cfg  Config
	}{
		{"metrics", Config{}},
		{"traces-all", Config{TraceClient: wireClient{}, DisableMetrics: true, Batch: big}},
		{"traces-10pct", Config{TraceClient: wireClient{}, Batch: big, Sampler: sdktrace.TraceIDRatioBased(0.1), DisableMetrics: true}},
		{"both-all", Config{TraceClient: wireClient{}, Batch: big}},
		{"both-10pct", Config{TraceClient: wireClient{}, Batch: big, Sampler: sdktrace.TraceIDRatioBased(0.1)}},
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
