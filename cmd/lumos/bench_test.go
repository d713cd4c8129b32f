package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The HTTP benchmarks drive real servers on loopback with the same in-process
// load generator and report ratios against a baseline measured in the same
// run. Run them with:
//
//	go test -run='^$' -bench=. -benchtime=1x ./cmd/lumos/
//
// They ignore b.N beyond 1: each reports its own metrics.

const (
	loadConns    = 32
	loadDuration = 3 * time.Second
	loadRounds   = 2
)

// measureRPS sends GET url from loadConns concurrent connections for d and
// returns requests/s of 200 answers; any other answer fails the benchmark.
func measureRPS(b *testing.B, url string, d time.Duration) float64 {
	b.Helper()
	rps, _ := measureLoad(b, url, d)
	return rps
}

// measureLoad is measureRPS that also returns the number of requests served.
func measureLoad(b *testing.B, url string, d time.Duration) (float64, int64) {
	b.Helper()
	c := &fasthttp.Client{MaxConnsPerHost: loadConns, ReadTimeout: 10 * time.Second}
	var n, bad atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(url)
			for time.Now().Before(stop) {
				if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					bad.Add(1)
					continue
				}
				n.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	if bad.Load() > 0 {
		b.Fatalf("%s: %d failed requests", url, bad.Load())
	}
	return float64(n.Load()) / time.Since(start).Seconds(), n.Load()
}

// startBareHello serves a fasthttp hello world: the ceiling for any gateway.
func startBareHello(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.WriteString("Hello, world!\n")
	}}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String() + "/"
}

func benchServer(b *testing.B, dataDir string) *server {
	b.Helper()
	srv, err := startServer(context.Background(), serveOptions{
		addr: "127.0.0.1:0", dataDir: dataDir, defaultRuntime: "wasm-aot", bundled: true,
		adminUser: "admin", adminPassword: "bench", maxBody: 16 << 20, maxArtifact: 128 << 20,
		defaultTimeout: 30 * time.Second, maxTimeout: time.Minute, logLevel: "error",
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkWarmHello compares warm invokes of the bundled hello (wasm-aot,
// loop ABI) through the gateway with a bare fasthttp hello world, rounds
// interleaved so both see the same machine.
func BenchmarkWarmHello(b *testing.B) {
	bare := startBareHello(b)
	srv := benchServer(b, b.TempDir())
	defer srv.Close(context.Background())
	fn := srv.url + "/function/hello"
	measureRPS(b, fn, 500*time.Millisecond) // warm the pool and the connections
	measureRPS(b, bare, 500*time.Millisecond)
	var bareRPS, fnRPS float64
	for range loadRounds {
		bareRPS += measureRPS(b, bare, loadDuration) / loadRounds
		fnRPS += measureRPS(b, fn, loadDuration) / loadRounds
	}
	b.ReportMetric(bareRPS, "bare-req/s")
	b.ReportMetric(fnRPS, "lumos-req/s")
	b.ReportMetric(fnRPS/bareRPS, "ratio")
}

// latencies invokes url n times one after another and returns the sorted latencies.
func latencies(b *testing.B, url string, n int, check func(*fasthttp.Response) error) []time.Duration {
	b.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	c := &fasthttp.Client{}
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := c.Do(req, resp); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if resp.StatusCode() != 200 {
			b.Fatalf("%s: %d %s", url, resp.StatusCode(), resp.Body())
		}
		if check != nil {
			if err := check(resp); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func wantStart(kind string) func(*fasthttp.Response) error {
	return func(r *fasthttp.Response) error {
		if got := string(r.Header.Peek("X-Lumos-Start")); got != kind {
			return fmt.Errorf("X-Lumos-Start = %q, want %q", got, kind)
		}
		return nil
	}
}
