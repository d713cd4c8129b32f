package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
	"github.com/lumos-edge/lumos/pool"
	"github.com/lumos-edge/lumos/profiler/model"
)

// The benchmarks of issue 5's performance model. Each drives real gateways
// started in-process, with the bundled functions, and reports what the
// issue's targets are about; none fails on a timing target (the numbers are
// for the reader), only on a wrong answer. -short runs them with fewer
// calls, to try them out.

// Sizes and counts of BenchmarkModelAccuracy.
var (
	accTrainSizes   = []int{1 << 10, 16 << 10, 256 << 10}
	accPredictSizes = []int{64 << 10, 1 << 20}
)

const (
	accTrainRounds = 40 // calls per training size, each size in its own block
	accMeasure     = 40 // calls per predicted size, each size in its own block
	accCold        = 20 // cold starts to train on, then as many to compare with
	// accBlockBudget bounds a block's time (slow combinations such as json
	// on the interpreter at 1 MiB): it stops after accMinCalls calls once
	// over.
	accBlockBudget = 20 * time.Second
	accMinCalls    = 5
)

// BenchmarkModelAccuracy measures the model's predictions against live
// traffic, per runtime (wasm-aot, wasm-interp, and container when a private
// containerd starts; skipped with a log line otherwise) and per sample
// function (hello, echo, fib with n=20 and a padded body, json with a
// document of the payload's size):
//   - warm: trained on 1, 16 and 256 KiB requests (40 each, in blocks), the
//     model's predicted warm p50 at 64 KiB and at 1 MiB against the p50 of
//     the gateway's own records (inv.Total of warm calls) at those sizes,
//     each size measured in its own block of 40: MAPE per runtime×function
//     (target < 15%); every prediction is made before the first block;
//   - repeated: a last block at 256 KiB, a trained size, against the
//     prediction there: the floor the machine's noise sets on the error;
//   - cold: a copy deployed with lumos.max_requests=1 (every call a cold
//     start) serves 20 calls, then the model's cold p50 is compared with the
//     median of the next 20 cold records: |observed − predicted| / observed
//     (target ≤ 25%).
//
// It fails when an answer is wrong or a record is not of the expected kind.
//
//	go test -run='^$' -bench=ModelAccuracy -benchtime=1x -timeout=30m ./cmd/lumos/
func BenchmarkModelAccuracy(b *testing.B) {
	runtimes := []string{"wasm-aot", "wasm-interp"}
	var ctd string
	if dir, err := os.MkdirTemp("", "lumos-bench-ctd-"); err == nil {
		defer os.RemoveAll(dir)
		if d, err := containerdtest.Start(dir); err != nil {
			b.Logf("container runtime skipped: no private containerd (%v)", err)
		} else {
			defer d.Stop()
			ctd = d.Socket
			runtimes = append(runtimes, "container")
		}
	}
	rec := &records{}
	srv := startModelBench(b, true, rec, func(o *serveOptions) { o.containerd = ctd })
	// Close before d.Stop (deferred above): instances are deleted while containerd is up.
	defer srv.Close(context.Background())
	c := newCaller()
	train, measure, cold := accTrainRounds, accMeasure, accCold
	if testing.Short() {
		train, measure, cold = 10, 5, 5
	}
	var lines []string
	var warmErrs, coldErrs, repeatErrs []float64
	for _, rt := range runtimes {
		for _, fn := range sampleFns() {
			mod := func() []byte {
				if rt == "container" {
					return benchContainerImage(b, fn.name)
				}
				return bundledModule(b, fn.name)
			}()
			ann := fn.annotations(b, rt)
			warm, coldName := fmt.Sprintf("acc-%s-%s", fn.name, rt), fmt.Sprintf("cold-%s-%s", fn.name, rt)
			deployModule(b, srv, warm, mod, ann)
			deployModule(b, srv, coldName, mod, with(ann, "lumos.max_requests", "1", "lumos.idle_timeout", "10m"))

			// Warm: train on each size in its own block, predict, then
			// measure each predicted size in its own block. Blocks, not
			// rounds: a call after a larger one runs with colder caches
			// (the measured blocks would not see what rounds trained on).
			bodies := make([][]byte, len(accTrainSizes))
			for i, n := range accTrainSizes {
				bodies[i] = fn.body(n)
			}
			c.invokeChecked(b, srv.url, warm, fn, bodies[0]) // the cold start
			trainFrom := rec.mark()
			line := fmt.Sprintf("%-11s %-5s trained", rt, fn.name)
			for i, body := range bodies {
				t0 := time.Now()
				k := 0
				for ; k < train && (k < accMinCalls || time.Since(t0) < accBlockBudget); k++ {
					c.invokeChecked(b, srv.url, warm, fn, body)
				}
				line += fmt.Sprintf("%s%d", map[bool]string{true: " ", false: "/"}[i == 0], k)
			}
			trained := rec.since(trainFrom)
			for _, body := range bodies {
				line += " " + breakdown(trained, warm, len(body), runtimeDoc(b, srv, warm, rt, len(body)))
			}
			// Predict, then measure each size in its own block: the p50 at
			// a size is that of traffic of that size (interleaved with
			// 1 MiB calls, the 64 KiB ones ran up to 5× slower on wasm-aot:
			// a 1 MiB call leaves the 2 MiB L2 cache cold for the next).
			// Every prediction before the first block: the 1 MiB one from
			// the training alone, not from the 64 KiB calls too. A last
			// block repeats the largest trained size: its error is the
			// floor the machine's noise sets (the model predicts there what
			// it saw there minutes before).
			sizes := append(slices.Clone(accPredictSizes), accTrainSizes[len(accTrainSizes)-1])
			preds := make([]model.RuntimeDoc, len(sizes))
			for i, n := range sizes {
				preds[i] = runtimeDoc(b, srv, warm, rt, n)
			}
			var errs []float64
			var detail []string
			for i, n := range sizes {
				predDoc := preds[i]
				pred := predDoc.WarmP50Ms
				body := fn.body(n)
				from := rec.mark()
				t0 := time.Now()
				for k := 0; k < measure && (k < accMinCalls || time.Since(t0) < accBlockBudget); k++ {
					c.invokeChecked(b, srv.url, warm, fn, body)
				}
				measured := rec.since(from)
				obs, k := medianMs(measured, warm, func(r record) bool { return r.start == invoker.StartWarm })
				detail = append(detail, breakdown(measured, warm, len(body), predDoc))
				if k == 0 || pred <= 0 {
					b.Errorf("%s at %d bytes: %d warm records, prediction %.3g ms", warm, n, k, pred)
					continue
				}
				e := math.Abs(pred-obs) / obs
				if i == len(sizes)-1 {
					line += fmt.Sprintf(" | repeated %dK: %5.1f%%", n>>10, 100*e)
					repeatErrs = append(repeatErrs, e)
					b.ReportMetric(100*e, "repeat-err-%-"+rt+"-"+fn.name)
					continue
				}
				errs = append(errs, e)
				line += fmt.Sprintf(" | %4dK pred %8.3f obs %8.3f ms (n=%2d) %5.1f%%", n>>10, pred, obs, k, 100*e)
			}
			mape := mean(errs)
			warmErrs = append(warmErrs, mape)
			line += fmt.Sprintf(" | MAPE %5.1f%%", 100*mape)
			line += "\n        " + strings.Join(detail, " ")
			b.ReportMetric(100*mape, "mape-%-"+rt+"-"+fn.name)

			// Cold: 20 to learn from, the prediction, 20 to compare with.
			small := fn.body(1 << 10)
			for range cold {
				c.invokeChecked(b, srv.url, coldName, fn, small)
			}
			pred := runtimeDoc(b, srv, coldName, rt, len(small)).ColdP50Ms
			from := rec.mark()
			for range cold {
				c.invokeChecked(b, srv.url, coldName, fn, small)
			}
			after := rec.since(from)
			for _, r := range after {
				if r.function == coldName && r.start != invoker.StartCold {
					b.Errorf("%s: a %s start, want every call cold", coldName, r.start)
				}
			}
			obs, k := medianMs(after, coldName, func(r record) bool { return r.start == invoker.StartCold })
			if k == 0 || pred <= 0 {
				b.Errorf("%s: %d cold records, prediction %.3g ms", coldName, k, pred)
			} else {
				e := math.Abs(obs-pred) / obs
				coldErrs = append(coldErrs, e)
				line += fmt.Sprintf(" || cold pred %7.2f obs %7.2f ms (n=%d) %5.1f%%", pred, obs, k, 100*e)
				b.ReportMetric(100*e, "cold-err-%-"+rt+"-"+fn.name)
			}
			lines = append(lines, line)
			fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), line) // as it comes: a later failure loses nothing
		}
	}
	printTable("model accuracy (warm: MAPE at 64 KiB and 1 MiB, target < 15%; repeated: the error at a trained size measured again, the noise floor; cold: |obs-pred|/obs, target ≤ 25%):", lines)
	b.ReportMetric(100*maxOf(warmErrs), "worst-mape-%")
	b.ReportMetric(100*maxOf(coldErrs), "worst-cold-err-%")
	b.ReportMetric(100*maxOf(repeatErrs), "worst-repeat-err-%")
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// Counts of BenchmarkAutoRuntime.
const (
	autoLearn  = 60      // calls per copy before measuring, auto's first
	autoRounds = 200     // rounds: a call to each copy, in a random order
	autoCalls  = 1       // calls per copy and round
	autoBytes  = 4 << 10 // request body of echo and json
	autoSeed   = 7       // of the order of each round's calls
)

