package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

// headerRuntime is the response header a tagged runtime's instances add.
const headerRuntime = "X-Runtime"

// taggedRuntime is an echoRuntime whose instances answer with their
// runtime's name in X-Runtime, so a test sees which runtime served it.
type taggedRuntime struct {
	name string
	echo *echoRuntime
}

func (r *taggedRuntime) Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
	fn, err := r.echo.runtime().Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &fakeFunction{
		newInstance: func(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
			inst, err := fn.NewInstance(ctx, tl)
			if err != nil {
				return nil, err
			}
			return &taggedInstance{Instance: inst, name: r.name}, nil
		},
		close: fn.Close,
	}, nil
}

type taggedInstance struct {
	invoker.Instance
	name string
}

func (i *taggedInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	resp, err := i.Instance.Invoke(ctx, req, tl)
	if resp != nil {
		resp.Header = append(resp.Header, invoker.Header{Name: headerRuntime, Value: i.name})
	}
	return resp, err
}

// refusingRuntime refuses every artifact as a Wasm module is refused by the
// container runtime; unavailable makes it fail as a runtime that is down.
type refusingRuntime struct{ unavailable bool }

func (r refusingRuntime) Load(context.Context, invoker.Spec) (invoker.Function, error) {
	if r.unavailable {
		return nil, fmt.Errorf("refusing: daemon down: %w", invoker.ErrUnavailable)
	}
	return nil, fmt.Errorf("refusing: not an image tarball: %w", invoker.ErrInvalidArtifact)
}

// chooseCall is one call of fakeChooser.Choose.
type chooseCall struct {
	function   string
	bytes      int
	candidates []string
}

// fakeChooser records its calls and answers pick's index.
type fakeChooser struct {
	pick func(function string, bytes int, candidates []string) int

	mu    sync.Mutex
	calls []chooseCall
}

func (c *fakeChooser) Choose(function string, bytes int, candidates []string) int {
	c.mu.Lock()
	c.calls = append(c.calls, chooseCall{function, bytes, slices.Clone(candidates)})
	c.mu.Unlock()
	return c.pick(function, bytes, candidates)
}

func (c *fakeChooser) all() []chooseCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// autoRuntimes is a set of runtimes for runtime auto tests: wasm-aot and
// wasm-interp serve (each from its own echoRuntime), container refuses.
type autoRuntimes struct {
	aot, interp *echoRuntime
}

func newAutoRuntimes() *autoRuntimes {
	return &autoRuntimes{aot: newEchoRuntime(), interp: newEchoRuntime()}
}

// option configures a harness with the runtimes (and more from extra).
func (a *autoRuntimes) option(extra func(*Config)) option {
	return func(c *Config) {
		c.Runtimes = map[string]Runtime{
			"wasm-aot":    &taggedRuntime{name: "wasm-aot", echo: a.aot},
			"wasm-interp": &taggedRuntime{name: "wasm-interp", echo: a.interp},
			"container":   refusingRuntime{},
		}
		c.DefaultRuntime = "wasm-aot"
		if extra != nil {
			extra(c)
		}
	}
}

// checkNoLeak checks that every function and instance the runtimes made is closed.
func (a *autoRuntimes) checkNoLeak(t *testing.T) {
	t.Helper()
	for name, e := range map[string]*echoRuntime{"wasm-aot": a.aot, "wasm-interp": a.interp} {
		loaded, fnClosed, created, instClosed := e.counts()
		if loaded != fnClosed || created != instClosed {
			t.Errorf("%s leaks: functions loaded %d closed %d; instances created %d closed %d", name, loaded, fnClosed, created, instClosed)
		}
	}
}

var onAuto = map[string]string{AnnotationRuntime: RuntimeAuto}

