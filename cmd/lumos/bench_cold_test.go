package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/gateway"
)

// BenchmarkColdStart reports, for hello on wasm-aot with the loop ABI,
// through HTTP:
//   - first-compile-ms: deploying a module never seen before (AoT compile, empty cache);
//   - cold-p50-ms: a request that must create its instance, the compiled
//     module in memory (each instance is recycled after one request);
//   - warm-p50-ms: the same function warm, as the baseline;
//   - restart-ms: starting a gateway on the same data (every function restored
//     from the compilation cache on disk), and first-after-restart-ms, that
//     gateway's first request to the function, cold.
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	srv := benchServer(b, dir)
	c := &client{base: srv.url, user: "admin", pass: "bench", http: &http.Client{Timeout: time.Minute}}
	hello, err := functions.Wasm("hello")
	if err != nil {
		b.Fatal(err)
	}
	// A custom section gives the module a digest no cache has seen.
	mod := append(append([]byte{}, hello...), customSection(fmt.Sprintf("bench-%d", time.Now().UnixNano()))...)
	ctx := context.Background()
	var art struct {
		Digest string `json:"digest"`
	}
	if err := c.doJSON(ctx, http.MethodPost, "/system/artifacts", nil, nil); err == nil {
		b.Fatal("an empty upload was accepted")
	}
	if err := c.do(ctx, http.MethodPost, "/system/artifacts", bytesReader(mod), "application/wasm", &art); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	err = c.doJSON(ctx, http.MethodPost, "/system/functions", gateway.FunctionDeployment{
		Service: "hello-cold", Image: art.Digest,
		Annotations: map[string]string{"lumos.runtime": "wasm-aot", "lumos.abi": "loop", "lumos.max_requests": "1"},
	}, nil)
	firstCompile := time.Since(t0)
	if err != nil {
		b.Fatal(err)
	}
	cold := latencies(b, srv.url+"/function/hello-cold", 60, wantStart("cold"))
	warm := latencies(b, srv.url+"/function/hello", 200, nil)
	if err := srv.Close(ctx); err != nil {
		b.Fatal(err)
	}

	t0 = time.Now()
	srv = benchServer(b, dir)
	restart := time.Since(t0)
	defer srv.Close(ctx)
	first := latencies(b, srv.url+"/function/hello-cold", 1, wantStart("cold"))[0]

	b.ReportMetric(ms(firstCompile), "first-compile-ms")
	b.ReportMetric(ms(cold[len(cold)/2]), "cold-p50-ms")
	b.ReportMetric(ms(warm[len(warm)/2]), "warm-p50-ms")
	b.ReportMetric(ms(restart), "restart-ms")
	b.ReportMetric(ms(first), "first-after-restart-ms")
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