// BenchmarkAutoRuntime deploys each sample function (hello, echo, fib with
// n=20, json with a 4 KiB document) three times: on wasm-aot, on
// wasm-interp, and with lumos.runtime=auto choosing between the two. It
// drives the same warm calls through each (60 to learn, auto's first),
// then measures the mean client-side latency of each copy over 200 rounds
// of one call to each, in a seeded random order (in blocks of 40 calls, a
// copy's mean moved with the machine's state), and reports auto/best-fixed
// per function (target ≤ 1.10) and the runtime auto chose (the one that
// served most of its measured calls).
//
//	go test -run='^$' -bench=AutoRuntime -benchtime=1x -timeout=30m ./cmd/lumos/
func BenchmarkAutoRuntime(b *testing.B) {
	rec := &records{}
	srv := startModelBench(b, true, rec, nil)
	defer srv.Close(context.Background())
	c := newCaller()
	cands := []string{"wasm-aot", "wasm-interp"}
	learn, rounds, calls := autoLearn, autoRounds, autoCalls
	if testing.Short() {
		learn, rounds, calls = 30, 20, 1
	}
	var lines []string
	worst := 0.0
	for fi, fn := range sampleFns() {
		var body []byte
		if fn.name == "echo" || fn.name == "json" {
			body = fn.body(autoBytes)
		}
		mod := bundledModule(b, fn.name)
		auto := "auto-" + fn.name
		deployModule(b, srv, auto, mod, with(fn.annotations(b, "auto"), "lumos.candidates", strings.Join(cands, ",")))
		names := []string{auto}
		for _, rt := range cands {
			names = append(names, auto+"-"+rt)
			deployModule(b, srv, auto+"-"+rt, mod, fn.annotations(b, rt))
		}
		for _, name := range names {
			for range learn {
				c.invokeChecked(b, srv.url, name, fn, body)
			}
		}
		from := rec.mark()
		sums := make([]time.Duration, len(names))
		lats := make([][]time.Duration, len(names))
		// Each round in a random (seeded) order: a call after an
		// interpreted one runs slower (its caches are cold), and rotating
		// the order let auto follow wasm-interp twice as often as the
		// wasm-aot copy did (auto/best up to 1.17 with every call of auto
		// on wasm-aot).
		rng := rand.New(rand.NewPCG(autoSeed, uint64(fi)))
		for range rounds {
			for _, i := range rng.Perm(len(names)) {
				for range calls {
					d := c.invokeChecked(b, srv.url, names[i], fn, body)
					sums[i] += d
					lats[i] = append(lats[i], d)
				}
			}
		}
		p50 := func(i int) float64 {
			slices.Sort(lats[i])
			return ms(lats[i][len(lats[i])/2])
		}
		served := map[string]int{}
		for _, r := range rec.since(from) {
			if r.function == auto {
				served[r.runtime]++
			}
		}
		chosen := ""
		for rt, n := range served {
			if chosen == "" || n > served[chosen] {
				chosen = rt
			}
		}
		meanMs := func(i int) float64 { return ms(sums[i]) / float64(rounds*calls) }
		best, bestRT := math.Inf(1), ""
		for i, rt := range cands {
			if m := meanMs(i + 1); m < best {
				best, bestRT = m, rt
			}
		}
		ratio := meanMs(0) / best
		worst = max(worst, ratio)
		line := fmt.Sprintf("%-5s mean (p50) auto %8.3f (%.3f) ms | wasm-aot %8.3f (%.3f) ms | wasm-interp %8.3f (%.3f) ms | auto/best %.3f (best %s) | auto chose %s (%d of %d calls; %v)",
			fn.name, meanMs(0), p50(0), meanMs(1), p50(1), meanMs(2), p50(2), ratio, bestRT, chosen, served[chosen], rounds*calls, served)
		lines = append(lines, line)
		fmt.Printf("%s %s\n", time.Now().Format("15:04:05"), line)
		b.ReportMetric(ratio, "auto/best-"+fn.name)
	}
	printTable(fmt.Sprintf("runtime auto against the fixed runtimes (mean latency, %d rounds × %d calls; target auto/best ≤ 1.10):", rounds, calls), lines)
	b.ReportMetric(worst, "worst-auto/best")
}

