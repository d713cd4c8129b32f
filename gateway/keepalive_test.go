package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKeepAlive records the states it is asked to plan and answers plan's.
type fakeKeepAlive struct {
	plan  func(pools []PoolState) []PoolPlan
	calls atomic.Int64

	mu     sync.Mutex
	states [][]PoolState
}

func (k *fakeKeepAlive) Plan(_ time.Time, pools []PoolState) []PoolPlan {
	k.calls.Add(1)
	k.mu.Lock()
	k.states = append(k.states, slices.Clone(pools))
	k.mu.Unlock()
	return k.plan(pools)
}

func (k *fakeKeepAlive) last() []PoolState {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.states) == 0 {
		return nil
	}
	return k.states[len(k.states)-1]
}

// uniform plans the same for every pool.
func uniform(p PoolPlan) func([]PoolState) []PoolPlan {
	return func(pools []PoolState) []PoolPlan {
		out := make([]PoolPlan, len(pools))
		for i := range out {
			out[i] = p
		}
		return out
	}
}

// poolKeys names the pools of states as "function/runtime", sorted.
func poolKeys(states []PoolState) []string {
	var out []string
	for _, s := range states {
		out = append(out, s.Function+"/"+s.Runtime)
	}
	sort.Strings(out)
	return out
}

