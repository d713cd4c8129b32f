package gateway

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// noopRuntime's instances answer a fixed response, so a benchmark measures
// the gateway alone.
func noopRuntime() Runtime {
	resp := &invoker.Response{Status: 200, Header: []invoker.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("hello")}
	return &fakeRuntime{load: func(context.Context, invoker.Spec) (invoker.Function, error) {
		return &fakeFunction{
			newInstance: func(context.Context, *invoker.Timeline) (invoker.Instance, error) {
				return &fakeInstance{id: "noop", reusable: true,
					invoke: func(context.Context, *invoker.Request, *invoker.Timeline) (*invoker.Response, error) {
						return resp, nil
					},
				}, nil
			},
			close: func(context.Context) error { return nil },
		}, nil
	}}
}

// benchGateway serves a "noop" function from a temp-dir store.
func benchGateway(b *testing.B) *Gateway { return noopGateway(b, noopRuntime()) }

// noopGateway serves a "noop" function of rt from a temp-dir store.
func noopGateway(b testing.TB, rt Runtime) *Gateway {
	b.Helper()
	st, err := store.Open(b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	cfg := pool.DefaultConfig()
	cfg.MaxInstances = 64
	g, err := New(context.Background(), Config{
		Runtimes: map[string]Runtime{"noop": rt}, DefaultRuntime: "noop", Store: st,
		Credentials: Credentials{User: "u", Password: "p"}, DefaultPool: cfg, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	digest, err := g.PutArtifact([]byte("noop"))
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Deploy(context.Background(), FunctionDeployment{Service: "noop", Image: digest}, false); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := g.Close(context.Background()); err != nil {
			b.Error(err)
		}
		if err := st.Close(); err != nil {
			b.Error(err)
		}
	})
	return g
}

func runHandler(b *testing.B, h fasthttp.RequestHandler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var rc fasthttp.RequestCtx
		rc.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
		for pb.Next() {
			rc.Request.Reset()
			rc.Request.Header.SetMethod(fasthttp.MethodPost)
			rc.Request.SetRequestURI("/function/noop/sub?x=1")
			rc.Request.Header.Set("X-In", "value")
			rc.Request.SetBodyString(`{"n":1}`)
			rc.Response.Reset()
			h(&rc)
			if rc.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", rc.Response.StatusCode(), rc.Response.Body())
			}
		}
	})
}

// BenchmarkInvokeFake drives the gateway's handler with a no-op instance.
func BenchmarkInvokeFake(b *testing.B) {
	runHandler(b, benchGateway(b).Handler())
}

// BenchmarkBareFasthttp is the same request against a bare hello-world
// handler: the reference BenchmarkInvokeFake is compared with.
func BenchmarkBareFasthttp(b *testing.B) {
	runHandler(b, func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("text/plain")
		rc.SetBodyString("hello")
	})
}

// runHTTP serves h on a 127.0.0.1 listener and drives it with concurrent
// fasthttp clients: the request rate over the loopback network.
func runHTTP(b *testing.B, h fasthttp.RequestHandler) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		if err := srv.Shutdown(); err != nil {
			b.Error(err)
		}
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	client := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 64}
	url := "http://" + ln.Addr().String() + "/function/noop/sub?x=1"
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(url)
		req.SetBodyString(`{"n":1}`)
		for pb.Next() {
			if err := client.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != 200 {
				b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
		}
	})
}

// BenchmarkInvokeHTTP is BenchmarkInvokeFake over loopback HTTP.
func BenchmarkInvokeHTTP(b *testing.B) { runHTTP(b, benchGateway(b).Handler()) }

// BenchmarkBareHTTP is a bare fasthttp hello world over loopback HTTP.
func BenchmarkBareHTTP(b *testing.B) {
	runHTTP(b, func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("text/plain")
		rc.SetBodyString("hello")
	})
}
