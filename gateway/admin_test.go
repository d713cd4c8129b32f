package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/gateway/store"
)

func TestAuth(t *testing.T) {
	h := newHarness(t)
	basic := func(u, p string) reqOpt {
		return withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	tests := []struct {
		name string
		opt  reqOpt
		want int
	}{
		{"none", func(*http.Request) {}, http.StatusUnauthorized},
		{"basic right", basic(testUser, testPass), http.StatusOK},
		{"basic wrong password", basic(testUser, "nope"), http.StatusUnauthorized},
		{"basic wrong user", basic("root", testPass), http.StatusUnauthorized},
		{"basic no colon", withHeader("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testUser+testPass))), http.StatusUnauthorized},
		{"basic not base64", withHeader("Authorization", "Basic !!!"), http.StatusUnauthorized},
		{"bearer right", withHeader("Authorization", "Bearer "+testPass), http.StatusOK},
		{"bearer lower-case scheme", withHeader("Authorization", "bearer "+testPass), http.StatusOK},
		{"bearer wrong", withHeader("Authorization", "Bearer "+testPass+"x"), http.StatusUnauthorized},
		{"bearer empty", withHeader("Authorization", "Bearer "), http.StatusUnauthorized},
		{"other scheme", withHeader("Authorization", "Digest "+testPass), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodGet, "/system/functions", nil, tt.opt)
			if tt.want == http.StatusUnauthorized {
				expectError(t, r, http.StatusUnauthorized, codeUnauthorized, "credentials")
				if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="lumos"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d (%s)", r.status, tt.want, r.body)
			}
		})
	}
	// Unprotected routes.
	if r := h.do(http.MethodGet, "/healthz", nil); r.status != http.StatusOK || string(r.body) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", r.status, r.body)
	}
	h.deploy("open", "v1", nil, nil)
	if r := h.do(http.MethodGet, "/function/open", nil); r.status != http.StatusOK {
		t.Errorf("invoke without credentials = %d %s", r.status, r.body)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := newHarness(t)
	good := h.cfg
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no runtimes", func(c *Config) { c.Runtimes = nil }},
		{"unknown default runtime", func(c *Config) { c.DefaultRuntime = "nope" }},
		{"no store", func(c *Config) { c.Store = nil }},
		{"no password", func(c *Config) { c.Credentials.Password = "" }},
		{"bad default pool", func(c *Config) { c.DefaultPool.MaxInstances = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mod(&cfg)
			if _, err := New(t.Context(), cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestFunctionLifecycle(t *testing.T) {
	h := newHarness(t)
	digest := h.upload("v1")
	d := FunctionDeployment{
		Service: "echo", Image: digest, Namespace: "openfaas-fn", EnvProcess: "ignored",
		EnvVars:     map[string]string{"GREETING": "hi"},
		Labels:      map[string]string{LabelScaleMin: "1", LabelScaleMax: "3", "team": "edge"},
		Annotations: map[string]string{AnnotationABI: "loop", AnnotationTimeout: "2s"},
		Limits:      &FunctionResources{Memory: "64Mi"},
	}
	r := h.admin(http.MethodPost, "/system/functions", d)
	if r.status != http.StatusAccepted {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	spec := h.rt.specs[len(h.rt.specs)-1]
	if spec.Name != "echo" || spec.ABI != "loop" || spec.Digest != digest || spec.Env["GREETING"] != "hi" || spec.MemoryLimit != 64<<20 {
		t.Errorf("spec = %+v", spec)
	}
	expectError(t, h.admin(http.MethodPost, "/system/functions", d), http.StatusConflict, codeConflict, "already exists")

	// GET one: OpenFaaS JSON field names.
	r = h.admin(http.MethodGet, "/system/function/echo", nil)
	if r.status != http.StatusOK {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "image", "namespace", "envProcess", "envVars", "labels", "annotations", "limits", "invocationCount", "replicas", "availableReplicas", "createdAt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status JSON lacks %q: %s", k, r.body)
		}
	}
	if raw["name"] != "echo" || raw["image"] != digest || raw["replicas"].(float64) < 1 {
		t.Errorf("status = %s", r.body)
	}
	if raw["limits"].(map[string]any)["memory"] != "64Mi" {
		t.Errorf("limits = %v", raw["limits"])
	}

	// Invoke twice, then the count shows in the list.
	for range 2 {
		if r := h.do(http.MethodGet, "/function/echo", nil); r.status != http.StatusOK {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
	}
	r = h.admin(http.MethodGet, "/system/functions", nil)
	var list []FunctionStatus
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 {
		t.Fatalf("list = %s (%v)", r.body, err)
	}
	if list[0].InvocationCount != 2 || list[0].Labels["team"] != "edge" {
		t.Errorf("listed = %+v", list[0])
	}

	// PUT: update in place; PUT of a missing function is 404.
	d.Image = h.upload("v2")
	if r := h.admin(http.MethodPut, "/system/functions", d); r.status != http.StatusAccepted {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := h.do(http.MethodGet, "/function/echo", nil); r.header.Get("X-Version") != "v2" {
		t.Errorf("after update X-Version = %q", r.header.Get("X-Version"))
	}
	missing := d
	missing.Service = "ghost"
	expectError(t, h.admin(http.MethodPut, "/system/functions", missing), http.StatusNotFound, codeNotFound, "ghost")

	// DELETE, then 404 everywhere.
	if r := h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "echo"}); r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	expectError(t, h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "echo"}), http.StatusNotFound, codeNotFound, "echo")
	expectError(t, h.admin(http.MethodGet, "/system/function/echo", nil), http.StatusNotFound, codeNotFound, "echo")
	expectError(t, h.do(http.MethodGet, "/function/echo", nil), http.StatusNotFound, codeNotFound, "echo")
}

func TestDeployErrors(t *testing.T) {
	h := newHarness(t)
	good := h.upload("good")
	bad := h.upload("bad module")
	unavailable := h.upload("unavailable")
	tests := []struct {
		name     string
		body     any
		status   int
		code     string
		fragment string
	}{
		{"not JSON", []byte("{"), 400, codeBadRequest, "deployment JSON"},
		{"bad name", FunctionDeployment{Service: "Bad_Name", Image: good}, 400, codeBadRequest, "service"},
		{"bad digest", FunctionDeployment{Service: "f", Image: "sha256:zz"}, 400, codeBadRequest, "image"},
		{"no image", FunctionDeployment{Service: "f"}, 400, codeBadRequest, "image"},
		{"image with a space", FunctionDeployment{Service: "f", Image: "alpine latest"}, 400, codeBadRequest, "image reference"},
		{"image the runtime lacks", FunctionDeployment{Service: "f", Image: "alpine:latest"}, 400, codeBadRequest, `"alpine:latest"`},
		{"unknown artifact", FunctionDeployment{Service: "f", Image: "sha256:" + strings.Repeat("0", 64)}, 400, codeBadRequest, "no artifact"},
		{"bad module", FunctionDeployment{Service: "f", Image: bad}, 400, codeBadRequest, "magic header missing"},
		{"runtime unavailable", FunctionDeployment{Service: "f", Image: unavailable}, 503, codeUnavailable, "daemon down"},
		{"unknown runtime", FunctionDeployment{Service: "f", Image: good, Annotations: map[string]string{AnnotationRuntime: "jvm"}}, 400, codeBadRequest, AnnotationRuntime},
		{"bad abi", FunctionDeployment{Service: "f", Image: good, Annotations: map[string]string{AnnotationABI: "grpc"}}, 400, codeBadRequest, AnnotationABI},
		{"bad timeout", FunctionDeployment{Service: "f", Image: good, Annotations: map[string]string{AnnotationTimeout: "soon"}}, 400, codeBadRequest, AnnotationTimeout},
		{"bad memory", FunctionDeployment{Service: "f", Image: good, Limits: &FunctionResources{Memory: "lots"}}, 400, codeBadRequest, "memory"},
		{"bad max memory", FunctionDeployment{Service: "f", Image: good, Annotations: map[string]string{AnnotationMaxMemory: "-1Mi"}}, 400, codeBadRequest, AnnotationMaxMemory},
		{"bad min", FunctionDeployment{Service: "f", Image: good, Labels: map[string]string{LabelScaleMin: "x"}}, 400, codeBadRequest, LabelScaleMin},
		{"min over max", FunctionDeployment{Service: "f", Image: good, Labels: map[string]string{LabelScaleMin: "5", LabelScaleMax: "2"}}, 400, codeBadRequest, "MinWarm"},
		{"bad zero-duration", FunctionDeployment{Service: "f", Image: good, Labels: map[string]string{LabelScaleZeroDuration: "0s"}}, 400, codeBadRequest, "IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectError(t, h.admin(http.MethodPost, "/system/functions", tt.body), tt.status, tt.code, tt.fragment)
		})
	}
	// Nothing of the above was persisted or deployed.
	if fns, err := h.store.Functions(); err != nil || len(fns) != 0 {
		t.Errorf("stored functions = %v, %v", fns, err)
	}
}

// TestDeployImageReference: an image that is not a digest reaches the
// runtime as Spec.Image, with neither digest nor artifact, and survives a
// restart of the gateway.
func TestDeployImageReference(t *testing.T) {
	h := newHarness(t)
	d := FunctionDeployment{Service: "byname", Image: heldImage}
	if r := h.admin(http.MethodPost, "/system/functions", d); r.status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", r.status, r.body)
	}
	check := func() {
		t.Helper()
		r := h.do(http.MethodGet, "/function/byname", nil)
		if r.status != 200 || r.header.Get("X-Version") != "image "+heldImage {
			t.Fatalf("invoke: %d version %q", r.status, r.header.Get("X-Version"))
		}
	}
	check()
	h.rt.mu.Lock()
	spec := h.rt.specs[len(h.rt.specs)-1]
	h.rt.mu.Unlock()
	if spec.Image != heldImage || spec.Digest != "" || spec.Artifact != nil {
		t.Fatalf("spec image %q digest %q artifact set %v", spec.Image, spec.Digest, spec.Artifact != nil)
	}
	var st FunctionStatus
	r := h.admin(http.MethodGet, "/system/function/byname", nil)
	if err := json.Unmarshal(r.body, &st); err != nil || st.Image != heldImage {
		t.Fatalf("status image %q (%v)", st.Image, err)
	}
	h.stop()
	h.start()
	check()
}

