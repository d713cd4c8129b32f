package profiler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// testProfiler builds a profiler with a manual metric reader, shut down at
// the end of the test.
func testProfiler(t testing.TB, cfg Config) (*Profiler, *sdkmetric.ManualReader) {
	t.Helper()
	var reader *sdkmetric.ManualReader
	cfg.MetricReaders = func(producer sdkmetric.Producer) []sdkmetric.Reader {
		reader = sdkmetric.NewManualReader(sdkmetric.WithProducer(producer))
		return []sdkmetric.Reader{reader}
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p, reader
}

// invocation is a synthetic record: what the gateway would build.
type invocation struct {
	function, runtime string
	start             invoker.StartKind
	status            int
	err               error
	queue             time.Duration
	cold              []invoker.PhaseName
	parent            string // caller's traceparent
	state             string
	maxMemory         int64
}

// run plays inv through p as the gateway does: Begin, phases, Record.
func (c invocation) run(p *Profiler) (*invoker.Invocation, gateway.TraceContext) {
	begin := time.Now().Add(-10 * time.Millisecond)
	inv := &invoker.Invocation{ID: "call-1", Function: c.function, Runtime: c.runtime, ABI: invoker.ABILoop,
		Begin: begin, MaxMemory: c.maxMemory}
	tc := p.Begin(inv, gateway.Call{Method: "POST", Path: "/function/" + c.function + "/sub", TraceParent: c.parent, TraceState: c.state})
	at := begin.Add(100 * time.Microsecond)
	step := func(name invoker.PhaseName, d time.Duration) {
		inv.Phases.AddDuration(name, at, d)
		at = at.Add(d + 10*time.Microsecond)
	}
	if c.queue > 0 {
		step(invoker.PhaseQueueWait, c.queue)
	}
	for _, ph := range c.cold {
		step(ph, time.Millisecond)
	}
	inv.Start = c.start
	if c.start != "" {
		inv.Instance = c.function + "-1"
		step(invoker.PhaseRequestWrite, 20*time.Microsecond)
		step(invoker.PhaseExecute, 2*time.Millisecond)
		step(invoker.PhaseResponseRead, 30*time.Microsecond)
	}
	inv.Total = at.Sub(begin) + 50*time.Microsecond
	inv.RequestBytes, inv.ResponseBytes, inv.Status, inv.Err = 5, 14, c.status, c.err
	inv.BodyBytes = 14
	p.Record(inv)
	return inv, tc
}

var warmHello = invocation{function: "hello", runtime: "wasm-aot", start: invoker.StartWarm, status: 200}

// collect reads the metrics.
func collect(t testing.TB, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	return rm
}

// find returns the named metric's data, or nil.
func find(rm metricdata.ResourceMetrics, name string) any {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

// matches reports whether set has every attribute of want.
func matches(set attribute.Set, want map[string]string) bool {
	for k, v := range want {
		got, ok := set.Value(attribute.Key(k))
		if !ok || got.Emit() != v {
			return false
		}
	}
	return true
}

// count sums the points of a counter or gauge, or the counts of a
// histogram, whose attributes include want.
func count(t testing.TB, rm metricdata.ResourceMetrics, name string, want map[string]string) int64 {
	t.Helper()
	var n int64
	switch d := find(rm, name).(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			if matches(dp.Attributes, want) {
				n += dp.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			if matches(dp.Attributes, want) {
				n += dp.Value
			}
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			if matches(dp.Attributes, want) {
				n += int64(dp.Count)
			}
		}
	case nil:
		return 0
	default:
		t.Fatalf("%s: unexpected data %T", name, d)
	}
	return n
}

// scrape returns the /metrics exposition.
func scrape(t testing.TB, p *Profiler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil || rec.Code != 200 {
		t.Fatalf("scrape: %d %v", rec.Code, err)
	}
	return string(body)
}

// fakeFunctions reports fixed pools.
type fakeFunctions []gateway.FunctionStats

func (f fakeFunctions) FunctionStats() iter.Seq[gateway.FunctionStats] {
	return func(yield func(gateway.FunctionStats) bool) {
		for _, s := range f {
			if !yield(s) {
				return
			}
		}
	}
}

var _ = pool.Stats{}

// memClient is a TraceSender that decodes and keeps what it is sent; fail
// makes sends fail, gate (when set) blocks each send until closed.
type memClient struct {
	entered chan struct{} // a send began (buffered)
	gate    chan struct{}
	fail    atomic.Bool

	mu      sync.Mutex
	spans   []*tracepb.Span
	res     []*tracepb.ResourceSpans
	uploads int
	stopped bool
}

func newMemClient() *memClient { return &memClient{entered: make(chan struct{}, 1<<16)} }

func (m *memClient) Shutdown(context.Context) error {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	return nil
}

func (m *memClient) Send(ctx context.Context, wire []byte) error {
	m.entered <- struct{}{}
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if m.fail.Load() {
		return errors.New("collector down")
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(wire, &req); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uploads++
	for _, rs := range req.ResourceSpans {
		m.res = append(m.res, rs)
		for _, ss := range rs.ScopeSpans {
			m.spans = append(m.spans, ss.Spans...)
		}
	}
	return nil
}

func (m *memClient) all() []*tracepb.Span {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.spans)
}

// spansByName indexes spans by name (names are unique per trace here).
func spansByName(spans []*tracepb.Span) map[string]*tracepb.Span {
	m := map[string]*tracepb.Span{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

// attrs maps a span's attributes by key to their Go values.
func attrs(s *tracepb.Span) map[string]any {
	m := map[string]any{}
	for _, kv := range s.Attributes {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = v.BoolValue
		default:
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

var errTrap = fmt.Errorf("wasm error: unreachable: %w", invoker.ErrTrap)
var errBody = errors.New("request body too large")