// status fetches name's status.
func (h *harness) status(name string) FunctionStatus {
	h.t.Helper()
	r := h.admin(http.MethodGet, "/system/function/"+name, nil)
	var st FunctionStatus
	if r.status != http.StatusOK {
		h.t.Fatalf("status of %s: %d %s", name, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		h.t.Fatalf("status of %s: %s: %v", name, r.body, err)
	}
	return st
}

// runtimesOf lists the runtimes of a status's Lumos field.
func runtimesOf(t *testing.T, st FunctionStatus) []string {
	t.Helper()
	if st.Lumos == nil {
		t.Fatalf("status of %s has no lumos field", st.Name)
	}
	var out []string
	for _, r := range st.Lumos.Runtimes {
		out = append(out, r.Runtime)
	}
	return out
}

func TestCandidateOrder(t *testing.T) {
	got := candidateOrder(map[string]int{"zeta": 0, "container": 0, "wasm-aot": 0, "alpha": 0, "wasm-interp": 0})
	if want := []string{"wasm-aot", "wasm-interp", "container", "alpha", "zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if got := candidateOrder(map[string]int{"container": 0, "b": 0, "a": 0}); !reflect.DeepEqual(got, []string{"container", "a", "b"}) {
		t.Errorf("order = %v", got)
	}
}

// TestAutoChooses deploys with runtime auto on three runtimes, one refusing
// the artifact: the function holds the two others, the Chooser is asked
// with the function, the body's size and the candidates, and its choice
// serves (an out-of-range choice falls back to the first).
func TestAutoChooses(t *testing.T) {
	rts := newAutoRuntimes()
	pick := 1
	ch := &fakeChooser{pick: func(string, int, []string) int { return pick }}
	h := newHarness(t, rts.option(func(c *Config) { c.Chooser = ch }))
	h.deploy("f", "v1", onAuto, nil)

	st := h.status("f")
	if got := runtimesOf(t, st); !reflect.DeepEqual(got, []string{"wasm-aot", "wasm-interp"}) {
		t.Fatalf("runtimes = %v", got)
	}
	if st.Lumos.Runtime != RuntimeAuto || st.Annotations[AnnotationRuntime] != RuntimeAuto {
		t.Errorf("status shows runtime %q, annotation %q", st.Lumos.Runtime, st.Annotations[AnnotationRuntime])
	}
	if len(st.Lumos.Skipped) != 1 || st.Lumos.Skipped[0].Runtime != "container" || !strings.Contains(st.Lumos.Skipped[0].Reason, "not an image tarball") {
		t.Errorf("skipped = %+v", st.Lumos.Skipped)
	}

	for _, tt := range []struct {
		pick int
		want string
	}{{1, "wasm-interp"}, {0, "wasm-aot"}, {2, "wasm-aot"}, {-1, "wasm-aot"}, {1, "wasm-interp"}} {
		pick = tt.pick
		body := strings.Repeat("x", 10+tt.pick+1)
		r := h.do(http.MethodPost, "/function/f", []byte(body))
		if r.status != 200 || string(r.body) != body {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
		if got := r.header.Get(headerRuntime); got != tt.want {
			t.Errorf("choice %d served by %q, want %q", tt.pick, got, tt.want)
		}
		invs := h.rec.all()
		if got := invs[len(invs)-1].Runtime; got != tt.want {
			t.Errorf("choice %d recorded runtime %q, want %q", tt.pick, got, tt.want)
		}
		calls := ch.all()
		want := chooseCall{"f", len(body), []string{"wasm-aot", "wasm-interp"}}
		if last := calls[len(calls)-1]; !reflect.DeepEqual(last, want) {
			t.Errorf("Choose got %+v, want %+v", last, want)
		}
	}
	if n := len(ch.all()); n != 5 {
		t.Errorf("Choose called %d times for 5 invocations", n)
	}

	// A function on one runtime never asks the Chooser.
	h.deploy("g", "v1", map[string]string{AnnotationRuntime: "wasm-interp"}, nil)
	if r := h.do(http.MethodGet, "/function/g", nil); r.status != 200 || r.header.Get(headerRuntime) != "wasm-interp" {
		t.Fatalf("invoke g: %d %s %v", r.status, r.body, r.header)
	}
	if n := len(ch.all()); n != 5 {
		t.Errorf("Choose called for a function on one runtime")
	}

	// Metrics see each runtime's pool, and their sum.
	for fs := range h.g.FunctionStats() {
		if fs.Name != "f" {
			continue
		}
		if fs.Runtime != RuntimeAuto || len(fs.Variants) != 2 || fs.Variants[0].Runtime != "wasm-aot" ||
			fs.Pool.Created != fs.Variants[0].Pool.Created+fs.Variants[1].Pool.Created || fs.Pool.Created != 2 {
			t.Errorf("stats of f: %+v", fs)
		}
	}

	// A restart restores both variants.
	h.stop()
	h.start(rts.option(func(c *Config) { c.Chooser = ch }))
	if got := runtimesOf(t, h.status("f")); !reflect.DeepEqual(got, []string{"wasm-aot", "wasm-interp"}) {
		t.Fatalf("runtimes after restart = %v", got)
	}
	h.stop()
	rts.checkNoLeak(t)
}

// TestAutoWithoutChooser serves every invocation on the first candidate,
// and lumos.candidates restricts and orders nothing but the set.
func TestAutoWithoutChooser(t *testing.T) {
	rts := newAutoRuntimes()
	h := newHarness(t, rts.option(nil))
	h.deploy("f", "v1", onAuto, nil)
	for range 3 {
		if r := h.do(http.MethodGet, "/function/f", nil); r.status != 200 || r.header.Get(headerRuntime) != "wasm-aot" {
			t.Fatalf("invoke: %d %s %v", r.status, r.body, r.header)
		}
	}
	h.deploy("g", "v1", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: " wasm-interp ,container"}, nil)
	if got := runtimesOf(t, h.status("g")); !reflect.DeepEqual(got, []string{"wasm-interp"}) {
		t.Errorf("runtimes of g = %v", got)
	}
	if r := h.do(http.MethodGet, "/function/g", nil); r.status != 200 || r.header.Get(headerRuntime) != "wasm-interp" {
		t.Fatalf("invoke g: %d %s %v", r.status, r.body, r.header)
	}
}

// TestAutoBadDeployments: unknown candidate names, empty entries, and
// artifacts no candidate loads are refused, naming the problem.
func TestAutoBadDeployments(t *testing.T) {
	rts := newAutoRuntimes()
	h := newHarness(t, rts.option(func(c *Config) { c.Runtimes["down"] = refusingRuntime{unavailable: true} }))
	good := h.upload("v1")
	for _, tt := range []struct {
		name        string
		content     string
		annotations map[string]string
		status      int
		fragments   []string
	}{
		{"unknown", "", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: "wasm-aot,bogus"}, 400,
			[]string{AnnotationCandidates, `unknown runtime "bogus"`, "wasm-aot, wasm-interp, container, down"}},
		{"unknown-pinned", "", map[string]string{AnnotationRuntime: "wasm-aot", AnnotationCandidates: "nope"}, 400,
			[]string{`unknown runtime "nope"`}},
		{"empty-entry", "", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: "wasm-aot,,container"}, 400,
			[]string{AnnotationCandidates, "none empty"}},
		{"blank", "", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: " "}, 400,
			[]string{AnnotationCandidates}},
		{"auto-as-candidate", "", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: "auto"}, 400,
			[]string{`unknown runtime "auto"`}},
		{"unknown-runtime", "", map[string]string{AnnotationRuntime: "wasm"}, 400,
			[]string{AnnotationRuntime, "unknown runtime", "or auto"}},
		{"none-loads", "bad module", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: "wasm-aot,container"}, 400,
			[]string{"no candidate runtime loads it", "wasm-aot: fake: magic header missing", "container: refusing: not an image tarball"}},
		{"none-available", "v1", map[string]string{AnnotationRuntime: RuntimeAuto, AnnotationCandidates: "container,down"}, 503,
			[]string{"container: refusing", "down: refusing: daemon down"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			image := good
			if tt.content != "" {
				image = h.upload(tt.content)
			}
			d := FunctionDeployment{Service: tt.name, Image: image, Annotations: tt.annotations}
			r := h.admin(http.MethodPost, "/system/functions", d)
			code := codeBadRequest
			if tt.status == 503 {
				code = codeUnavailable
			}
			expectError(t, r, tt.status, code, "")
			msg := r.errorBody(t).Message
			for _, f := range tt.fragments {
				if !strings.Contains(msg, f) {
					t.Errorf("message %q lacks %q", msg, f)
				}
			}
			if r := h.admin(http.MethodGet, "/system/function/"+tt.name, nil); r.status != 404 {
				t.Errorf("refused deployment exists: %d %s", r.status, r.body)
			}
		})
	}
	h.stop()
	rts.checkNoLeak(t)
}

