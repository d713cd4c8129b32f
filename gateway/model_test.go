package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// fakeModel is a Model of function fields, recording what it was asked.
type fakeModel struct {
	mu         sync.Mutex
	asked      []string // "name bytes" per Function call
	imported   [][]byte // POST: merged
	replaced   [][]byte // PUT
	known      map[string]bool
	exportErr  error
	importErr  error
	exportData []byte
	forgotten  []string
}

func (m *fakeModel) Forget(function string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgotten = append(m.forgotten, function)
}

func (m *fakeModel) forgets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.forgotten)
}

func (m *fakeModel) Overview() any { return map[string]any{"functions": 2} }

func (m *fakeModel) Function(name string, n int) (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, name+" "+strconv.Itoa(n))
	if !m.known[name] {
		return nil, false
	}
	return map[string]any{"function": name, "bytes": n}, true
}

func (m *fakeModel) Export() ([]byte, error) { return m.exportData, m.exportErr }

func (m *fakeModel) Import(data []byte) error {
	if m.importErr != nil {
		return m.importErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.imported = append(m.imported, bytes.Clone(data))
	return nil
}

func (m *fakeModel) Replace(data []byte) error {
	if m.importErr != nil {
		return m.importErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replaced = append(m.replaced, bytes.Clone(data))
	return nil
}

func TestModelRoutes(t *testing.T) {
	m := &fakeModel{known: map[string]bool{"f": true}, exportData: []byte(`{"version":1}`)}
	h := newHarness(t, func(c *Config) {
		c.Model = m
		c.MaxBodyBytes = 1 << 10
		c.MaxArtifactBytes = 1 << 20
	})

	// Auth, as every /system route.
	for _, path := range []string{"/system/model", "/system/model/f", "/system/model-snapshot"} {
		expectError(t, h.do(http.MethodGet, path, nil), 401, codeUnauthorized, "")
	}

	r := h.admin(http.MethodGet, "/system/model", nil)
	if r.status != 200 || r.header.Get("Content-Type") != contentTypeJSON || string(r.body) != `{"functions":2}` {
		t.Errorf("overview: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}

	for _, tt := range []struct {
		query  string
		status int
		asked  string
	}{
		{"", 200, "f 1024"}, {"?bytes=0", 200, "f 0"}, {"?bytes=65536", 200, "f 65536"},
		{"?bytes=1073741824", 200, "f 1073741824"},
		{"?bytes=1073741825", 400, ""}, {"?bytes=-1", 400, ""}, {"?bytes=abc", 400, ""}, {"?bytes=", 400, ""},
		{"?bytes=1.5", 400, ""}, {"?bytes=99999999999999999999", 400, ""},
	} {
		m.mu.Lock()
		m.asked = nil
		m.mu.Unlock()
		r := h.admin(http.MethodGet, "/system/model/f"+tt.query, nil)
		if tt.status != 200 {
			expectError(t, r, tt.status, codeBadRequest, "bytes")
			continue
		}
		var doc map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &doc) != nil || doc["function"] != "f" {
			t.Errorf("%s: %d %s", tt.query, r.status, r.body)
		}
		m.mu.Lock()
		if len(m.asked) != 1 || m.asked[0] != tt.asked {
			t.Errorf("%s: model asked %v, want %q", tt.query, m.asked, tt.asked)
		}
		m.mu.Unlock()
	}
	expectError(t, h.admin(http.MethodGet, "/system/model/nobody", nil), 404, codeNotFound, `"nobody"`)
	expectError(t, h.admin(http.MethodGet, "/system/model/", nil), 404, codeNotFound, "")

	r = h.admin(http.MethodGet, "/system/model-snapshot", nil)
	if r.status != 200 || r.header.Get("Content-Type") != contentTypeJSON || string(r.body) != `{"version":1}` {
		t.Errorf("export: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	// A snapshot may be larger than an invocation body, with credentials only.
	big := []byte(`{"pad":"` + strings.Repeat("x", 4<<10) + `"}`)
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		if r := h.admin(method, "/system/model-snapshot", big); r.status != http.StatusNoContent {
			t.Errorf("%s snapshot: %d %s", method, r.status, r.body)
		}
	}
	m.mu.Lock()
	// PUT replaces the model (idempotent), POST merges into it.
	if len(m.imported) != 1 || !bytes.Equal(m.imported[0], big) || len(m.replaced) != 1 || !bytes.Equal(m.replaced[0], big) {
		t.Errorf("merged %d snapshots and replaced with %d; want one each", len(m.imported), len(m.replaced))
	}
	m.mu.Unlock()
	expectError(t, h.do(http.MethodPut, "/system/model-snapshot", big), 413, codeTooLarge, "")
	expectError(t, h.admin(http.MethodPut, "/system/model-snapshot", nil), 400, codeBadRequest, "empty model snapshot")
	m.importErr = errors.New("snapshot version 9 is not supported")
	expectError(t, h.admin(http.MethodPut, "/system/model-snapshot", []byte(`{"version":9}`)), 400, codeBadRequest, "version 9 is not supported")
	m.exportErr = errors.New("disk on fire")
	expectError(t, h.admin(http.MethodGet, "/system/model-snapshot", nil), 500, codeInternal, "disk on fire")

	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodPost, "/system/model", "GET"},
		{http.MethodDelete, "/system/model/f", "GET"},
		{http.MethodDelete, "/system/model-snapshot", "GET, PUT, POST"},
	} {
		r := h.admin(tt.method, tt.path, nil)
		expectError(t, r, 405, codeMethodNotAllowed, "")
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	expectError(t, h.admin(http.MethodGet, "/system/models", nil), 404, codeNotFound, "no route")
}

func TestModelDisabled(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/system/model"}, {http.MethodGet, "/system/model/f?bytes=1"},
		{http.MethodGet, "/system/model-snapshot"}, {http.MethodPut, "/system/model-snapshot"},
		{http.MethodDelete, "/system/model"},
	} {
		expectError(t, h.admin(tt.method, tt.path, []byte(`{}`)), 404, codeNotFound, "model disabled")
	}
}

// FuzzModelBytes: the bytes parameter is accepted exactly when it is a
// decimal integer in [0, 1 GiB], else refused naming it.
func FuzzModelBytes(f *testing.F) {
	for _, s := range []string{"0", "1024", "1073741824", "1073741825", "-1", "abc", "", "+5", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var args fasthttp.Args
		args.Set("bytes", s)
		n, err := modelBytes(&args)
		if err != nil {
			if !strings.Contains(err.Error(), "bytes") || !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		if n < 0 || n > maxModelBytes {
			t.Fatalf("%q: accepted %d", s, n)
		}
	})
}

// The gateway makes the model forget a function when it is removed and when
// an update changes its candidate runtimes, not on other updates (review 8).
func TestModelForget(t *testing.T) {
	m := &fakeModel{}
	rts := newAutoRuntimes()
	h := newHarness(t, rts.option(func(c *Config) { c.Model = m }))
	image := h.upload("v1")
	put := func(annotations map[string]string) {
		t.Helper()
		d := FunctionDeployment{Service: "f", Image: image, Annotations: annotations}
		if r := h.admin(http.MethodPut, "/system/functions", d); r.status != http.StatusAccepted {
			t.Fatalf("update: %d %s", r.status, r.body)
		}
	}
	h.deploy("f", "v1", onAuto, nil)
	put(onAuto) // same candidates
	if got := m.forgets(); len(got) != 0 {
		t.Fatalf("update with the same candidates forgot %v", got)
	}
	put(map[string]string{AnnotationRuntime: "wasm-interp"})
	if got := m.forgets(); !slices.Equal(got, []string{"f"}) {
		t.Fatalf("update from auto to one runtime: forgot %v, want [f]", got)
	}
	if r := h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "f"}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got := m.forgets(); !slices.Equal(got, []string{"f", "f"}) {
		t.Fatalf("after delete: forgot %v, want [f f]", got)
	}
	h.stop()
	rts.checkNoLeak(t)
}
