package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkNoisyNeighbour measures hello's latency through the gateway
// (wasm-aot, loop ABI, one request at a time) alone, then while two clients
// keep fib?n=32 (about 100 ms of compiled CPU-bound work per call) running on
// both cores. It reports p50 and p99 of each, from the same run.
func BenchmarkNoisyNeighbour(b *testing.B) {
	srv := benchServer(b, b.TempDir())
	defer srv.Close(context.Background())
	hello := srv.url + "/function/hello"
	latencies(b, hello, 200, nil) // warm up

	alone := latencies(b, hello, 2000, nil)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var fibs atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.Client{ReadTimeout: time.Minute}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(srv.url + "/function/fib?n=32")
			for !stop.Load() {
				if err := c.Do(req, resp); err == nil && resp.StatusCode() == 200 {
					fibs.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // both fib clients busy
	loaded := latencies(b, hello, 2000, nil)
	stop.Store(true)
	wg.Wait()
	if fibs.Load() == 0 {
		b.Fatal("no fib call finished: the neighbour never ran")
	}
	p := func(d []time.Duration, q float64) float64 { return ms(d[int(q*float64(len(d)-1))]) }
	b.ReportMetric(p(alone, 0.5), "alone-p50-ms")
	b.ReportMetric(p(alone, 0.99), "alone-p99-ms")
	b.ReportMetric(p(loaded, 0.5), "loaded-p50-ms")
	b.ReportMetric(p(loaded, 0.99), "loaded-p99-ms")
	b.ReportMetric(float64(fibs.Load()), "fib-calls")
}
