package profiler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestDroppedSpansAreCounted(t *testing.T) {
	c := newMemClient()
	c.gate = make(chan struct{})
	p, reader := testProfiler(t, Config{TraceSender: c, Batch: BatchConfig{QueueSize: 8, BatchSize: 4, Delay: time.Hour}})
	// One warm invocation has 4 spans: a full batch, so its export starts and blocks.
	warmHello.run(p)
	<-c.entered
	// The queue takes 8 more spans (2 invocations); the next 3 invocations' 12 spans are dropped.
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
	close(c.gate)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.SpanStats()
	if st.Exported != 12 || st.Dropped != 12 || len(c.all()) != 12 {
		t.Errorf("stats %+v, the client got %d; want 12 exported and 12 dropped of 24", st, len(c.all()))
	}
	text := scrape(t, p)
	for _, l := range []string{`lumos_trace_spans_dropped_total{reason="queue_full"} 12`, `lumos_trace_spans_exported_total 12`} {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("exposition lacks %s", l)
		}
	}
}

func TestFailedExportsAreCounted(t *testing.T) {
	c := newMemClient()
	c.fail.Store(true)
	p, reader := testProfiler(t, Config{TraceSender: c})
	warmHello.run(p)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, collect(t, reader), MetricSpansDropped, map[string]string{"reason": "export_failed"}); n != 4 {
		t.Errorf("dropped (export_failed) = %d, want 4", n)
	}
}

func TestShutdownExportsTheRestThenDropsAndCounts(t *testing.T) {
	c := newMemClient()
	p, _ := testProfiler(t, Config{TraceSender: c, Batch: BatchConfig{Delay: time.Hour}})
	warmHello.run(p)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.all()); n != 4 {
		t.Errorf("Shutdown exported %d spans, want the 4 pending", n)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	warmHello.run(p)
	if st := p.SpanStats(); st.Exported != 4 || st.Dropped != 4 || p.batch.counts().dropped[dropShutdown] != 4 {
		t.Errorf("after shutdown: %+v, want 4 exported, 4 dropped", st)
	}
}

func TestBatchDelayExportsWithoutAFullBatch(t *testing.T) {
	c := newMemClient()
	p, _ := testProfiler(t, Config{TraceSender: c, Batch: BatchConfig{Delay: 5 * time.Millisecond}})
	warmHello.run(p)
	select {
	case <-c.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("4 spans waited for a full batch of 512")
	}
}

func TestBatchesKeepAnInvocationTogether(t *testing.T) {
	c := newMemClient()
	p, _ := testProfiler(t, Config{TraceSender: c, Batch: BatchConfig{BatchSize: 6, Delay: time.Hour}})
	for range 3 {
		warmHello.run(p) // 4 spans each: batches of 4, never 6 split across invocations
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uploads != 3 || len(c.spans) != 12 {
		t.Errorf("%d uploads of %d spans, want 3 of 4", c.uploads, len(c.spans))
	}
}

// TestHammerRecord records from many goroutines while metrics are scraped
// and spans flushed; every span is accounted for and every invocation counted.
func TestHammerRecord(t *testing.T) {
	c := newMemClient()
	p, reader := testProfiler(t, Config{TraceSender: c, Batch: BatchConfig{QueueSize: 64, BatchSize: 16, Delay: time.Millisecond}})
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
	if st.Exported+st.Dropped != total || st.Exported != uint64(len(c.all())) {
		t.Errorf("spans: %+v, the client got %d; want %d accounted for", st, len(c.all()), total)
	}
	rm := collect(t, reader)
	if n := count(t, rm, MetricInvocations, nil); n != workers*each {
		t.Errorf("invocations = %d, want %d", n, workers*each)
	}
	if n := count(t, rm, MetricErrors, map[string]string{"function": "fn", "outcome": "function_error"}); n != workers/2*each {
		t.Errorf("errors = %d, want %d", n, workers/2*each)
	}
}
