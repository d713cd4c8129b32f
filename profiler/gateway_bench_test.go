package profiler

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// noopRuntime serves instances that answer at once, recording the phases a
// runtime records.
type noopRuntime struct{}

type noopFunction struct{}

type noopInstance struct{}

var noopResponse = &invoker.Response{Status: 200, Body: []byte("Hello, world!\n")}

func (noopRuntime) Load(context.Context, invoker.Spec) (invoker.Function, error) {
	return noopFunction{}, nil
}
func (noopFunction) NewInstance(context.Context, *invoker.Timeline) (invoker.Instance, error) {
	return noopInstance{}, nil
}
func (noopFunction) Close(context.Context) error { return nil }
func (noopInstance) Invoke(_ context.Context, _ *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	t := time.Now()
	tl.AddDuration(invoker.PhaseRequestWrite, t, 1)
	tl.AddDuration(invoker.PhaseExecute, t, 2)
	tl.AddDuration(invoker.PhaseResponseRead, t, 1)
	return noopResponse, nil
}
func (noopInstance) ID() string                  { return "noop-1" }
func (noopInstance) Reusable() bool              { return true }
func (noopInstance) MemoryBytes() int64          { return 0 }
func (noopInstance) Close(context.Context) error { return nil }

// BenchmarkGateway drives the gateway's handler (no network, a no-op
// instance) without a recorder and with the profiler in each mode: the
// difference is what the profiler costs a request on its path.
//
//	go test -run='^$' -bench=Gateway -benchmem ./profiler/
func BenchmarkGateway(b *testing.B) {
	big := BatchConfig{QueueSize: 1 << 24}
	for _, bm := range []struct {
		name string
		cfg  *Config
	}{
		{"off", nil},
		{"metrics", &Config{}},
		{"all", &Config{TraceSender: discardSender{}, Batch: big}},
		{"10pct", &Config{TraceSender: discardSender{}, Batch: big, Sampler: sdktrace.TraceIDRatioBased(0.1)}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			st, err := store.Open(b.TempDir(), slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cfg := gateway.Config{
				Runtimes: map[string]gateway.Runtime{"noop": noopRuntime{}}, DefaultRuntime: "noop", Store: st,
				Credentials: gateway.Credentials{User: "u", Password: "p"}, DefaultPool: pool.DefaultConfig(),
				Logger: slog.New(slog.DiscardHandler),
			}
			var p *Profiler
			if bm.cfg != nil {
				p, _ = testProfiler(b, *bm.cfg)
				cfg.Recorder = p
			}
			g, err := gateway.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close(context.Background())
			digest, err := g.PutArtifact([]byte("noop"))
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Deploy(context.Background(), gateway.FunctionDeployment{Service: "hello", Image: digest}, false); err != nil {
				b.Fatal(err)
			}
			h := g.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			var rc fasthttp.RequestCtx
			rc.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
			for range b.N {
				rc.Request.Reset()
				rc.Request.SetRequestURI("/function/hello")
				rc.Response.Reset()
				h(&rc)
				if rc.Response.StatusCode() != 200 {
					b.Fatalf("status %d", rc.Response.StatusCode())
				}
			}
			if p != nil {
				p.ForceFlush(context.Background())
			}
		})
	}
}