// TestKeepAliveTunesAdaptivePools drives planning rounds by hand (the
// tuner's own period is an hour): only pools whose deployment leaves idle
// timeout and warm minimum unset, and that no scale request pinned, are
// planned and changed; every variant of an auto function is one pool.
func TestKeepAliveTunesAdaptivePools(t *testing.T) {
	rts := newAutoRuntimes()
	ka := &fakeKeepAlive{plan: uniform(PoolPlan{IdleTimeout: 42 * time.Second, MinWarm: 1})}
	h := newHarness(t, rts.option(func(c *Config) { c.KeepAlive = ka; c.KeepAliveInterval = time.Hour }))
	h.deploy("adaptive", "v1", nil, nil)
	h.deploy("auto", "v1", onAuto, nil)
	h.deploy("idle", "v1", map[string]string{AnnotationIdleTimeout: "1m"}, nil)
	h.deploy("zero", "v1", nil, map[string]string{LabelScaleZeroDuration: "2m"})
	h.deploy("min", "v1", nil, map[string]string{LabelScaleMin: "0"})
	h.deploy("scaled", "v1", nil, nil)
	if r := h.admin(http.MethodPost, "/system/scale-function/scaled", ScaleServiceRequest{Replicas: 0}); r.status != http.StatusAccepted {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}

	h.g.tune(time.Now())
	want := []string{"adaptive/wasm-aot", "auto/wasm-aot", "auto/wasm-interp"}
	if got := poolKeys(ka.last()); !slices.Equal(got, want) {
		t.Fatalf("planned pools %v, want %v", got, want)
	}
	for _, s := range ka.last() {
		if s.MaxInstances != 4 || s.IdleTimeout != 5*time.Minute || s.MinWarm != 0 || s.Instances != 0 {
			t.Errorf("state %+v", s)
		}
	}
	for _, name := range []string{"adaptive", "auto"} {
		st := h.status(name)
		if !st.Lumos.Adaptive {
			t.Errorf("%s not shown adaptive", name)
		}
		for _, rs := range st.Lumos.Runtimes {
			if rs.IdleTimeout != "42s" || rs.MinWarm != 1 {
				t.Errorf("%s on %s: idle %s, min %d; want the plan's 42s, 1", name, rs.Runtime, rs.IdleTimeout, rs.MinWarm)
			}
		}
	}
	for name, idle := range map[string]string{"idle": "1m0s", "zero": "2m0s", "min": "5m0s", "scaled": "5m0s"} {
		st := h.status(name)
		if st.Lumos.Adaptive || st.Lumos.Runtimes[0].IdleTimeout != idle || st.Lumos.Runtimes[0].MinWarm != 0 {
			t.Errorf("%s was tuned: %+v", name, st.Lumos)
		}
	}
	eventually(t, "the plan's MinWarm prewarms", func() bool { return h.status("adaptive").AvailableReplicas == 1 })

	// Clamping, and a zero IdleTimeout keeping the current one.
	ka.plan = uniform(PoolPlan{MinWarm: 99})
	h.g.tune(time.Now())
	if rs := h.status("adaptive").Lumos.Runtimes[0]; rs.MinWarm != 4 || rs.IdleTimeout != "42s" {
		t.Errorf("after MinWarm 99: %+v", rs)
	}
	ka.plan = uniform(PoolPlan{IdleTimeout: -time.Second, MinWarm: -3})
	h.g.tune(time.Now())
	if rs := h.status("adaptive").Lumos.Runtimes[0]; rs.MinWarm != 0 || rs.IdleTimeout != "42s" {
		t.Errorf("after MinWarm -3: %+v", rs)
	}

	// A malformed plan is ignored, a panicking planner too.
	ka.plan = func([]PoolState) []PoolPlan { return []PoolPlan{{IdleTimeout: time.Second, MinWarm: 2}} }
	h.g.tune(time.Now())
	ka.plan = func([]PoolState) []PoolPlan { panic("planner bug") }
	h.g.tune(time.Now())
	for _, name := range []string{"adaptive", "auto"} {
		for _, rs := range h.status(name).Lumos.Runtimes {
			if rs.MinWarm != 0 || rs.IdleTimeout != "42s" {
				t.Errorf("%s on %s changed by a malformed plan: %+v", name, rs.Runtime, rs)
			}
		}
	}

	// A scale request pins a tuned function; an update makes it adaptive again.
	if r := h.admin(http.MethodPost, "/system/scale-function/adaptive", ScaleServiceRequest{Replicas: 1}); r.status != http.StatusAccepted {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}
	ka.plan = uniform(PoolPlan{IdleTimeout: 7 * time.Second})
	h.g.tune(time.Now())
	if got := poolKeys(ka.last()); !slices.Equal(got, want[1:]) {
		t.Errorf("planned pools after scale %v, want %v", got, want[1:])
	}
	if st := h.status("adaptive"); st.Lumos.Adaptive || st.Lumos.Runtimes[0].IdleTimeout != "42s" || st.Lumos.Runtimes[0].MinWarm != 1 {
		t.Errorf("scaled function tuned: %+v", st.Lumos)
	}
	d := FunctionDeployment{Service: "adaptive", Image: h.upload("v2")}
	if r := h.admin(http.MethodPut, "/system/functions", d); r.status != http.StatusAccepted {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	h.g.tune(time.Now())
	if got := poolKeys(ka.last()); !slices.Equal(got, want) {
		t.Errorf("planned pools after update %v, want %v", got, want)
	}
	h.stop()
	rts.checkNoLeak(t)
}

// TestKeepAliveTunerStopsAtClose runs the tuner on its own period and
// checks that Close stops it.
func TestKeepAliveTunerStopsAtClose(t *testing.T) {
	ka := &fakeKeepAlive{plan: uniform(PoolPlan{IdleTimeout: 3 * time.Second})}
	h := newHarness(t, func(c *Config) { c.KeepAlive = ka; c.KeepAliveInterval = time.Millisecond })
	h.deploy("f", "v1", nil, nil)
	eventually(t, "the tuner applies its plan", func() bool { return h.status("f").Lumos.Runtimes[0].IdleTimeout == "3s" })
	g := h.g
	h.stop()
	select {
	case <-g.tunerDone:
	default:
		t.Fatal("tuner still running after Close")
	}
}

// TestKeepAliveClosedPlansNothing: a round of a closed gateway plans
// nothing, even with functions still in its table (Close empties it only
// after marking the gateway closed).
func TestKeepAliveClosedPlansNothing(t *testing.T) {
	ka := &fakeKeepAlive{plan: uniform(PoolPlan{IdleTimeout: 3 * time.Second})}
	h := newHarness(t, func(c *Config) { c.KeepAlive = ka; c.KeepAliveInterval = time.Hour })
	h.deploy("f", "v1", nil, nil)
	g := h.g
	p := g.current("f").variants[0].pool
	g.closed.Store(true)
	g.tune(time.Now())
	if n := ka.calls.Load(); n != 0 || p.Config().IdleTimeout == 3*time.Second {
		t.Errorf("a closed gateway planned (%d rounds) and set idle %v", n, p.Config().IdleTimeout)
	}
	g.closed.Store(false) // let Close do its work
	h.stop()
}

// TestKeepAliveOff: without a KeepAlive no tuner runs, no function is shown
// adaptive, and Close still works.
func TestKeepAliveOff(t *testing.T) {
	h := newHarness(t)
	select {
	case <-h.g.tunerDone:
	default:
		t.Fatal("tuner running without a KeepAlive")
	}
	h.deploy("f", "v1", nil, nil)
	if st := h.status("f"); st.Lumos.Adaptive || st.Lumos.Runtimes[0].IdleTimeout != "5m0s" {
		t.Errorf("status %+v", st.Lumos)
	}
}

// TestHammerAutoTunerRedeploy pounds an auto function from many goroutines
// while the tuner replans its pools every millisecond and another goroutine
// redeploys it between auto and a pinned runtime and scales it. Every
// invocation must succeed, and nothing may leak.
func TestHammerAutoTunerRedeploy(t *testing.T) {
	rts := newAutoRuntimes()
	var turn atomic.Int64
	ch := &fakeChooser{pick: func(_ string, _ int, c []string) int { return int(turn.Add(1)) % (len(c) + 1) }}
	var flip atomic.Int64
	ka := &fakeKeepAlive{plan: func(pools []PoolState) []PoolPlan {
		out := make([]PoolPlan, len(pools))
		for i := range out {
			out[i] = PoolPlan{IdleTimeout: time.Duration(1+flip.Add(1)%3) * time.Millisecond, MinWarm: int(flip.Load() % 3)}
		}
		return out
	}}
	h := newHarness(t, rts.option(func(c *Config) {
		c.Chooser = ch
		c.KeepAlive = ka
		c.KeepAliveInterval = time.Millisecond
	}))
	h.http.Transport = &http.Transport{MaxIdleConnsPerHost: 16}
	image := h.upload("v1")
	deployment := func(i int) FunctionDeployment {
		a := map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationQueueTimeout: "0s", AnnotationQueueSize: "1000"}
		if i%3 == 2 {
			a[AnnotationRuntime] = "wasm-interp"
		}
		return FunctionDeployment{Service: "hammer", Image: image, Annotations: a}
	}
	if r := h.admin(http.MethodPost, "/system/functions", deployment(0)); r.status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", r.status, r.body)
	}

	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	errs := make(chan string, workers+1) // each worker and the admin goroutine send at most once
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				body := fmt.Sprintf("w%d-%d", w, i)
				if r := h.do(http.MethodPost, "/function/hammer/x", []byte(body)); r.status != 200 || string(r.body) != body {
					errs <- fmt.Sprintf("status %d body %q (sent %q)", r.status, r.body, body)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var adminWG sync.WaitGroup
	adminWG.Add(1)
	go func() {
		defer adminWG.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%4 == 3 {
				h.admin(http.MethodPost, "/system/scale-function/hammer", ScaleServiceRequest{Replicas: uint64(i % 2)})
				continue
			}
			if r := h.admin(http.MethodPut, "/system/functions", deployment(i)); r.status != http.StatusAccepted {
				errs <- fmt.Sprintf("redeploy: %d %s", r.status, r.body)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	adminWG.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if ka.calls.Load() == 0 || len(ch.all()) == 0 {
		t.Errorf("planner called %d times, chooser %d", ka.calls.Load(), len(ch.all()))
	}
	h.stop()
	rts.checkNoLeak(t)
}

// The tuner applies an idle timeout within 10% of the current one only
// with a change of MinWarm: small drifts of the plan do not reconfigure
// the pool (review 9).
func TestKeepAliveIgnoresSmallIdleChanges(t *testing.T) {
	ka := &fakeKeepAlive{plan: uniform(PoolPlan{IdleTimeout: 40 * time.Second})}
	h := newHarness(t, func(c *Config) { c.KeepAlive = ka; c.KeepAliveInterval = time.Hour })
	h.deploy("f", "v1", nil, nil)
	for _, step := range []struct {
		plan PoolPlan
		want string
		min  int
	}{
		{PoolPlan{IdleTimeout: 40 * time.Second}, "40s", 0},
		{PoolPlan{IdleTimeout: 43 * time.Second}, "40s", 0}, // +7.5%: kept
		{PoolPlan{IdleTimeout: 37 * time.Second}, "40s", 0}, // -7.5%: kept
		{PoolPlan{IdleTimeout: 45 * time.Second}, "45s", 0}, // +12.5%: applied
		{PoolPlan{IdleTimeout: 46 * time.Second, MinWarm: 1}, "46s", 1},
	} {
		ka.plan = uniform(step.plan)
		h.g.tune(time.Now())
		if rs := h.status("f").Lumos.Runtimes[0]; rs.IdleTimeout != step.want || rs.MinWarm != step.min {
			t.Errorf("plan %+v: idle %s, min %d; want %s, %d", step.plan, rs.IdleTimeout, rs.MinWarm, step.want, step.min)
		}
	}
}
