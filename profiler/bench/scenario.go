package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lumos-edge/lumos/functions"
)

// runner is one run of the benchmark.
type runner struct {
	cfg      Config
	api      *apiClient
	res      *Results
	progress Progress

	mu sync.Mutex // guards res.Failures and res.FailureCount (workers record failures)
}

// target is one workload deployed on one runtime.
type target struct {
	w       functions.Workload
	runtime string
	name    string // the deployed function's name
}

func (t target) label() string { return t.w.Name + " " + t.runtime }

// tally accumulates the answers of one goroutine at one point of one run.
type tally struct {
	lat                    []float64 // ms, verified answers only
	requests, ok, verified int
	phases                 [5]float64
	timed                  bool
	starts                 map[string]int
}

// point accumulates a point's tallies over the runs.
type point struct {
	x       int
	runs    [][]float64
	sum     tally
	elapsed time.Duration // concurrency: the loops' wall time, summed over runs
	capped  int           // runs cut short by Settings.PointSeconds
	slow    bool          // one request outlasted the cap: later runs skip the point
}

func (p *point) add(t *tally) {
	p.runs = append(p.runs, t.lat)
	p.merge(t)
}

// capper stops a point's loop once its time cap has passed, after at least
// one measured request.
type capper struct {
	begin time.Time
	limit time.Duration // 0: no cap
}

func (r *runner) newCapper() capper {
	return capper{begin: time.Now(), limit: time.Duration(r.cfg.Settings.PointSeconds * float64(time.Second))}
}

// over reports whether the cap has passed after done requests.
func (c capper) over(done int) bool {
	return c.limit > 0 && done > 0 && time.Since(c.begin) >= c.limit
}

// stop records, after a point's loop sent done of want requests, whether
// the cap cut it short and whether it is slow.
func (c capper) stop(p *point, done, want int) {
	if done < want && c.over(done) {
		p.capped++
		if done == 1 {
			p.slow = true
		}
	}
}

// merge adds t's counts (not its latencies) into p.
func (p *point) merge(t *tally) {
	p.sum.requests += t.requests
	p.sum.ok += t.ok
	p.sum.verified += t.verified
	for i, v := range t.phases {
		p.sum.phases[i] += v
	}
	p.sum.timed = p.sum.timed || t.timed
	for k, v := range t.starts {
		if p.sum.starts == nil {
			p.sum.starts = map[string]int{}
		}
		p.sum.starts[k] += v
	}
}

func (p *point) result() Point {
	out := Point{X: p.x, Requests: p.sum.requests, OK: p.sum.ok, Verified: p.sum.verified,
		Latency: summarize(p.runs), Starts: p.sum.starts, Runs: len(p.runs), Capped: p.capped, Slow: p.slow}
	if p.sum.timed && out.Latency.N > 0 {
		out.Phases = map[string]float64{}
		for i, name := range PhaseNames() {
			out.Phases[name] = p.sum.phases[i] / float64(out.Latency.N)
		}
	}
	if p.elapsed > 0 {
		out.Throughput = float64(p.sum.verified) / p.elapsed.Seconds()
	}
	return out
}

// call invokes t once with query and body, verifies the answer and counts
// it into tl; a failure is recorded in the results.
func (r *runner) call(ctx context.Context, t target, scenario string, x int, query string, body []byte, tl *tally) {
	tl.requests++
	a, err := r.api.invoke(ctx, t.name, query, body)
	if ctx.Err() != nil {
		tl.requests-- // cut short by the caller: neither sent nor failed
		return
	}
	fail := func(msg string) {
		r.fail(Failure{Function: t.w.Name, Runtime: t.runtime, Scenario: scenario, X: x, Status: a.status, Error: msg})
	}
	switch {
	case err != nil:
		fail(err.Error())
		return
	case a.status/100 != 2:
		fail(fmt.Sprintf("answered %d: %s", a.status, clip(a.body)))
		return
	}
	tl.ok++
	if err := t.w.Verify(query, body, a.body); err != nil {
		fail("wrong answer: " + err.Error())
		return
	}
	tl.verified++
	if a.start != "" {
		if tl.starts == nil {
			tl.starts = map[string]int{}
		}
		tl.starts[a.start]++
	}
	if scenario == ScenarioCold && a.start != "" && a.start != startCold {
		return // not a cold start: out of the cold series (counted in Starts)
	}
	tl.lat = append(tl.lat, float64(a.latency)/float64(time.Millisecond))
	if a.timing.has {
		tl.timed = true
		for i, v := range a.timing.ms {
			tl.phases[i] += v
		}
	}
}

