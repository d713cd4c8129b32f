package gateway

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

	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

const (
	testUser = "admin"
	testPass = "s3cret-pass"
)

// recorder collects invocation records, and the calls Begin saw. Begin
// answers trace (nil: the zero TraceContext).
type recorder struct {
	trace func(call Call) TraceContext

	mu    sync.Mutex
	invs  []*invoker.Invocation
	calls []Call
}

func (r *recorder) Begin(inv *invoker.Invocation, call Call) TraceContext {
	call.Method, call.Path = strings.Clone(call.Method), strings.Clone(call.Path)
	call.TraceParent, call.TraceState = strings.Clone(call.TraceParent), strings.Clone(call.TraceState)
	inv.Trace = call
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	if r.trace == nil {
		return TraceContext{}
	}
	return r.trace(call)
}

func (r *recorder) Record(inv *invoker.Invocation) bool {
	r.mu.Lock()
	r.invs = append(r.invs, inv)
	r.mu.Unlock()
	return true
}

func (r *recorder) all() []*invoker.Invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*invoker.Invocation(nil), r.invs...)
}

// harness is a gateway served over real HTTP on 127.0.0.1.
type harness struct {
	t     *testing.T
	g     *Gateway
	rt    *echoRuntime
	store *store.Store
	dir   string
	rec   *recorder
	base  string
	http  *http.Client
	cfg   Config
	ln    net.Listener
	done  chan error
}

type option func(*Config)

func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, rt: newEchoRuntime(), dir: t.TempDir(), rec: &recorder{}, http: &http.Client{Timeout: 30 * time.Second}}
	h.start(opts...)
	t.Cleanup(func() { h.stop() })
	return h
}

// start opens the store and serves a new gateway over it.
func (h *harness) start(opts ...option) {
	h.t.Helper()
	st, err := store.Open(h.dir, slog.New(slog.DiscardHandler))
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.store = st
	cfg := Config{
		Runtimes:       map[string]Runtime{"fake": h.rt.runtime(), "other": h.rt.runtime()},
		DefaultRuntime: "fake",
		Store:          st,
		Recorder:       h.rec,
		Credentials:    Credentials{User: testUser, Password: testPass},
		DefaultPool:    pool.DefaultConfig(),
		Version:        "test",
		Logger:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.cfg = cfg
	g, err := New(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.g = g
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatalf("listen: %v", err)
	}
	h.ln = ln
	h.base = "http://" + ln.Addr().String()
	h.done = make(chan error, 1)
	go func() { h.done <- g.Serve(ln) }()
	// Wait until Serve runs: a Shutdown before it would not stop it.
	if r := h.do(http.MethodGet, "/healthz", nil); r.status != http.StatusOK {
		h.t.Fatalf("healthz = %d %s", r.status, r.body)
	}
}

// stop shuts the server down, closes the gateway and the store.
func (h *harness) stop() {
	if h.g == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.http.CloseIdleConnections()
	if err := h.g.Shutdown(ctx); err != nil {
		h.t.Errorf("Shutdown: %v", err)
	}
	if err := <-h.done; err != nil {
		h.t.Errorf("Serve: %v", err)
	}
	if err := h.g.Close(ctx); err != nil {
		h.t.Errorf("Close: %v", err)
	}
	if err := h.store.Close(); err != nil {
		h.t.Errorf("store Close: %v", err)
	}
	h.g = nil
}

// reply is a decoded HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) errorBody(t *testing.T) errorBody {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != contentTypeJSON {
		t.Fatalf("error Content-Type = %q, want %q (body %s)", ct, contentTypeJSON, r.body)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if e.Error == "" || e.Message == "" {
		t.Fatalf("error body %s lacks error or message", r.body)
	}
	return e
}

type reqOpt func(*http.Request)

func withAuth(r *http.Request) { r.SetBasicAuth(testUser, testPass) }

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func (h *harness) do(method, path string, body []byte, opts ...reqOpt) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("request: %v", err)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// admin sends an authenticated admin request with v as JSON (nil: empty body).
func (h *harness) admin(method, path string, v any) reply {
	h.t.Helper()
	var body []byte
	switch b := v.(type) {
	case nil:
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
	}
	return h.do(method, path, body, withAuth)
}

// upload stores an artifact and returns its digest.
func (h *harness) upload(content string) string {
	h.t.Helper()
	r := h.admin(http.MethodPost, "/system/artifacts", []byte(content))
	if r.status != http.StatusCreated {
		h.t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var a ArtifactStatus
	if err := json.Unmarshal(r.body, &a); err != nil {
		h.t.Fatalf("upload answer %s: %v", r.body, err)
	}
	return a.Digest
}

// deploy creates name from an artifact holding content; it must succeed.
func (h *harness) deploy(name, content string, annotations, labels map[string]string) {
	h.t.Helper()
	d := FunctionDeployment{Service: name, Image: h.upload(content), Annotations: annotations, Labels: labels}
	if r := h.admin(http.MethodPost, "/system/functions", d); r.status != http.StatusAccepted {
		h.t.Fatalf("deploy %s: %d %s", name, r.status, r.body)
	}
}

// expectError checks an error answer: status, code, and a message fragment.
func expectError(t *testing.T, r reply, status int, code, fragment string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	e := r.errorBody(t)
	if e.Error != code {
		t.Errorf("error code = %q, want %q", e.Error, code)
	}
	if fragment != "" && !bytes.Contains([]byte(e.Message), []byte(fragment)) {
		t.Errorf("message %q lacks %q", e.Message, fragment)
	}
}