// TestAutoRuntimeConfig: no runtime may be called auto; the default
// runtime may be auto.
func TestAutoRuntimeConfig(t *testing.T) {
	h := newHarness(t)
	cfg := h.cfg
	cfg.Runtimes = map[string]Runtime{"auto": h.rt.runtime(), "fake": h.rt.runtime()}
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), `"auto"`) {
		t.Errorf("New with a runtime named auto: %v", err)
	}

	rts := newAutoRuntimes()
	h2 := newHarness(t, rts.option(func(c *Config) { c.DefaultRuntime = RuntimeAuto }))
	h2.deploy("f", "v1", nil, nil)
	if got := runtimesOf(t, h2.status("f")); !reflect.DeepEqual(got, []string{"wasm-aot", "wasm-interp"}) {
		t.Errorf("runtimes with default auto = %v", got)
	}
}

// TestAutoPinByUpdate pins an auto function to one runtime by an update,
// then returns it to auto: each update drains the old version (an
// invocation in flight on it completes) and closes all of its variants.
func TestAutoPinByUpdate(t *testing.T) {
	rts := newAutoRuntimes()
	h := newHarness(t, rts.option(nil))
	image := h.upload("v1")
	put := func(annotations map[string]string) {
		t.Helper()
		d := FunctionDeployment{Service: "f", Image: image, Annotations: annotations}
		if r := h.admin(http.MethodPut, "/system/functions", d); r.status != http.StatusAccepted {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
	}
	h.deploy("f", "v1", onAuto, nil)

	// An invocation in flight on the auto version.
	done := make(chan reply, 1)
	go func() { done <- h.do(http.MethodGet, "/function/f/block", nil) }()
	<-rts.aot.entered
	put(map[string]string{AnnotationRuntime: "wasm-interp"})
	if got := runtimesOf(t, h.status("f")); !reflect.DeepEqual(got, []string{"wasm-interp"}) {
		t.Fatalf("pinned runtimes = %v", got)
	}
	if r := h.do(http.MethodGet, "/function/f", nil); r.status != 200 || r.header.Get(headerRuntime) != "wasm-interp" {
		t.Fatalf("pinned invoke: %d %s %v", r.status, r.body, r.header)
	}
	if _, fnClosed, _, _ := rts.interp.counts(); fnClosed != 0 {
		t.Errorf("old version's wasm-interp variant closed while an invocation was in flight on it (%d)", fnClosed)
	}
	rts.aot.release <- struct{}{}
	if r := <-done; r.status != 200 || string(r.body) != "unblocked" {
		t.Fatalf("in-flight invocation: %d %s", r.status, r.body)
	}
	eventually(t, "the old auto version closes both variants", func() bool {
		_, aotClosed, _, _ := rts.aot.counts()
		_, interpClosed, _, _ := rts.interp.counts()
		return aotClosed == 1 && interpClosed == 1
	})

	put(onAuto)
	if got := runtimesOf(t, h.status("f")); !reflect.DeepEqual(got, []string{"wasm-aot", "wasm-interp"}) {
		t.Fatalf("runtimes back on auto = %v", got)
	}
	if r := h.do(http.MethodGet, "/function/f", nil); r.status != 200 || r.header.Get(headerRuntime) != "wasm-aot" {
		t.Fatalf("auto invoke: %d %s %v", r.status, r.body, r.header)
	}
	h.stop()
	rts.checkNoLeak(t)
}

// TestAutoScaleRemoveClose scales every variant of an auto function, scales
// it to zero, removes it, and closes the gateway without a leak.
func TestAutoScaleRemoveClose(t *testing.T) {
	rts := newAutoRuntimes()
	h := newHarness(t, rts.option(nil))
	h.deploy("f", "v1", onAuto, nil)
	h.deploy("g", "v1", onAuto, nil)
	if r := h.admin(http.MethodPost, "/system/scale-function/f", ScaleServiceRequest{Replicas: 2}); r.status != http.StatusAccepted {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}
	st := h.status("f")
	for _, rs := range st.Lumos.Runtimes {
		if rs.MinWarm != 2 {
			t.Errorf("%s: MinWarm %d after scale to 2", rs.Runtime, rs.MinWarm)
		}
	}
	if st.Lumos.Adaptive {
		t.Error("a scaled function is still adaptive")
	}
	eventually(t, "both variants prewarm 2", func() bool {
		st := h.status("f")
		return st.AvailableReplicas == 4 && st.Replicas == 4
	})
	if r := h.admin(http.MethodPost, "/system/scale-function/f", ScaleServiceRequest{Replicas: 0}); r.status != http.StatusAccepted {
		t.Fatalf("scale to 0: %d %s", r.status, r.body)
	}
	eventually(t, "both variants scale to zero", func() bool {
		for _, vr := range h.g.current("f").variants {
			if st := vr.pool.Stats(); st.Idle+st.Busy+st.Starting+st.Destroying != 0 {
				return false
			}
		}
		return true
	})
	if r := h.do(http.MethodGet, "/function/g", nil); r.status != 200 {
		t.Fatalf("invoke g: %d %s", r.status, r.body)
	}
	if r := h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "f"}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	eventually(t, "the removed function closes both variants", func() bool {
		_, aotClosed, _, _ := rts.aot.counts()
		_, interpClosed, _, _ := rts.interp.counts()
		return aotClosed == 1 && interpClosed == 1
	})
	h.stop() // g, with an instance, closes here
	rts.checkNoLeak(t)
	if loaded, _, _, _ := rts.interp.counts(); loaded != 2 {
		t.Errorf("wasm-interp loaded %d functions, want 2", loaded)
	}
}