// The trace of BenchmarkKeepAlive, in real (compressed) time.
const (
	// kaCompression: one second of the replay stands for kaCompression
	// seconds of the trace; every keep-alive duration (the fixed idle
	// timeout, the model's default, minimum and maximum idle, the tuner's
	// period) is divided by it too.
	kaCompression = 40
	kaDuration    = 200 * time.Second
	kaSample      = 25 * time.Millisecond
	kaSeed        = 5
)

// kaFunction is one function of the keep-alive trace: its arrivals, as
// offsets from the replay's start.
type kaFunction struct {
	name     string
	arrivals []time.Duration
}

// keepAliveTrace returns the four functions of the trace over d (seeded):
// steady Poisson (2/s), periodic (every 9 s: 6 min uncompressed, just over
// the fixed 5 min), bursty on/off (5 s at 10/s every 30 s) and rare
// (Poisson, one per 25 s on average).
func keepAliveTrace(d time.Duration) []kaFunction {
	r := rand.New(rand.NewPCG(kaSeed, 1))
	poisson := func(from, to time.Duration, mean time.Duration) []time.Duration {
		var out []time.Duration
		for t := from + time.Duration(r.ExpFloat64()*float64(mean)); t < to; t += time.Duration(r.ExpFloat64() * float64(mean)) {
			out = append(out, t)
		}
		return out
	}
	var periodic, bursty []time.Duration
	for t := time.Second; t < d; t += 9 * time.Second {
		periodic = append(periodic, t)
	}
	for on := 2 * time.Second; on < d; on += 30 * time.Second {
		bursty = append(bursty, poisson(on, min(on+5*time.Second, d), 100*time.Millisecond)...)
	}
	return []kaFunction{
		{"ka-steady", poisson(0, d, 500*time.Millisecond)},
		{"ka-periodic", periodic},
		{"ka-bursty", bursty},
		{"ka-rare", poisson(0, d, 25*time.Second)},
	}
}

