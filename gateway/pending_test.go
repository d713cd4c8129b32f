package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// flakyRuntime is the echo runtime behind a switch: while down, Load fails
// with invoker.ErrUnavailable, as the container runtime does without
// containerd.
type flakyRuntime struct {
	inner    Runtime
	down     atomic.Bool
	attempts atomic.Int64
}

func (f *flakyRuntime) Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
	f.attempts.Add(1)
	if f.down.Load() {
		return nil, fmt.Errorf("flaky: daemon down: %w", invoker.ErrUnavailable)
	}
	return f.inner.Load(ctx, spec)
}

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
	}
}

// TestRestorePending restarts the gateway while a runtime is unavailable:
// its functions are listed as pending and answer 503 saying why (not 404),
// admin requests on them work, and once the runtime is back they serve
// without a redeploy.
func TestRestorePending(t *testing.T) {
	var flaky *flakyRuntime
	withFlaky := func(c *Config) {
		if flaky == nil {
			flaky = &flakyRuntime{inner: c.Runtimes["fake"]}
		}
		c.Runtimes["flaky"] = flaky
		c.RestoreRetry = 5 * time.Millisecond
	}
	h := newHarness(t, withFlaky)
	onFlaky := map[string]string{AnnotationRuntime: "flaky"}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		h.deploy(name, "v1", onFlaky, nil)
	}
	h.deploy("w", "v1", nil, nil) // another runtime
	h.stop()

	flaky.down.Store(true)
	h.start(withFlaky)
	expectError(t, h.do(http.MethodGet, "/function/a", nil), 503, codeUnavailable, "not serving yet")
	if r := h.do(http.MethodGet, "/function/w", nil); r.status != 200 {
		t.Fatalf("function on an available runtime: %d %s", r.status, r.body)
	}
	var list []FunctionStatus
	r := h.admin(http.MethodGet, "/system/functions", nil)
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 6 {
		t.Fatalf("list: %d %s (%v)", r.status, r.body, err)
	}
	for _, st := range list {
		if (st.Pending != "") != (st.Name != "w") || (st.Name != "w" && st.Annotations[AnnotationRuntime] != "flaky") {
			t.Errorf("listed %s: pending %q, annotations %v", st.Name, st.Pending, st.Annotations)
		}
	}
	if r := h.admin(http.MethodGet, "/system/function/a", nil); r.status != 200 || !strings.Contains(string(r.body), "daemon down") {
		t.Errorf("status of a pending function: %d %s", r.status, r.body)
	}

	// Admin requests while pending.
	expectError(t, h.admin(http.MethodPost, "/system/functions", FunctionDeployment{Service: "a", Image: h.upload("v2")}), 409, codeConflict, "exists")
	if r := h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "b"}); r.status != 202 {
		t.Fatalf("delete pending: %d %s", r.status, r.body)
	}
	if _, err := h.store.Function("b"); err == nil {
		t.Error("the deleted pending function's record is still stored")
	}
	if r := h.admin(http.MethodPost, "/system/scale-function/c", ScaleServiceRequest{Replicas: 2}); r.status != 202 {
		t.Fatalf("scale pending: %d %s", r.status, r.body)
	}
	d := FunctionDeployment{Service: "d", Image: h.upload("v2")} // to the default runtime, which works
	if r := h.admin(http.MethodPut, "/system/functions", d); r.status != 202 {
		t.Fatalf("update pending: %d %s", r.status, r.body)
	}
	if r := h.do(http.MethodGet, "/function/d", nil); r.status != 200 || r.header.Get("X-Version") != "v2" {
		t.Fatalf("updated pending function: %d %s", r.status, r.body)
	}
	attempts := flaky.attempts.Load()
	eventually(t, "restores retried", func() bool { return flaky.attempts.Load() > attempts+3 })

	// Invocations race the restore when the runtime comes back.
	stop := make(chan struct{})
	statuses := make(chan int, 1<<16)
	go func() {
		defer close(statuses)
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := h.http.Get(h.base + "/function/e")
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}
	}()
	flaky.down.Store(false)
	eventually(t, "a serves", func() bool { return h.do(http.MethodGet, "/function/a", nil).status == 200 })
	eventually(t, "e serves", func() bool { return h.do(http.MethodGet, "/function/e", nil).status == 200 })
	close(stop)
	for s := range statuses {
		if s != 200 && s != 503 {
			t.Errorf("while e was being restored: status %d", s)
		}
	}
	eventually(t, "c serves", func() bool { return h.do(http.MethodGet, "/function/c", nil).status == 200 })
	if got := h.g.current("c").variants[0].pool.Config().MinWarm; got != 2 {
		t.Errorf("c restored with MinWarm %d, want the 2 it was scaled to while pending", got)
	}
	expectError(t, h.do(http.MethodGet, "/function/b", nil), 404, codeNotFound, "b")
	if r := h.do(http.MethodGet, "/function/d", nil); r.header.Get("X-Version") != "v2" {
		t.Errorf("d after the retries: %s, want the update (v2)", r.header.Get("X-Version"))
	}
	r = h.admin(http.MethodGet, "/system/functions", nil)
	list = nil
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 5 {
		t.Fatalf("list: %d %s (%v)", r.status, r.body, err)
	}
	for _, st := range list {
		if st.Pending != "" {
			t.Errorf("%s still pending: %s", st.Name, st.Pending)
		}
	}
	h.g.pendMu.Lock()
	left := len(h.g.pending)
	h.g.pendMu.Unlock()
	if left != 0 {
		t.Errorf("%d functions left pending", left)
	}
}

// TestRestorePendingGivesUp drops a pending function whose load fails for
// a reason other than unavailability: it 404s, as a restore failure did.
func TestRestorePendingGivesUp(t *testing.T) {
	var flaky *flakyRuntime
	withFlaky := func(c *Config) {
		if flaky == nil {
			flaky = &flakyRuntime{inner: c.Runtimes["fake"]}
		}
		c.Runtimes["flaky"] = flaky
		c.RestoreRetry = 5 * time.Millisecond
	}
	h := newHarness(t, withFlaky)
	h.deploy("x", "v1", map[string]string{AnnotationRuntime: "flaky"}, nil)
	h.stop()
	flaky.down.Store(true)
	h.start(func(c *Config) {
		withFlaky(c)
		// The runtime comes back as one that refuses the artifact.
		c.Runtimes["flaky"] = &fakeRuntime{load: func(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
			if flaky.attempts.Add(1) < 3 {
				return nil, fmt.Errorf("flaky: %w", invoker.ErrUnavailable)
			}
			return nil, fmt.Errorf("flaky: %w", invoker.ErrInvalidArtifact)
		}}
	})
	eventually(t, "x dropped", func() bool { return h.do(http.MethodGet, "/function/x", nil).status == 404 })
	if _, err := h.store.Function("x"); err != nil {
		t.Errorf("x's record was deleted: %v", err)
	}
}

// TestLostToUnavailableRuntime: an instance lost because its runtime went
// away (containerd stopped) is a 503, not the function's 502.
func TestLostToUnavailableRuntime(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("x: %w: %w", invoker.ErrInstanceLost, invoker.ErrUnavailable), 503},
		{fmt.Errorf("x: %w: %w", invoker.ErrInstanceLost, invoker.ErrExit), 502},
		{fmt.Errorf("x: %w", invoker.ErrUnavailable), 503},
	} {
		if got, _ := errorStatus(tc.err); got != tc.status {
			t.Errorf("errorStatus(%v) = %d, want %d", tc.err, got, tc.status)
		}
	}
}