func (r *runner) fail(f Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.FailureCount++
	if len(r.res.Failures) < MaxFailures {
		r.res.Failures = append(r.res.Failures, f)
	}
}

// measure deploys w on rt, runs every scenario and removes it again. It
// reports whether the runtime is unavailable, so its other workloads are
// skipped too.
func (r *runner) measure(ctx context.Context, w functions.Workload, rt string) (skipRuntime bool) {
	t := target{w: w, runtime: rt, name: r.cfg.Prefix + w.Name + "-" + rt}
	steps := r.stepsOf(w)
	image := r.cfg.Images[w.Name]
	var art []byte
	if image == "" {
		var err error
		if art, err = r.cfg.Artifact(ctx, w.Name, rt); err != nil {
			r.res.Skipped = append(r.res.Skipped, Skip{Function: w.Name, Runtime: rt, Reason: err.Error()})
			r.step(steps, t.label()+" skipped")
			return false
		}
	}
	abi := r.cfg.ABIs[w.Name]
	if abi == "" {
		abi = "loop"
	}
	err := r.api.deploy(ctx, art, deployment{
		Service: t.name,
		Image:   image,
		Limits:  &limits{Memory: r.cfg.Memory},
		Annotations: map[string]string{
			// An interpreted 2 MB Mandelbrot bitmap takes over 2 minutes
			// (more on a loaded machine); a gateway clamps this to its own
			// maximum.
			"lumos.runtime": rt, "lumos.abi": abi, "lumos.timeout": "10m",
			// Callers past the instances wait instead of answering 429.
			"lumos.queue_size": "1024", "lumos.queue_timeout": "10m",
		},
	})
	if statusOf(err) == http.StatusServiceUnavailable {
		r.res.Skipped = append(r.res.Skipped, Skip{Runtime: rt, Reason: "runtime unavailable: " + err.Error()})
		r.step(steps, t.label()+" skipped")
		return true
	}
	if err != nil {
		r.fail(Failure{Function: w.Name, Runtime: rt, Scenario: "deploy", Status: statusOf(err), Error: err.Error()})
		r.step(steps, t.label()+" failed to deploy")
		return false
	}
	if art != nil {
		r.res.Artifacts = append(r.res.Artifacts, Artifact{Function: w.Name, Runtime: rt, Bytes: len(art)})
	}
	r.step(1, t.label()+" deployed")
	defer func() {
		// Leave the gateway as found; a failure here changes no result.
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = r.api.remove(rmCtx, t.name)
	}()

	s := r.cfg.Settings
	cold := []*point{{x: requestSize(w, s.ConcurrencyPayload)}}
	warm := []*point{{x: requestSize(w, s.ConcurrencyPayload)}}
	var payload []*point
	if scales(w) {
		for _, n := range s.PayloadSizes {
			payload = append(payload, &point{x: n})
		}
	}
	var conc []*point
	for _, n := range s.Concurrency {
		conc = append(conc, &point{x: n})
	}
	small := newInput(w, s.ConcurrencyPayload)
	inputs := make([]input, len(payload))
	for i, p := range payload {
		inputs[i] = newInput(w, p.x)
	}
	for run := 1; run <= s.Runs; run++ {
		if ctx.Err() != nil {
			break
		}
		suffix := fmt.Sprintf(" (run %d/%d)", run, s.Runs)
		r.cold(ctx, t, cold[0], small)
		r.step(1, t.label()+" cold"+suffix)
		r.warm(ctx, t, ScenarioWarm, warm[0], small, s.WarmRequests, true)
		r.step(1, t.label()+" warm"+suffix)
		// The warm scenario left an instance warm; a warm-up at each size
		// would double the cost of the slowest points (minutes each).
		for i, p := range payload {
			if !p.slow {
				r.warm(ctx, t, ScenarioPayload, p, inputs[i], s.PayloadRequests, false)
			}
			r.step(1, fmt.Sprintf("%s payload %s%s", t.label(), FormatBytes(p.x), suffix))
		}
		for _, p := range conc {
			r.concurrent(ctx, t, p, small, time.Duration(s.ConcurrencySeconds*float64(time.Second)))
			r.step(1, fmt.Sprintf("%s concurrency %d%s", t.label(), p.x, suffix))
		}
	}
	for _, sc := range []struct {
		name   string
		points []*point
	}{{ScenarioCold, cold}, {ScenarioWarm, warm}, {ScenarioPayload, payload}, {ScenarioConcurrency, conc}} {
		if len(sc.points) == 0 {
			continue
		}
		series := Series{Function: w.Name, Runtime: rt, Scenario: sc.name}
		for _, p := range sc.points {
			series.Points = append(series.Points, p.result())
		}
		r.res.Series = append(r.res.Series, series)
	}
	return false
}

