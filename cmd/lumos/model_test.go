package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/profiler/model"
)

// fakeModelGateway answers the model routes as the gateway does, from a
// real model, and records what it was sent.
type fakeModelGateway struct {
	m *model.Model

	mu       sync.Mutex
	paths    []string
	imported []byte
}

// asked reports whether the gateway was sent "METHOD path".
func (f *fakeModelGateway) asked(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.paths, call)
}

func (f *fakeModelGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "pw" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"unauthorized","message":"bad credentials"}`)
		return
	}
	answer := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/system/model":
		answer(f.m.Overview())
	case r.URL.Path == "/system/model-snapshot" && r.Method == http.MethodGet:
		data, _ := f.m.Export()
		w.Write(data)
	case r.URL.Path == "/system/model-snapshot" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		body, _ := io.ReadAll(r.Body)
		load := f.m.Import
		if r.Method == http.MethodPut {
			load = f.m.Replace
		}
		if err := load(body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			answer(map[string]string{"error": "bad_request", "message": "model snapshot: " + err.Error()})
			return
		}
		f.mu.Lock()
		f.imported = body
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, "/system/model/"):
		var n int
		if err := json.Unmarshal([]byte(r.URL.Query().Get("bytes")), &n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		doc, ok := f.m.Function(strings.TrimPrefix(r.URL.Path, "/system/model/"), n)
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			answer(map[string]string{"error": "not_found", "message": "the model knows nothing of function"})
			return
		}
		answer(doc)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var modelEnv = model.Environment{CPUModel: "Test CPU", Cores: 2, MemoryBytes: 4 << 30, GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"}

// learnedModel has seen fib on two runtimes and echo on one.
func learnedModel(slow float64) *model.Model {
	env := modelEnv
	m := model.New(model.Config{Environment: &env})
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	obs := func(fn, rt string, start invoker.StartKind, exec time.Duration, req int) {
		at = at.Add(100 * time.Millisecond)
		inv := &invoker.Invocation{Function: fn, Runtime: rt, ABI: invoker.ABILoop, Start: start, Begin: at,
			RequestBytes: req, ResponseBytes: req, InFlight: 1, MemoryBytes: 6 << 20}
		exec = time.Duration(float64(exec) * slow)
		if start == invoker.StartCold {
			inv.Phases.AddDuration(invoker.PhaseInstantiate, at, 40*exec)
		}
		inv.Phases.AddDuration(invoker.PhaseRequestWrite, at, exec/10)
		inv.Phases.AddDuration(invoker.PhaseExecute, at, exec)
		inv.Phases.AddDuration(invoker.PhaseResponseRead, at, exec/10)
		var total time.Duration
		for _, p := range inv.Phases.Phases() {
			total += p.Duration
		}
		inv.Total = total + 20*time.Microsecond
		m.Observe(inv)
	}
	for i := range 40 {
		req := 1024 << (i % 3 * 4)
		for _, f := range []struct {
			fn, rt string
			d      time.Duration
		}{{"fib", "wasm-aot", time.Millisecond}, {"fib", "wasm-interp", 30 * time.Millisecond}, {"echo", "wasm-aot", 200 * time.Microsecond}, {"json", "wasm-aot", 400 * time.Microsecond}, {"json", "wasm-interp", 12 * time.Millisecond}} {
			start := invoker.StartWarm
			if i < 2 {
				start = invoker.StartCold
			}
			obs(f.fn, f.rt, start, f.d+time.Duration(req/1024)*time.Microsecond, req)
		}
	}
	return m
}

func modelServer(t *testing.T) (*fakeModelGateway, []string) {
	t.Helper()
	f := &fakeModelGateway{m: learnedModel(1)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, []string{"--gateway", srv.URL, "--password", "pw", "--data-dir", t.TempDir()}
}

func TestModelCommandFunctionTable(t *testing.T) {
	f, g := modelServer(t)
	out, err := runCLI(t, "", append([]string{"model", "echo", "--bytes", "65536"}, g...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := f.paths[0]; got != "GET /system/model/echo?bytes=65536" {
		t.Errorf("request %q", got)
	}
	for _, want := range []string{
		"echo, requests of 64.0KiB (65536 bytes):",
		"RUNTIME", "COLD P50", "WARM P50", "IO SHARE", "MEMORY", "SAMPLES C/W", "CONFIDENCE", "ERROR",
		"wasm-aot ", "6.0MiB", "2/38", "high",
		"wasm-interp*", "* extrapolated across functions (never run here): wasm-interp from wasm-aot",
		"Recommendation: runtime wasm-aot, idle timeout",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The columns line up: every row of the table is as wide as the header's start.
	lines := strings.Split(out, "\n")
	header := strings.Index(lines[1], "WARM P50")
	for _, l := range lines[2:4] {
		if len(l) < header || l[header-1] != ' ' {
			t.Errorf("row %q not aligned with the header %q", l, lines[1])
		}
	}
}

func TestModelCommandOverviewAndJSON(t *testing.T) {
	_, g := modelServer(t)
	out, err := runCLI(t, "", append([]string{"model"}, g...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log("\n" + out)
	for _, want := range []string{"Model learned on Test CPU, 2 cores, 4.0GiB memory", "echo, requests of 1.0KiB", "fib, requests", "json, requests",
		"Runtime relations", "wasm-interp  wasm-aot", "FUNCTIONS"} {
		if !strings.Contains(out, want) {
			t.Errorf("overview lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "", append([]string{"model", "fib", "--json"}, g...)...)
	if err != nil {
		t.Fatal(err)
	}
	var doc model.FunctionDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Function != "fib" || len(doc.Runtimes) != 2 || doc.Bytes != 1024 {
		t.Errorf("--json: %v %+v\n%s", err, doc, out)
	}
}

func TestModelCommandExportImportCompare(t *testing.T) {
	f, g := modelServer(t)
	file := filepath.Join(t.TempDir(), "snap.json")
	out, err := runCLI(t, "", append([]string{"model", "--export", file}, g...)...)
	if err != nil || !strings.Contains(out, "exported the model to "+file) {
		t.Fatalf("export: %v %s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil || !json.Valid(data) {
		t.Fatalf("exported file: %v", err)
	}
	out, err = runCLI(t, "", append([]string{"model", "--import", file}, g...)...)
	if err != nil || !strings.Contains(out, "merged "+file) || string(f.imported) != string(data) || !f.asked("POST /system/model-snapshot") {
		t.Fatalf("import (merge, POST): %v %s", err, out)
	}
	out, err = runCLI(t, "", append([]string{"model", "--import", file, "--replace"}, g...)...)
	if err != nil || !strings.Contains(out, "replaced the model with "+file) || !f.asked("PUT /system/model-snapshot") {
		t.Fatalf("import --replace (PUT): %v %s", err, out)
	}
	// A snapshot of a machine twice as slow.
	slow, err := learnedModel(2).Export()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "edge.json")
	if err := os.WriteFile(other, slow, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "", append([]string{"model", "--compare", other, "--bytes", "4096"}, g...)...)
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	t.Log("\n" + out)
	for _, want := range []string{"requests of 4096 bytes", "FUNCTION", "RATIO", "fib       wasm-interp", "0.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
}

func TestModelCommandErrors(t *testing.T) {
	_, g := modelServer(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"model", "--export", "a", "--import", "b"}, "at most one of --export, --import and --compare"},
		{[]string{"model", "--replace"}, "--replace applies to --import only"},
		{[]string{"model", "fib", "--export", "a"}, "give no NAME"},
		{[]string{"model", "fib", "--bytes", "-1"}, "--bytes -1"},
		{[]string{"model", "--bytes", "10"}, "--bytes needs a NAME"},
		{[]string{"model", "--export", "a", "--json"}, "--json applies to the documents"},
		{[]string{"model", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"model", "--import", filepath.Join(t.TempDir(), "missing.json")}, "--import: open"},
		{[]string{"model", "--import", bad}, "gateway answered 400 bad_request: model snapshot: model: bad snapshot: version: 9"},
		{[]string{"model", "--compare", bad}, "second snapshot: model: bad snapshot: version: 9"},
		{[]string{"model", "nobody"}, "gateway answered 404 not_found"},
	}
	for _, c := range cases {
		out, err := runCLI(t, "", append(c.args, g...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q (output %s)", c.args, err, c.want, out)
		}
	}
	out, err := runCLI(t, "", "model", "--gateway", g[1], "--password", "wrong", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "401 unauthorized") {
		t.Errorf("bad password: %v %s", err, out)
	}
}

// recorderFunc is a gateway.Recorder made of functions.
type recorderFunc struct {
	begin  func(*invoker.Invocation, gateway.Call) gateway.TraceContext
	record func(*invoker.Invocation) bool
}

func (r recorderFunc) Begin(inv *invoker.Invocation, c gateway.Call) gateway.TraceContext {
	return r.begin(inv, c)
}
func (r recorderFunc) Record(inv *invoker.Invocation) bool { return r.record(inv) }

func TestModelRecorder(t *testing.T) {
	env := modelEnv
	m := model.New(model.Config{Environment: &env})
	inv := &invoker.Invocation{Function: "f", Runtime: "wasm-aot", ABI: invoker.ABILoop, Start: invoker.StartWarm, Total: time.Millisecond, InFlight: 1}
	inv.Phases.AddDuration(invoker.PhaseExecute, time.Now(), 900*time.Microsecond)

	alone := modelRecorder{model: m}
	if tc := alone.Begin(inv, gateway.Call{}); tc != (gateway.TraceContext{}) {
		t.Errorf("Begin without a profiler = %+v", tc)
	}
	if alone.Record(inv) {
		t.Error("Record without a profiler keeps the record")
	}
	var sawModel bool
	next := recorderFunc{
		begin: func(*invoker.Invocation, gateway.Call) gateway.TraceContext { return gateway.TraceContext{Parent: "p"} },
		record: func(*invoker.Invocation) bool {
			doc, ok := m.Function("f", 1024)
			sawModel = ok && doc.(model.FunctionDoc).Runtimes[0].Samples.Warm == 2
			return true
		},
	}
	both := modelRecorder{model: m, next: next}
	if tc := both.Begin(inv, gateway.Call{}); tc.Parent != "p" {
		t.Errorf("Begin = %+v, want the profiler's", tc)
	}
	if !both.Record(inv) {
		t.Error("Record lost the profiler's kept")
	}
	if !sawModel {
		t.Error("the profiler recorded before the model observed")
	}
}

// blobMap is an in-memory blobStore.
type blobMap struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *blobMap) Blob(bucket, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[bucket+"/"+key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (b *blobMap) PutBlob(bucket, key string, v []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[bucket+"/"+key] = v
	return nil
}

func TestModelPersistence(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st := &blobMap{m: map[string][]byte{}}
	env := modelEnv
	fresh := func() *model.Model { return model.New(model.Config{Environment: &env}) }

	m := fresh()
	loadModel(st, m, log) // nothing stored: first start
	if logs.Len() != 0 {
		t.Errorf("first start logged: %s", logs.String())
	}
	learned := learnedModel(1)
	if err := saveModel(st, learned); err != nil {
		t.Fatal(err)
	}
	loadModel(st, m, log)
	if _, ok := m.Function("fib", 1024); !ok || logs.Len() != 0 {
		t.Errorf("the stored snapshot was not loaded: %s", logs.String())
	}

	st.m[modelBucket+"/"+modelSnapshotKey] = []byte("{garbage")
	m = fresh()
	loadModel(st, m, log)
	if !strings.Contains(logs.String(), "cannot load the stored snapshot") {
		t.Errorf("a bad snapshot was not logged: %q", logs.String())
	}
	if _, ok := m.Function("fib", 1024); ok {
		t.Error("a bad snapshot left state behind")
	}

	// The saver stores periodically until stopped.
	delete(st.m, modelBucket+"/"+modelSnapshotKey)
	s := startModelSaver(st, learned, time.Millisecond, log)
	for {
		if _, err := st.Blob(modelBucket, modelSnapshotKey); !errors.Is(err, store.ErrNotFound) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.Stop()
}

// The served gateway feeds the model from every invocation, exposes its
// metrics at /metrics, saves it at shutdown and loads it at the next start.
func TestModelServedAndPersisted(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.metrics, o.model = true, true
	o.getenv = envMap(nil)
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if a := do(t, "POST", srv.url+"/function/echo", []byte("hello model"), nil); a.status != 200 {
			t.Fatalf("echo answered %d", a.status)
		}
	}
	m := do(t, "GET", srv.url+"/metrics", nil, nil)
	for _, want := range []string{`lumos_model_samples{abi="loop",function="echo",kind="warm",runtime="wasm-aot"} 11`, `lumos_model_error_ratio{abi="loop",function="echo",runtime="wasm-aot"}`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv, err = startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	doc, ok := srv.model.Function("echo", 1024)
	if !ok {
		t.Fatal("the model was not loaded at the second start")
	}
	d := doc.(model.FunctionDoc).Runtimes[0]
	if d.Samples.Cold != 1 || d.Samples.Warm != 11 || d.WarmP50Ms <= 0 {
		t.Errorf("loaded model: %+v", d)
	}
}