// TestInFlight: each record carries the invocations in flight when it
// began, itself included.
func TestInFlight(t *testing.T) {
	h := newHarness(t)
	h.deploy("f", "v1", nil, nil)
	done := make(chan reply, 2)
	for range 2 {
		go func() { done <- h.do(http.MethodGet, "/function/f/block", nil) }()
		<-h.rt.entered
	}
	if r := h.do(http.MethodGet, "/function/f/third", nil); r.status != 200 {
		t.Fatalf("invoke: %d %s", r.status, r.body)
	}
	h.rt.release <- struct{}{}
	h.rt.release <- struct{}{}
	for range 2 {
		if r := <-done; r.status != 200 {
			t.Fatalf("blocked invoke: %d %s", r.status, r.body)
		}
	}
	if r := h.do(http.MethodGet, "/function/f/alone", nil); r.status != 200 {
		t.Fatalf("invoke: %d %s", r.status, r.body)
	}
	got := map[string]int{}
	for _, inv := range h.rec.all() {
		got[inv.Trace.(Call).Path] = max(got[inv.Trace.(Call).Path], inv.InFlight)
	}
	if got["/function/f/third"] != 3 || got["/function/f/alone"] != 1 || got["/function/f/block"] < 1 || got["/function/f/block"] > 2 {
		t.Errorf("in flight by path = %v", got)
	}
}

// FuzzParseCandidates: any annotation parses or is refused naming it, and
// the names it yields are trimmed, non-empty and distinct.
func FuzzParseCandidates(f *testing.F) {
	for _, s := range []string{"wasm-aot,wasm-interp", " container ", "", ",", "a,,b", "a,a", "\t,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseCandidates(map[string]string{AnnotationCandidates: s})
		if err != nil {
			if !strings.Contains(err.Error(), AnnotationCandidates) {
				t.Fatalf("error %v does not name the annotation", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("%q: no names and no error", s)
		}
		seen := map[string]bool{}
		for _, n := range got {
			if n == "" || n != strings.TrimSpace(n) || strings.Contains(n, ",") || seen[n] {
				t.Fatalf("%q: bad name %q in %q", s, n, got)
			}
			seen[n] = true
		}
	})
}
