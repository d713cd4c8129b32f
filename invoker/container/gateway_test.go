package container

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// records keeps the gateway's invocation records.
type records struct {
	mu   sync.Mutex
	invs []*invoker.Invocation
}

// Begin leaves the caller's trace headers as they came.
func (r *records) Begin(*invoker.Invocation, gateway.Call) gateway.TraceContext {
	return gateway.TraceContext{}
}

// Record keeps every record.
func (r *records) Record(inv *invoker.Invocation) bool {
	r.mu.Lock()
	r.invs = append(r.invs, inv)
	r.mu.Unlock()
	return true
}

func (r *records) last() *invoker.Invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.invs[len(r.invs)-1]
}

// startGateway serves a gateway whose only runtime is r on loopback and
// returns its URL; it records every invocation in rec.
func startGateway(t *testing.T, r *Runtime, rec gateway.Recorder) (*gateway.Gateway, string) {
	t.Helper()
	st, err := store.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), gateway.Config{
		Runtimes:       map[string]gateway.Runtime{"container": r},
		DefaultRuntime: "container",
		Store:          st,
		Recorder:       rec,
		Credentials:    gateway.Credentials{User: "admin", Password: "test"},
		DefaultPool:    pool.DefaultConfig(),
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	t.Cleanup(func() {
		if err := g.Close(context.Background()); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	return g, "http://" + ln.Addr().String()
}

// deployTest uploads the named test function's image and deploys it.
func deployTest(t *testing.T, g *gateway.Gateway, fn, name string, d gateway.FunctionDeployment) {
	t.Helper()
	digest, err := g.PutArtifact(tarballs[fn])
	if err != nil {
		t.Fatal(err)
	}
	d.Service, d.Image = name, digest
	if err := g.Deploy(context.Background(), d, false); err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, url string, body string) answer {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// TestGatewayColdRecordAndOOM serves container functions through the
// gateway: a cold invocation's record carries the container's cold-start
// phases up to first_ready; a function allocating past its memory limit
// answers 502 naming the OOM, and the next request gets a new container.
func TestGatewayColdRecordAndOOM(t *testing.T) {
	r := newTestRuntime(t, Config{})
	rec := &records{}
	g, base := startGateway(t, r, rec)
	deployTest(t, g, "hello", "hello", gateway.FunctionDeployment{})
	deployTest(t, g, "probe", "hog", gateway.FunctionDeployment{Limits: &gateway.FunctionResources{Memory: "32Mi"}})

	a := call(t, base+"/function/hello", "")
	if a.status != 200 || a.header.Get("X-Lumos-Start") != "cold" {
		t.Fatalf("hello: %d %s %q", a.status, a.header.Get("X-Lumos-Start"), a.body)
	}
	inv := rec.last()
	for _, ph := range []invoker.PhaseName{invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady, invoker.PhaseExecute} {
		if inv.Phases.Get(ph) <= 0 {
			t.Errorf("cold record has no %s: %v", ph, phaseNames(&inv.Phases))
		}
	}
	if a := call(t, base+"/function/hello", ""); a.status != 200 || a.header.Get("X-Lumos-Start") != "warm" {
		t.Fatalf("hello again: %d %s", a.status, a.header.Get("X-Lumos-Start"))
	}
	if d := rec.last().Phases.Get(invoker.PhaseFirstReady); d != 0 {
		t.Errorf("warm record has first_ready %v", d)
	}

	ok := call(t, base+"/function/hog?op=alloc", "1")
	if ok.status != 200 {
		t.Fatalf("hog: %d %q", ok.status, ok.body)
	}
	a = call(t, base+"/function/hog?op=alloc", "256")
	var e struct{ Error, Message string }
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("%d %q: %v", a.status, a.body, err)
	}
	if a.status != 502 || e.Error != "function_error" || !strings.Contains(e.Message, invoker.ErrOutOfMemory.Error()) {
		t.Fatalf("hog past its limit: %d %+v", a.status, e)
	}
	if !bytes.Contains(a.body, []byte("OOM killer")) {
		t.Errorf("message does not say the OOM killer stopped it: %s", a.body)
	}
	if id := a.header.Get("X-Lumos-Instance"); id != ok.header.Get("X-Lumos-Instance") {
		t.Errorf("the OOM hit instance %q, want the warm %q", id, ok.header.Get("X-Lumos-Instance"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for oomTestLive(r) > 1 && time.Now().Before(deadline) { // hello's instance stays
		time.Sleep(10 * time.Millisecond)
	}
	if n := oomTestLive(r); n != 1 {
		t.Errorf("%d live containers after the OOM, want hello's only", n)
	}
	a = call(t, base+"/function/hog?op=alloc", "1")
	if a.status != 200 || a.header.Get("X-Lumos-Start") != "cold" || a.header.Get("X-Lumos-Instance") == ok.header.Get("X-Lumos-Instance") {
		t.Fatalf("after the OOM: %d start %s instance %s (was %s) %q", a.status, a.header.Get("X-Lumos-Start"),
			a.header.Get("X-Lumos-Instance"), ok.header.Get("X-Lumos-Instance"), a.body)
	}
}

// oomTestLive returns how many of r's instances are not closed yet.
func oomTestLive(r *Runtime) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}
