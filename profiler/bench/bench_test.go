package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/functions"
)

// fakeGateway speaks enough of the OpenFaaS API for Run. A function's
// behaviour is its artifact's text: "echo" answers the body, "liar" answers
// a wrong body. Runtime "down" answers deploys with 503; runtime "lumos"
// answers Server-Timing and X-Lumos-Start like Lumos.
type fakeGateway struct {
	mu        sync.Mutex
	artifacts map[string]string
	fns       map[string]fakeFn
	scales    int
	removed   []string
	invokes   int
}

type fakeFn struct {
	kind, runtime, abi, memory string
	warm                       bool
}

func newFakeGateway(t *testing.T) (*fakeGateway, *httptest.Server) {
	f := &fakeGateway{artifacts: map[string]string{}, fns: map[string]fakeFn{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/system/") {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
			http.Error(w, `{"error":"unauthorized"}`, 401)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/system/info":
		fmt.Fprint(w, `{"provider":{"provider":"fake"},"arch":"x86_64"}`)
	case r.URL.Path == "/system/artifacts":
		sum := sha256.Sum256(body)
		d := "sha256:" + hex.EncodeToString(sum[:])
		f.artifacts[d] = string(body)
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"digest":%q,"size":%d}`, d, len(body))
	case r.URL.Path == "/system/functions" && r.Method == http.MethodDelete:
		var req struct{ FunctionName string }
		json.Unmarshal(body, &req)
		delete(f.fns, req.FunctionName)
		f.removed = append(f.removed, req.FunctionName)
		w.WriteHeader(202)
	case r.URL.Path == "/system/functions":
		var d deployment
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rt := d.Annotations["lumos.runtime"]
		if rt == "down" {
			http.Error(w, `{"error":"unavailable","message":"runtime unavailable"}`, 503)
			return
		}
		if _, exists := f.fns[d.Service]; exists && r.Method == http.MethodPost {
			http.Error(w, `{"error":"conflict"}`, 409)
			return
		}
		f.fns[d.Service] = fakeFn{kind: f.artifacts[d.Image], runtime: rt, abi: d.Annotations["lumos.abi"], memory: func() string {
			if d.Limits == nil {
				return ""
			}
			return d.Limits.Memory
		}()}
		w.WriteHeader(202)
	case strings.HasPrefix(r.URL.Path, "/system/scale-function/"):
		name := strings.TrimPrefix(r.URL.Path, "/system/scale-function/")
		fn := f.fns[name]
		fn.warm = false
		f.fns[name] = fn
		f.scales++
		w.WriteHeader(202)
	case strings.HasPrefix(r.URL.Path, "/system/function/"):
		fn, ok := f.fns[strings.TrimPrefix(r.URL.Path, "/system/function/")]
		if !ok {
			http.Error(w, `{"error":"not_found"}`, 404)
			return
		}
		fmt.Fprintf(w, `{"availableReplicas":%d}`, map[bool]int{false: 0, true: 1}[fn.warm])
	case strings.HasPrefix(r.URL.Path, "/function/"):
		name := strings.TrimPrefix(r.URL.Path, "/function/")
		fn, ok := f.fns[name]
		if !ok {
			http.Error(w, `{"error":"not_found"}`, 404)
			return
		}
		f.invokes++
		if fn.runtime == "lumos" {
			start, timing := "warm", "execute;dur=0.2, io;dur=0.1, gateway;dur=0.05"
			if !fn.warm {
				start, timing = "cold", "cold;dur=3, "+timing
			}
			if r.Header.Get("X-Lumos-Timing") == "1" {
				w.Header().Set("Server-Timing", timing)
			}
			w.Header().Set("X-Lumos-Start", start)
		}
		fn.warm = true
		f.fns[name] = fn
		switch fn.kind {
		case "slow": // an echo slower than any point's cap in the tests
			time.Sleep(20 * time.Millisecond)
			w.Write(body)
		case "echo":
			w.Write(body)
		case "liar":
			w.Write(append(body, '!'))
		default:
			http.Error(w, "no such kind", 500)
		}
	default:
		http.Error(w, "no route", 404)
	}
}

// echoWorkload sends size bytes and wants them back.
func echoWorkload(name string) functions.Workload {
	return functions.Workload{
		Name:   name,
		Inputs: func(size int) (string, []byte) { return "", bytes.Repeat([]byte("x"), max(size, 1)) },
		Verify: func(_ string, body, resp []byte) error {
			if !bytes.Equal(body, resp) {
				return errors.New("not the body")
			}
			return nil
		},
	}
}

// fixedWorkload's input does not scale.
func fixedWorkload(name string) functions.Workload {
	w := echoWorkload(name)
	w.Inputs = func(int) (string, []byte) { return "", []byte("same") }
	return w
}

func tinySettings() Settings {
	return Settings{
		Runs: 2, ColdRepeats: 2, WarmRequests: 3, PayloadSizes: []int{16, 1024}, PayloadRequests: 2,
		Concurrency: []int{1, 32}, ConcurrencySeconds: 0.05, ConcurrencyPayload: 64,
	}
}

func artifactOf(kinds map[string]string) func(context.Context, string, string) ([]byte, error) {
	return func(_ context.Context, fn, rt string) ([]byte, error) {
		if rt == "nobuild" {
			return nil, errors.New("no toolchain for nobuild")
		}
		return []byte(kinds[fn]), nil
	}
}

func TestRunMeasuresAndVerifies(t *testing.T) {
	fake, srv := newFakeGateway(t)
	var last Progress
	steps := 0
	cfg := Config{
		URL: srv.URL, User: "admin", Password: "pw",
		Workloads: []functions.Workload{echoWorkload("echo"), fixedWorkload("fixed")},
		Runtimes:  []string{"lumos", "peer", "down", "nobuild"},
		Artifact:  artifactOf(map[string]string{"echo": "echo", "fixed": "echo"}),
		Settings:  tinySettings(),
		Progress:  func(p Progress) { last = p; steps++ },
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v (failures %+v)", err, res.Failures)
	}
	if !res.Verified() || res.FailureCount != 0 {
		t.Fatalf("not verified: %+v", res.Failures)
	}
	if last.Done != last.Total || last.Total == 0 || steps == 0 {
		t.Errorf("progress ended at %d/%d after %d calls", last.Done, last.Total, steps)
	}

	// Series: echo scales (payload sweep), fixed does not.
	for _, rt := range []string{"lumos", "peer"} {
		for _, sc := range []string{ScenarioCold, ScenarioWarm, ScenarioConcurrency} {
			for _, fn := range []string{"echo", "fixed"} {
				if res.Find(fn, rt, sc) == nil {
					t.Errorf("no series %s %s %s", fn, rt, sc)
				}
			}
		}
		if s := res.Find("echo", rt, ScenarioPayload); s == nil || len(s.Points) != 2 || s.Points[0].X != 16 || s.Points[1].X != 1024 {
			t.Errorf("echo %s payload series = %+v", rt, s)
		}
		if s := res.Find("fixed", rt, ScenarioPayload); s != nil {
			t.Errorf("fixed input swept over payload sizes: %+v", s)
		}
	}
	for _, rt := range []string{"down", "nobuild"} {
		if s := res.Find("echo", rt, ScenarioWarm); s != nil {
			t.Errorf("runtime %s measured: %+v", rt, s)
		}
	}
	if len(res.Series) != 2*(3*2+1) {
		t.Errorf("%d series, want 14", len(res.Series))
	}

	cold := res.Find("echo", "lumos", ScenarioCold).Points[0]
	if cold.Requests != 4 || cold.Verified != 4 || cold.Latency.N != 4 {
		t.Errorf("cold point = %+v, want 2 runs x 2 requests", cold)
	}
	if cold.Starts["cold"] != 4 {
		t.Errorf("cold starts = %v", cold.Starts)
	}
	if cold.Phases == nil || !near(cold.Phases[PhaseCold], 3) || !near(cold.Phases[PhaseExecute], 0.2) {
		t.Errorf("cold phases = %v, want cold 3 and execute 0.2", cold.Phases)
	}
	warm := res.Find("echo", "lumos", ScenarioWarm).Points[0]
	if warm.Phases[PhaseCold] != 0 || !near(warm.Phases[PhaseIO], 0.1) || !near(warm.Phases[PhaseExecute], 0.2) {
		t.Errorf("warm phases = %v", warm.Phases)
	}
	if warm.Verified != 2*(3+1) || warm.Latency.N != 2*3 {
		t.Errorf("warm point = %+v: want 2 runs of 1 warm-up and 3 measured", warm)
	}
	if p := res.Find("echo", "peer", ScenarioWarm).Points[0]; p.Phases != nil || p.Starts != nil {
		t.Errorf("peer answered no Server-Timing, yet phases %v starts %v", p.Phases, p.Starts)
	}
	for _, p := range res.Find("echo", "lumos", ScenarioConcurrency).Points {
		if p.Throughput <= 0 || p.Verified == 0 || p.Verified != p.Requests {
			t.Errorf("concurrency %d: %+v", p.X, p)
		}
	}
	if fake.scales != 2*2*2*2 {
		t.Errorf("%d scale-to-zero calls, want 16 (2 fns x 2 runtimes x 2 runs x 2 repeats)", fake.scales)
	}

	skips := map[string]bool{}
	for _, s := range res.Skipped {
		skips[s.Runtime+"/"+s.Function] = true
		if s.Reason == "" {
			t.Errorf("skip without reason: %+v", s)
		}
	}
	if !skips["down/"] || !skips["nobuild/echo"] || !skips["nobuild/fixed"] || len(res.Skipped) != 3 {
		t.Errorf("skipped = %+v: want runtime down once, nobuild per function", res.Skipped)
	}
	if len(res.Artifacts) != 4 {
		t.Errorf("artifacts = %+v", res.Artifacts)
	}
	if len(fake.removed) != 4 || len(fake.fns) != 0 {
		t.Errorf("removed %v, left %v", fake.removed, fake.fns)
	}
}

func TestRunWrongAnswerFails(t *testing.T) {
	_, srv := newFakeGateway(t)
	s := tinySettings()
	s.Concurrency = []int{4}
	res, err := Run(context.Background(), Config{
		URL: srv.URL, User: "admin", Password: "pw",
		Workloads: []functions.Workload{echoWorkload("echo"), echoWorkload("liar")},
		Runtimes:  []string{"lumos"},
		Artifact:  artifactOf(map[string]string{"echo": "echo", "liar": "liar"}),
		Settings:  s,
	})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Run error = %v, want ErrFailed", err)
	}
	if res.Verified() || res.FailureCount == 0 || len(res.Failures) == 0 || len(res.Failures) > MaxFailures {
		t.Fatalf("failures %d kept %d", res.FailureCount, len(res.Failures))
	}
	for _, f := range res.Failures {
		if f.Function != "liar" || !strings.Contains(f.Error, "wrong answer") || f.Status != 200 {
			t.Errorf("failure %+v", f)
		}
	}
	if p := res.Find("echo", "lumos", ScenarioWarm).Points[0]; p.Verified != p.Requests {
		t.Errorf("echo point %+v", p)
	}
	if p := res.Find("liar", "lumos", ScenarioWarm).Points[0]; p.Verified != 0 || p.OK != p.Requests || p.Latency.N != 0 {
		t.Errorf("liar point %+v: want every answer OK and none verified", p)
	}
}

func TestRunDeploysNamedImages(t *testing.T) {
	fake, srv := newFakeGateway(t)
	fake.artifacts["registry.local/echo:v1"] = "echo" // an image the gateway holds
	s := tinySettings()
	s.Runs, s.Concurrency = 1, []int{2}
	res, err := Run(context.Background(), Config{
		URL: srv.URL, User: "admin", Password: "pw",
		Workloads: []functions.Workload{echoWorkload("echo")},
		Runtimes:  []string{"peer"},
		Artifact: func(context.Context, string, string) ([]byte, error) {
			t.Error("Artifact called for a function with an image")
			return nil, errors.New("no")
		},
		Images:   map[string]string{"echo": "registry.local/echo:v1"},
		Settings: s,
	})
	if err != nil {
		t.Fatalf("Run: %v %+v", err, res.Failures)
	}
	if res.Find("echo", "peer", ScenarioWarm) == nil || len(res.Artifacts) != 0 {
		t.Errorf("series %d, artifacts %+v", len(res.Series), res.Artifacts)
	}
}

// A point whose one request outlasts the time cap is measured once, in the
// first run, and marked slow; the ABI asked for a function is deployed, with
// the default memory limit.
func TestRunCapsSlowPoints(t *testing.T) {
	fake, srv := newFakeGateway(t)
	s := tinySettings()
	s.Runs, s.WarmRequests, s.PayloadRequests, s.Concurrency = 3, 50, 50, nil
	s.PointSeconds = 0.001 // one slow request (20 ms) outlasts it
	res, err := Run(context.Background(), Config{
		URL: srv.URL, User: "admin", Password: "pw",
		Workloads: []functions.Workload{echoWorkload("slow"), echoWorkload("echo")},
		Runtimes:  []string{"lumos"},
		Artifact:  artifactOf(map[string]string{"slow": "slow", "echo": "echo"}),
		ABIs:      map[string]string{"slow": "cgi"},
		Settings:  s,
		Progress: func(Progress) {
			fake.mu.Lock()
			defer fake.mu.Unlock()
			for name, fn := range fake.fns {
				if want := map[bool]string{true: "cgi", false: "loop"}[strings.Contains(name, "slow")]; fn.abi != want {
					t.Errorf("%s deployed with ABI %q, want %q", name, fn.abi, want)
				}
				if fn.memory != DefaultMemory {
					t.Errorf("%s deployed with memory %q, want %q", name, fn.memory, DefaultMemory)
				}
			}
		},
	})
	if err != nil {
		t.Fatalf("Run: %v %+v", err, res.Failures)
	}
	for _, sc := range []string{ScenarioWarm, ScenarioPayload, ScenarioCold} {
		for _, p := range res.Find("slow", "lumos", sc).Points {
			if !p.Slow || p.Runs != 1 || p.Capped != 1 || p.Latency.N != 1 || p.Verified != p.Requests {
				t.Errorf("slow %s x=%d: slow %v, runs %d, capped %d, n %d, %d of %d verified; want one sample from one capped run",
					sc, p.X, p.Slow, p.Runs, p.Capped, p.Latency.N, p.Verified, p.Requests)
			}
		}
	}
	// Without a cap the same settings take every request of every run.
	s.PointSeconds = 0
	res, err = Run(context.Background(), Config{
		URL: srv.URL, User: "admin", Password: "pw",
		Workloads: []functions.Workload{echoWorkload("slow")}, Runtimes: []string{"lumos"},
		Artifact: artifactOf(map[string]string{"slow": "slow"}), Settings: func() Settings { s.WarmRequests, s.PayloadRequests = 2, 2; return s }(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Find("slow", "lumos", ScenarioWarm).Points[0]; p.Slow || p.Runs != 3 || p.Capped != 0 || p.Latency.N != 6 {
		t.Errorf("uncapped warm: %+v", p)
	}
}

func TestRunRefusesBadSetup(t *testing.T) {
	_, srv := newFakeGateway(t)
	base := Config{URL: srv.URL, User: "admin", Password: "pw", Runtimes: []string{"lumos"},
		Workloads: []functions.Workload{echoWorkload("echo")}, Artifact: artifactOf(nil), Settings: tinySettings()}
	for name, mutate := range map[string]func(*Config){
		"wrong password": func(c *Config) { c.Password = "nope" },
		"no runs":        func(c *Config) { c.Settings.Runs = 0 },
		"zero callers":   func(c *Config) { c.Settings.Concurrency = []int{0} },
		"no artifact":    func(c *Config) { c.Artifact = nil },
		"negative size":  func(c *Config) { c.Settings.PayloadSizes = []int{-1} },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil || errors.Is(err, ErrFailed) {
			t.Errorf("%s: Run error = %v", name, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int]string{0: "0 B", 512: "512 B", 1024: "1 KB", 16 << 10: "16 KB", 1536: "1.5 KB", 2 << 20: "2 MB", 3 << 19: "1.5 MB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
