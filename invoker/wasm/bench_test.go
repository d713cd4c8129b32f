package wasm

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

var helloReq = &invoker.Request{Method: "GET", Path: "/hello"}

// BenchmarkWarmInvoke: one request on a warm loop instance of a Go guest.
func BenchmarkWarmInvoke(b *testing.B) {
	for _, eng := range engines {
		b.Run(eng.String(), func(b *testing.B) {
			r := newTestRuntime(b, Config{Engine: eng})
			inst := instance(b, load(b, r, specOf("hello", invoker.ABILoop, loopWasm)), nil)
			ctx := context.Background()
			var tl invoker.Timeline
			b.ReportAllocs()
			for b.Loop() {
				tl.Reset()
				if _, err := inst.Invoke(ctx, helloReq, &tl); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkColdStart: NewInstance and the first request of a loop
// instance, the compiled module being in memory.
func BenchmarkColdStart(b *testing.B) {
	for _, eng := range engines {
		b.Run(eng.String(), func(b *testing.B) {
			r := newTestRuntime(b, Config{Engine: eng})
			f := load(b, r, specOf("hello", invoker.ABILoop, loopWasm))
			ctx := context.Background()
			var inst, first time.Duration
			for b.Loop() {
				var tl invoker.Timeline
				in, err := f.NewInstance(ctx, &tl)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := in.Invoke(ctx, helloReq, &tl); err != nil {
					b.Fatal(err)
				}
				inst += tl.Get(invoker.PhaseInstantiate)
				first += tl.Get(invoker.PhaseFirstReady)
				_ = in.Close(ctx)
			}
			b.ReportMetric(float64(inst.Nanoseconds())/float64(b.N), "instantiate-ns/op")
			b.ReportMetric(float64(first.Nanoseconds())/float64(b.N), "first_ready-ns/op")
		})
	}
}

// BenchmarkCGIPrewarmed: one request on a cgi instance instantiated ahead
// of demand (not timed). execute-ns/op is the guest's own work (Go runtime
// start and main); host-ns/op is everything else Invoke does.
func BenchmarkCGIPrewarmed(b *testing.B) {
	for _, eng := range engines {
		b.Run(eng.String(), func(b *testing.B) {
			r := newTestRuntime(b, Config{Engine: eng})
			f := load(b, r, specOf("hello", invoker.ABICGI, cgiWasm))
			ctx := context.Background()
			var exec, total time.Duration
			for b.Loop() {
				b.StopTimer()
				in, err := f.NewInstance(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				var tl invoker.Timeline
				b.StartTimer()
				start := time.Now()
				if _, err := in.Invoke(ctx, helloReq, &tl); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				exec += tl.Get(invoker.PhaseExecute)
				b.StopTimer()
				_ = in.Close(ctx)
				b.StartTimer()
			}
			b.ReportMetric(float64(exec.Nanoseconds())/float64(b.N), "execute-ns/op")
			b.ReportMetric(float64((total-exec).Nanoseconds())/float64(b.N), "host-ns/op")
		})
	}
}

// BenchmarkMemory measures, per engine, the memory a compiled module holds
// (Go heap and process RSS, and their ratio to the module's size: the
// source of the estimate factors) and the memory of an idle warm loop
// instance. Each iteration uses a fresh Runtime.
func BenchmarkMemory(b *testing.B) {
	const idle = 8
	for _, eng := range engines {
		b.Run(eng.String(), func(b *testing.B) {
			ctx := context.Background()
			var modHeap, modRSS, instHeap, instRSS, linear float64
			for b.Loop() {
				r, err := New(ctx, Config{Engine: eng})
				if err != nil {
					b.Fatal(err)
				}
				h0, s0 := heapAndRSS(b)
				f, err := r.Load(ctx, specOf("hello", invoker.ABILoop, loopWasm))
				if err != nil {
					b.Fatal(err)
				}
				h1, s1 := heapAndRSS(b)
				var insts []invoker.Instance
				for range idle {
					in, err := f.NewInstance(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := in.Invoke(ctx, helloReq, nil); err != nil {
						b.Fatal(err)
					}
					insts = append(insts, in)
				}
				h2, s2 := heapAndRSS(b)
				modHeap += float64(h1 - h0)
				modRSS += float64(s1 - s0)
				instHeap += float64(h2-h1) / idle
				instRSS += float64(s2-s1) / idle
				linear += float64(insts[0].MemoryBytes())
				for _, in := range insts {
					_ = in.Close(ctx)
				}
				_ = r.Close(ctx)
			}
			n := float64(b.N)
			b.ReportMetric(modHeap/n, "module-heap-B")
			b.ReportMetric(modRSS/n, "module-rss-B")
			b.ReportMetric(modHeap/n/float64(len(loopWasm)), "module-heap-x")
			b.ReportMetric(modRSS/n/float64(len(loopWasm)), "module-rss-x")
			b.ReportMetric(instHeap/n, "instance-heap-B")
			b.ReportMetric(instRSS/n, "instance-rss-B")
			b.ReportMetric(linear/n, "instance-linear-B")
		})
	}
}

// heapAndRSS returns the live Go heap after a GC and the process RSS.
func heapAndRSS(b *testing.B) (heap, rss int64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(statm))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return int64(ms.HeapAlloc), pages * int64(os.Getpagesize())
}

// BenchmarkRestartColdStart: what a cold start costs right after a gateway
// restart on wasm-aot: a new Runtime on the same compilation-cache directory
// loads the module (compiled code read from disk), instantiates it and
// answers the first request. first-compile-ms is the same path with an empty
// cache, measured once in the same run as the baseline.
func BenchmarkRestartColdStart(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	coldStart := func(cacheDir string) (loaded, total time.Duration) {
		t0 := time.Now()
		r, err := New(ctx, Config{Engine: Compiler, CacheDir: cacheDir})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close(ctx)
		f := load(b, r, specOf("hello", invoker.ABILoop, loopWasm))
		loaded = time.Since(t0)
		inst := instance(b, f, nil)
		if _, err := inst.Invoke(ctx, helloReq, nil); err != nil {
			b.Fatal(err)
		}
		total = time.Since(t0)
		_ = inst.Close(ctx)
		return loaded, total
	}
	_, firstCompile := coldStart(dir) // fills the cache
	var loads, totals time.Duration
	for b.Loop() {
		l, t := coldStart(dir)
		loads += l
		totals += t
	}
	b.ReportMetric(float64(firstCompile.Milliseconds()), "first-compile-ms")
	b.ReportMetric(float64(loads.Microseconds())/1e3/float64(b.N), "cache-load-ms")
	b.ReportMetric(float64(totals.Microseconds())/1e3/float64(b.N), "cold-after-restart-ms")
}