// input is a request's query and body, made once.
type input struct {
	query string
	body  []byte
}

func newInput(w functions.Workload, size int) input {
	q, b := w.Inputs(size)
	return input{q, b}
}

// requestSize is the size of w's request asked for size bytes.
func requestSize(w functions.Workload, size int) int {
	q, b := w.Inputs(size)
	return len(q) + len(b)
}

// cold scales t to zero before each of ColdRepeats requests, within the
// point's time cap.
func (r *runner) cold(ctx context.Context, t target, p *point, in input) {
	if p.slow {
		return
	}
	var tl tally
	c := r.newCapper()
	want := r.cfg.Settings.ColdRepeats
	defer func() { c.stop(p, tl.requests, want) }()
	for i := range want {
		if c.over(i) {
			break
		}
		if err := r.api.scaleToZero(ctx, t.name, r.cfg.Settle); err != nil {
			if ctx.Err() == nil {
				r.fail(Failure{Function: t.w.Name, Runtime: t.runtime, Scenario: ScenarioCold, X: p.x, Status: statusOf(err), Error: "scale to zero: " + err.Error()})
			}
			break
		}
		r.call(ctx, t, ScenarioCold, p.x, in.query, in.body, &tl)
	}
	p.add(&tl)
}

// warm sends, after one unmeasured request when warmUp is set, n measured
// ones in sequence, within the point's time cap.
func (r *runner) warm(ctx context.Context, t target, scenario string, p *point, in input, n int, warmUp bool) {
	if p.slow {
		return
	}
	var discard tally
	if warmUp {
		r.call(ctx, t, scenario, p.x, in.query, in.body, &discard)
	}
	var tl tally
	c := r.newCapper()
	for i := range n {
		if ctx.Err() != nil || c.over(i) {
			break
		}
		r.call(ctx, t, scenario, p.x, in.query, in.body, &tl)
	}
	c.stop(p, tl.requests, n)
	// The warm-up's failures count; its latency does not.
	tl.requests += discard.requests
	tl.ok += discard.ok
	tl.verified += discard.verified
	p.add(&tl)
}

// concurrent keeps p.x requests in flight for d: a closed loop, each caller
// sending its next request when its last one answered. Each caller sends at
// least one request, and a request under way at d completes and counts.
func (r *runner) concurrent(ctx context.Context, t target, p *point, in input, d time.Duration) {
	tallies := make([]tally, p.x)
	var wg sync.WaitGroup
	begin := time.Now()
	deadline := begin.Add(d)
	for i := range tallies {
		wg.Go(func() {
			for {
				r.call(ctx, t, ScenarioConcurrency, p.x, in.query, in.body, &tallies[i])
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var lat []float64
	for i := range tallies {
		tl := &tallies[i]
		lat = append(lat, tl.lat...)
		p.merge(tl)
	}
	p.runs = append(p.runs, lat)
	p.elapsed += elapsed
}
