package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkTelemetry measures what telemetry costs: warm invokes of
// the bundled hello (wasm-aot, loop ABI) through HTTP on three gateways in
// the same run, rounds interleaved: telemetry off; tracing and metrics on
// with every span exported over OTLP/HTTP to a loopback sink that decodes
// each export request; and the same with a 10% trace-id ratio sampler. It
// fails if any span is lost (dropped, or not received by the sink).
//
//	go test -run='^$' -bench=Telemetry -benchtime=1x ./cmd/lumos/
//
// Rounds of BenchmarkTelemetry.
const (
	telemetryRounds   = 6
	telemetryDuration = 2 * time.Second
)

func BenchmarkTelemetry(b *testing.B) {
	sinkAll, sinkRatio := startOTLPSink(b, false), startOTLPSink(b, false)
	start := func(env map[string]string) *server {
		srv, err := startServer(context.Background(), serveOptions{
			addr: "127.0.0.1:0", dataDir: b.TempDir(), defaultRuntime: "wasm-aot", bundled: true,
			adminUser: "admin", adminPassword: "bench", maxBody: 16 << 20, maxArtifact: 128 << 20,
			defaultTimeout: 30 * time.Second, maxTimeout: time.Minute, logLevel: "error", logOut: io.Discard,
			metrics: env != nil, getenv: envMap(env),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { srv.Close(context.Background()) })
		return srv
	}
	off := start(nil)
	all := start(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sinkAll.url, "OTEL_TRACES_SAMPLER": "always_on", "OTEL_BSP_MAX_QUEUE_SIZE": "65536"})
	ratio := start(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sinkRatio.url,
		"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
	modes := []struct {
		name string
		srv  *server
		rps  float64
		n    int64
	}{{"off", off, 0, 0}, {"all", all, 0, 0}, {"ratio", ratio, 0, 0}}
	for i := range modes {
		measureLoad(b, modes[i].srv.url+"/function/hello", 500*time.Millisecond) // warm the pool and the connections
	}
	// More rounds than the other benchmarks, the order rotated each round and
	// each gateway's spans flushed after its turn, so that no mode pays for
	// another's export or for a neighbour's burst on the shared machine.
	for round := range telemetryRounds {
		for k := range modes {
			m := &modes[(round+k)%len(modes)]
			rps, n := measureLoad(b, m.srv.url+"/function/hello", telemetryDuration)
			m.rps += rps / telemetryRounds
			m.n += n
			if m.srv.prof != nil {
				if err := m.srv.prof.ForceFlush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for _, srv := range []*server{all, ratio} {
		if err := srv.prof.ForceFlush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	st := all.prof.SpanStats()
	servers, spans := sinkAll.servers.Load(), sinkAll.spans.Load()
	// The warm-up requests are traced too: at least every measured one.
	if st.Dropped != 0 || int64(st.Exported) != spans || servers < modes[1].n || spans < 4*servers || sinkAll.bad.Load() != 0 {
		b.Errorf("all exported: %+v; the sink got %d spans, %d server spans, for %d measured requests", st, spans, servers, modes[1].n)
	}
	rst := ratio.prof.SpanStats()
	if rst.Dropped != 0 || int64(rst.Exported) != sinkRatio.spans.Load() {
		b.Errorf("10%%: %+v; the sink got %d spans", rst, sinkRatio.spans.Load())
	}
	b.ReportMetric(modes[0].rps, "off-req/s")
	b.ReportMetric(modes[1].rps, "all-req/s")
	b.ReportMetric(modes[2].rps, "ratio10-req/s")
	b.ReportMetric(modes[1].rps/modes[0].rps, "all/off")
	b.ReportMetric(modes[2].rps/modes[0].rps, "ratio10/off")
	b.ReportMetric(float64(sinkRatio.servers.Load())/float64(modes[2].n), "sampled-share")
}