// BenchmarkKeepAlive replays a time-compressed mixed trace (seeded; 200 s
// standing for 2 h 13 min) through two gateways started in the same run, at
// the same moments: one with the adaptive keep-alive (the model's Plan, the
// deployments leaving idle timeout and warm minimum unset) and one with a
// fixed idle timeout (lumos.idle_timeout = the default 5 min / 40). Four
// copies of hello on wasm-aot: steady Poisson, periodic, bursty on/off and
// rare. Per function and policy it counts cold starts (records with
// inv.Start cold) and prewarmed first uses, and integrates instances
// (starting + idle + busy, sampled from gateway.FunctionStats every 25 ms)
// × memory per instance (the mean MemoryBytes of the function's records)
// over time. Target: adaptive has fewer cold starts at no more
// memory-seconds, or as few with ≥ 30% fewer memory-seconds.
//
//	go test -run='^$' -bench=KeepAlive -benchtime=1x -timeout=30m ./cmd/lumos/
func BenchmarkKeepAlive(b *testing.B) {
	d := kaDuration
	if testing.Short() {
		d = 65 * time.Second
	}
	fixedIdle := pool.DefaultIdleTimeout / kaCompression
	scaled := func(o *serveOptions) {
		o.modelConfig = model.Config{DefaultIdle: fixedIdle,
			MinIdle: model.DefaultMinIdle / kaCompression, MaxIdle: model.DefaultMaxIdle / kaCompression}
		o.keepAliveInterval = gateway.DefaultKeepAliveInterval / kaCompression
	}
	policies := []struct {
		name string
		rec  *records
		srv  *server
		ann  map[string]string
	}{{name: "adaptive", ann: map[string]string{}}, {name: "fixed", ann: map[string]string{"lumos.idle_timeout": fixedIdle.String()}}}
	trace := keepAliveTrace(d)
	hello := bundledModule(b, "hello")
	for i := range policies {
		p := &policies[i]
		p.rec = &records{}
		p.srv = startModelBench(b, true, p.rec, scaled)
		defer p.srv.Close(context.Background())
		for _, f := range trace {
			deployModule(b, p.srv, f.name, hello, with(p.ann, "lumos.runtime", "wasm-aot", "lumos.abi", "loop"))
		}
	}

	// Instance-seconds per policy and function, sampled.
	instSec := make([]map[string]float64, len(policies))
	for i := range instSec {
		instSec[i] = map[string]float64{}
	}
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(kaSample)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				dt := now.Sub(last).Seconds()
				last = now
				for i, p := range policies {
					for fs := range p.srv.gw.FunctionStats() {
						instSec[i][fs.Name] += float64(fs.Pool.Idle+fs.Pool.Busy+fs.Pool.Starting) * dt
					}
				}
			}
		}
	}()

	client := &fasthttp.Client{ReadTimeout: time.Minute}
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now().Add(100 * time.Millisecond)
	for _, p := range policies {
		for _, f := range trace {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := p.srv.url + "/function/" + f.name
				for _, at := range f.arrivals {
					time.Sleep(time.Until(start.Add(at)))
					wg.Add(1)
					go func() {
						defer wg.Done()
						code, body, err := client.Get(nil, url)
						if err != nil || code != 200 || string(body) != "Hello, world!\n" {
							failed.Add(1)
						}
					}()
				}
			}()
		}
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := failed.Load(); n > 0 {
		b.Errorf("%d calls failed", n)
	}

	// Memory per instance, per function, from both policies' records.
	memSum, memN := map[string]float64{}, map[string]float64{}
	for _, p := range policies {
		for _, r := range p.rec.since(0) {
			if r.memory > 0 {
				memSum[r.function] += float64(r.memory)
				memN[r.function]++
			}
		}
	}
	type tally struct{ calls, cold, prewarmed int }
	var lines []string
	totCold := make([]int, len(policies))
	totMem := make([]float64, len(policies))
	for _, f := range trace {
		mem := memSum[f.name] / max(memN[f.name], 1)
		line := fmt.Sprintf("%-12s %4d calls, %6.1f MiB/instance", f.name, len(f.arrivals), mem/(1<<20))
		for i, p := range policies {
			var t tally
			for _, r := range p.rec.since(0) {
				if r.function != f.name {
					continue
				}
				t.calls++
				switch r.start {
				case invoker.StartCold:
					t.cold++
				case invoker.StartPrewarmed:
					t.prewarmed++
				}
			}
			if t.calls != len(f.arrivals) {
				b.Errorf("%s %s: %d records for %d calls", p.name, f.name, t.calls, len(f.arrivals))
			}
			memSec := instSec[i][f.name] * mem / (1 << 20)
			totCold[i] += t.cold
			totMem[i] += memSec
			line += fmt.Sprintf(" | %-8s cold %3d prewarmed %3d inst·s %7.1f MiB·s %8.1f", p.name, t.cold, t.prewarmed, instSec[i][f.name], memSec)
		}
		lines = append(lines, line)
	}
	lines = append(lines, fmt.Sprintf("total: adaptive cold %d, %.1f MiB·s | fixed (%v) cold %d, %.1f MiB·s | memory adaptive/fixed %.3f",
		totCold[0], totMem[0], fixedIdle, totCold[1], totMem[1], totMem[0]/totMem[1]))
	printTable(fmt.Sprintf("keep-alive, adaptive against fixed, %v replayed at %d× (target: fewer cold starts at no more memory-seconds, or as few with ≥ 30%% fewer):", d, kaCompression), lines)
	b.ReportMetric(float64(totCold[0]), "adaptive-cold")
	b.ReportMetric(float64(totCold[1]), "fixed-cold")
	b.ReportMetric(totMem[0], "adaptive-MiB·s")
	b.ReportMetric(totMem[1], "fixed-MiB·s")
	b.ReportMetric(totMem[0]/totMem[1], "mem-adaptive/fixed")
}