func TestRoutesAndMethods(t *testing.T) {
	h := newHarness(t)
	h.deploy("f", "v1", nil, nil)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodPatch, "/system/functions", 405, codeMethodNotAllowed, "GET, POST, PUT, DELETE"},
		{http.MethodPost, "/system/function/f", 405, codeMethodNotAllowed, "GET"},
		{http.MethodGet, "/system/scale-function/f", 405, codeMethodNotAllowed, "POST"},
		{http.MethodPost, "/system/info", 405, codeMethodNotAllowed, "GET"},
		{http.MethodDelete, "/system/artifacts", 405, codeMethodNotAllowed, "GET, POST"},
		{http.MethodPost, "/healthz", 405, codeMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/system/nothing", 404, codeNotFound, ""},
		{http.MethodGet, "/elsewhere", 404, codeNotFound, ""},
		{http.MethodGet, "/function/", 404, codeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := h.do(tt.method, tt.path, nil, withAuth)
			expectError(t, r, tt.status, tt.code, "")
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	h := newHarness(t)
	r := h.admin(http.MethodGet, "/system/info", nil)
	var raw struct {
		Provider struct {
			Provider      string `json:"provider"`
			Orchestration string `json:"orchestration"`
			Version       struct {
				SHA     *string `json:"sha"`
				Release string  `json:"release"`
			} `json:"version"`
		} `json:"provider"`
		Version struct {
			Release string `json:"release"`
		} `json:"version"`
		Arch string `json:"arch"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || r.status != 200 {
		t.Fatalf("info = %d %s (%v)", r.status, r.body, err)
	}
	if raw.Provider.Provider != "lumos" || raw.Provider.Orchestration == "" || raw.Provider.Version.SHA == nil ||
		raw.Provider.Version.Release != "test" || raw.Version.Release != "test" || raw.Arch == "" {
		t.Errorf("info = %s", r.body)
	}
}

func TestArtifacts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxArtifactBytes = 4096; c.MaxBodyBytes = 1024 })
	r := h.admin(http.MethodPost, "/system/artifacts", []byte("hello"))
	var a ArtifactStatus
	if err := json.Unmarshal(r.body, &a); err != nil || r.status != http.StatusCreated {
		t.Fatalf("upload = %d %s (%v)", r.status, r.body, err)
	}
	// sha256("hello")
	if a.Digest != "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || a.Size != 5 {
		t.Errorf("upload = %+v", a)
	}
	r = h.admin(http.MethodGet, "/system/artifacts", nil)
	var list []ArtifactStatus
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) != 1 || list[0].Digest != a.Digest || list[0].Size != 5 || list[0].Created.IsZero() {
		t.Errorf("list = %s (%v)", r.body, err)
	}
	expectError(t, h.admin(http.MethodPost, "/system/artifacts", nil), 400, codeBadRequest, "empty")
	// Past MaxBodyBytes is fine for an artifact; past MaxArtifactBytes is 413 JSON.
	if r := h.admin(http.MethodPost, "/system/artifacts", make([]byte, 3000)); r.status != http.StatusCreated {
		t.Errorf("artifact of 3000 bytes = %d %s", r.status, r.body)
	}
	expectError(t, h.admin(http.MethodPost, "/system/artifacts", make([]byte, 5000)), 413, codeTooLarge, "exceeds")
	// Under the server limit and MaxArtifactBytes, but not through PutArtifact's check.
	if _, err := h.g.PutArtifact(make([]byte, 4097)); err == nil {
		t.Error("PutArtifact accepted an artifact past MaxArtifactBytes")
	}
}

func TestScale(t *testing.T) {
	h := newHarness(t)
	h.deploy("s", "v1", nil, map[string]string{LabelScaleMax: "3"})
	statusOf := func() FunctionStatus {
		var st FunctionStatus
		r := h.admin(http.MethodGet, "/system/function/s", nil)
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatalf("status %s: %v", r.body, err)
		}
		return st
	}
	if r := h.admin(http.MethodPost, "/system/scale-function/s", ScaleServiceRequest{ServiceName: "s", Replicas: 2}); r.status != http.StatusAccepted {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}
	if st := statusOf(); st.Replicas != 2 {
		t.Errorf("replicas after scale 2 = %d", st.Replicas)
	}
	v := h.g.current("s")
	if v.variants[0].pool.Config().MinWarm != 2 {
		t.Errorf("MinWarm = %d", v.variants[0].pool.Config().MinWarm)
	}
	// Above the maximum: clamped.
	h.admin(http.MethodPost, "/system/scale-function/s", ScaleServiceRequest{Replicas: 10})
	if got := h.g.current("s").variants[0].pool.Config().MinWarm; got != 3 {
		t.Errorf("MinWarm after scale 10 = %d, want 3", got)
	}
	// Scale to zero: a fresh pool with no instance, and the function still serves.
	if r := h.admin(http.MethodPost, "/system/scale-function/s", ScaleServiceRequest{Replicas: 0}); r.status != http.StatusAccepted {
		t.Fatalf("scale 0: %d %s", r.status, r.body)
	}
	if st := h.g.current("s").variants[0].pool.Stats(); st.Idle+st.Busy+st.Starting != 0 {
		t.Errorf("after scale 0: %+v", st)
	}
	if r := h.do(http.MethodGet, "/function/s", nil); r.status != 200 || r.header.Get("X-Lumos-Start") != "cold" {
		t.Errorf("invoke after scale 0: %d start=%q", r.status, r.header.Get("X-Lumos-Start"))
	}
	expectError(t, h.admin(http.MethodPost, "/system/scale-function/nope", ScaleServiceRequest{Replicas: 1}), 404, codeNotFound, "nope")
	expectError(t, h.admin(http.MethodPost, "/system/scale-function/s", ScaleServiceRequest{ServiceName: "t", Replicas: 1}), 400, codeBadRequest, "serviceName")
	expectError(t, h.admin(http.MethodPost, "/system/scale-function/s", []byte("[")), 400, codeBadRequest, "JSON")
}

func TestRestoreFromStore(t *testing.T) {
	h := newHarness(t)
	h.deploy("keep", "v1", nil, map[string]string{LabelScaleMax: "2"})
	h.deploy("lost", "v1", map[string]string{AnnotationRuntime: "other"}, nil)
	h.admin(http.MethodPost, "/system/scale-function/keep", ScaleServiceRequest{Replicas: 2})
	h.do(http.MethodGet, "/function/keep", nil)
	h.stop()

	// Restart without the "other" runtime: "lost" no longer loads and is skipped.
	h.start(func(c *Config) { delete(c.Runtimes, "other") })
	r := h.do(http.MethodGet, "/function/keep/x", nil)
	if r.status != http.StatusOK || r.header.Get("X-Version") != "v1" {
		t.Fatalf("restored invoke: %d %s", r.status, r.body)
	}
	if got := h.g.current("keep").variants[0].pool.Config().MinWarm; got != 2 {
		t.Errorf("restored MinWarm = %d, want the scaled 2", got)
	}
	expectError(t, h.do(http.MethodGet, "/function/lost", nil), 404, codeNotFound, "lost")
	// Its record stays in the store for when the runtime comes back.
	if _, err := h.store.Function("lost"); err != nil {
		t.Errorf("record of lost: %v", err)
	}
}

// panickyStore is the real store whose Artifacts panics.
type panickyStore struct {
	Store
}

func (panickyStore) Artifacts() ([]store.ArtifactInfo, error) { panic("store bug") }

func TestHandlerPanicIs500(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.start(func(c *Config) { c.Store = panickyStore{c.Store} })
	expectError(t, h.admin(http.MethodGet, "/system/artifacts", nil), 500, codeInternal, "store bug")
	// The gateway still serves.
	h.deploy("alive", "v1", nil, nil)
	if r := h.do(http.MethodGet, "/function/alive", nil); r.status != 200 {
		t.Errorf("after panic: %d %s", r.status, r.body)
	}
}
