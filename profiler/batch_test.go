package profiler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lumos-edge/lumos/invoker"
)

// gateExporter blocks each export until released, and counts spans.
type gateExporter struct {
	entered chan struct{} // an export call began
	release chan struct{} // closed: exports proceed
	fail    atomic.Bool
	spans   atomic.Int64
}

func newGateExporter() *gateExporter {
	return &gateExporter{entered: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (g *gateExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.fail.Load() {
		return errors.New("collector down")
	}
	g.spans.Add(int64(len(spans)))
	return nil
}

func (g *gateExporter) Shutdown(context.Context) error { return nil }

func TestDroppedSpansAreCounted(t *testing.T) {
	exp := newGateExporter()
	p, reader := testProfiler(t, Config{SpanExporter: exp, Batch: BatchConfig{QueueSize: 8, BatchSize: 4, Delay: time.Hour}})
	// One warm invocation ends 4 spans: a full batch, so its export starts and blocks.
	warmHello.run(p)
	<-exp.entered
	// The queue holds 8 more spans (2 invocations); the next 3 invocations' 12 spans are dropped.
	for range 5 {
		warmHello.run(p)
	}
	rm := collect(t, reader)
	if n := count(t, rm, MetricSpansDropped, map[string]string{"reason": "queue_full"}); n != 12 {
		t.Errorf("dropped (queue_full) = %d, want 12", n)
	}
	if n := count(t, rm, MetricSpansExported, nil); n != 0 {
		t.Errorf("exported = %d while the exporter is blocked", n)
	}
	if n := count(t, rm, MetricInvocations, nil); n != 6 {
		t.Errorf("invocations = %d: metrics must not depend on span export", n)
	}
	close(exp.release)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.SpanStats()
	if st.Exported != 12 || st.Dropped != 12 || exp.spans.Load() != 12 {
		t.Errorf("stats %+v, exporter got %d; want 12 exported and 12 dropped of 24", st, exp.spans.Load())
	}
	text := scrape(t, p)
	for _, l := range []string{`lumos_trace_spans_dropped_total{reason="queue_full"} 12`, `lumos_trace_spans_exported_total 12`} {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("exposition lacks %s", l)
		}
	}
}

func TestFailedExportsAreCounted(t *testing.T) {
	exp := newGateExporter()
	exp.fail.Store(true)
	close(exp.release)
	p, reader := testProfiler(t, Config{SpanExporter: exp})
	warmHello.run(p)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, collect(t, reader), MetricSpansDropped, map[string]string{"reason": "export_failed"}); n != 4 {
		t.Errorf("dropped (export_failed) = %d, want 4", n)
	}
}

func TestShutdownExportsTheRestThenDropsAndCounts(t *testing.T) {
	exp := newGateExporter()
	close(exp.release)
	p, _ := testProfiler(t, Config{SpanExporter: exp, Batch: BatchConfig{Delay: time.Hour}})
	warmHello.run(p)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exp.spans.Load() != 4 {
		t.Errorf("Shutdown exported %d spans, want the 4 pending", exp.spans.Load())
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// A span that reaches the processor after its shutdown is counted.
	b := p.batch
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	b.OnEnd(tracetest.SpanStub{Name: "late", SpanContext: sc}.Snapshot())
	if st := p.SpanStats(); st.Exported != 4 || st.Dropped != 1 || b.counts().dropped[dropShutdown] != 1 {
		t.Errorf("after shutdown: %+v, want 4 exported, 1 dropped", st)
	}
}

func TestBatchDelayExportsWithoutAFullBatch(t *testing.T) {
	exp := newGateExporter()
	close(exp.release)
	p, _ := testProfiler(t, Config{SpanExporter: exp, Batch: BatchConfig{Delay: 5 * time.Millisecond}})
	warmHello.run(p)
	select {
	case <-exp.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("4 spans waited for a full batch of 512")
	}
}

// TestHammerRecord records from many goroutines while metrics are scraped
// and spans flushed; every span is accounted for and every invocation counted.
func TestHammerRecord(t *testing.T) {
	exp := newGateExporter()
	close(exp.release)
	p, reader := testProfiler(t, Config{SpanExporter: exp, Batch: BatchConfig{QueueSize: 64, BatchSize: 16, Delay: time.Millisecond}})
	if err := p.ObserveFunctions(fakeFunctions{{Name: "hello", Runtime: "wasm-aot"}}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Add(1)
	go func() {
		defer scrapes.Done()
		for {
			select {
			case <-stop:
				return
			default:
				scrape(t, p)
				p.ForceFlush(context.Background())
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := warmHello
			if w%2 == 1 {
				c = invocation{function: "fn", runtime: "wasm-interp", start: invoker.StartCold, status: 502, err: errTrap,
					cold: []invoker.PhaseName{invoker.PhaseInstantiate}}
			}
			for range each {
				c.run(p)
			}
		}()
	}
	wg.Wait()
	close(stop)
	scrapes.Wait()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Warm: 4 spans each; cold with one phase: server, cold_start, instantiate, 3 invocation phases = 6.
	total := uint64(workers/2*each*4 + workers/2*each*6)
	st := p.SpanStats()
	if st.Exported+st.Dropped != total || st.Exported != uint64(exp.spans.Load()) {
		t.Errorf("spans: %+v, exporter got %d; want %d accounted for", st, exp.spans.Load(), total)
	}
	rm := collect(t, reader)
	if n := count(t, rm, MetricInvocations, nil); n != workers*each {
		t.Errorf("invocations = %d, want %d", n, workers*each)
	}
	if n := count(t, rm, MetricErrors, map[string]string{"function": "fn", "outcome": "function_error"}); n != workers/2*each {
		t.Errorf("errors = %d, want %d", n, workers/2*each)
	}
}