// Rounds of BenchmarkModelOverhead.
const (
	overheadRounds   = 6
	overheadDuration = 2 * time.Second
)

// BenchmarkModelOverhead measures what the model's bookkeeping costs: warm
// invokes of the bundled hello (wasm-aot, loop ABI) through HTTP from 32
// connections on two gateways in the same run, --model off and on
// (telemetry off in both), rounds interleaved with the order alternating.
// It reports on/off requests/s (target ≥ 0.95).
//
//	go test -run='^$' -bench=ModelOverhead -benchtime=1x ./cmd/lumos/
func BenchmarkModelOverhead(b *testing.B) {
	bundled := func(o *serveOptions) { o.bundled = true }
	off := startModelBench(b, false, nil, bundled)
	defer off.Close(context.Background())
	on := startModelBench(b, true, nil, bundled)
	defer on.Close(context.Background())
	modes := []struct {
		srv *server
		rps float64
	}{{srv: off}, {srv: on}}
	for _, m := range modes {
		measureLoad(b, m.srv.url+"/function/hello", 500*time.Millisecond) // warm the pool and the connections
	}
	rounds := overheadRounds
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		for k := range modes {
			m := &modes[(round+k)%len(modes)]
			rps, _ := measureLoad(b, m.srv.url+"/function/hello", overheadDuration)
			m.rps += rps / float64(rounds)
		}
	}
	if doc, ok := on.model.Function("hello", 0); !ok || len(doc.(model.FunctionDoc).Runtimes) == 0 {
		b.Errorf("the model learned nothing of hello")
	}
	b.Logf("model overhead: off %.0f req/s, on %.0f req/s, on/off %.3f (target ≥ 0.95)", modes[0].rps, modes[1].rps, modes[1].rps/modes[0].rps)
	b.ReportMetric(modes[0].rps, "off-req/s")
	b.ReportMetric(modes[1].rps, "on-req/s")
	b.ReportMetric(modes[1].rps/modes[0].rps, "on/off")
}

// breakdown prints the observed p50 of function's warm records of n request
// bytes, split into execute, I/O and the rest, against the model's doc.
func breakdown(recs []record, function string, n int, doc model.RuntimeDoc) string {
	keep := func(r record) bool { return r.start == invoker.StartWarm && r.requestBytes == n }
	total, k := medianMs(recs, function, keep)
	exec, _ := medianOf(recs, function, keep, func(r record) time.Duration { return r.execute })
	io, _ := medianOf(recs, function, keep, func(r record) time.Duration { return r.io })
	over, _ := medianOf(recs, function, keep, func(r record) time.Duration { return r.total - r.execute - r.io })
	return fmt.Sprintf("[%dK n=%d obs/pred ms: total %.3f/%.3f exec %.3f/%.3f io %.3f/%.3f rest %.3f/%.3f]",
		n>>10, k, total, doc.WarmP50Ms, exec, doc.ExecuteMs, io, doc.IOMs, over, doc.OverheadMs)
}

// printTable prints a benchmark's table whole to stdout (b.Log truncates
// long benchmark output).
func printTable(title string, lines []string) {
	fmt.Printf("%s\n    %s\n", title, strings.Join(lines, "\n    "))
}
