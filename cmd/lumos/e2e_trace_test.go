package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
	"github.com/lumos-edge/lumos/profiler/jaegertest"
)

// Span names and the tree of issue 4's contract (the invoker.PhaseName values).
const (
	spanQueueWait    = "queue_wait"
	spanColdStart    = "cold_start"
	spanRequestWrite = "request_write"
	spanExecute      = "execute"
	spanResponseRead = "response_read"
)

// coldPhases are the phases of a start: under cold_start when the start is
// cold, directly under the server span otherwise (a container's cgi
// instance creates and starts a task for each request).
var coldPhases = []string{"compile", "cache_load", "instantiate", "container_create", "task_create", "task_start", "first_ready"}

// tracedMemory is the memory limit (limits.memory) of most traced
// deployments: faas.max_memory.
const tracedMemory = 64 << 20

var traceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestTraceEndToEnd runs `lumos serve` with tracing exported to a real
// Jaeger, over OTLP/HTTP and then OTLP/gRPC, invokes functions on every
// runtime cold and warm, with and without an incoming traceparent, and
// reads each trace back from Jaeger's query API by the X-Trace-Id the
// gateway answered, asserting the span tree, names and attributes.
func TestTraceEndToEnd(t *testing.T) {
	j := jaegertest.Start(t)
	bin := buildLumos(t)

	// The container runtime's cases need a private containerd; without one
	// they skip (fail under CI=true), the Wasm cases still run.
	ctdDir, err := os.MkdirTemp("", "lumos-trace-ctd-") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(ctdDir) })
	ctd, ctdErr := containerdtest.Start(ctdDir)
	socket := ctdDir + "/none.sock"
	if ctdErr == nil {
		t.Cleanup(ctd.Stop) // after every gateway's cleanup: instances go while containerd is up
		socket = ctd.Socket
	}
	images := &artifactCache{}

	for _, proto := range []struct{ name, endpoint string }{
		{"http/protobuf", j.OTLPHTTP},
		{"grpc", j.OTLPGRPC},
	} {
		t.Run(strings.ReplaceAll(proto.name, "/", "-"), func(t *testing.T) {
			service := "lumos-e2e-" + strings.ReplaceAll(proto.name, "/", "-")
			url := startTracedProcess(t, bin, socket, []string{
				"OTEL_EXPORTER_OTLP_ENDPOINT=" + proto.endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL=" + proto.name,
				"OTEL_SERVICE_NAME=" + service,
				"OTEL_BSP_SCHEDULE_DELAY=50", // milliseconds: spans reach Jaeger quickly
			})
			c := &client{base: url, user: "admin", pass: testPassword, http: &http.Client{Timeout: time.Minute}}
			tc := &traceCheck{j: j, base: url, service: service}

			for _, rt := range []string{"wasm-aot", "wasm-interp", "container"} {
				t.Run(rt, func(t *testing.T) {
					var hello, crash []byte
					if rt == "container" {
						containerdtest.Require(t, ctdErr)
						hello = images.get(t, "hello", func() []byte { return containerImage(t, "hello") })
						crash = images.get(t, "crash", func() []byte { return containerImage(t, "crash") })
					} else {
						hello, crash = bundled(t, "hello"), bundled(t, "crash")
					}
					short := strings.TrimPrefix(rt, "wasm-")
					ann := map[string]string{"lumos.runtime": rt, "lumos.abi": "loop"}
					deployTraced(t, c, "hello-a-"+short, hello, ann, "64Mi")
					deployTraced(t, c, "hello-b-"+short, hello, ann, "") // no limit: no faas.max_memory
					deployTraced(t, c, "crash-"+short, crash, ann, "64Mi")
					var wantCold []string // cold phases this runtime always has
					if rt == "container" {
						wantCold = []string{"container_create", "task_create", "task_start"}
					} else {
						wantCold = []string{"instantiate"}
					}

					// Every combination of cold or warm, and with or without
					// a caller's trace context; a function failing, and a
					// request refused before it reaches an instance.
					for _, k := range []call{
						{fn: "hello-a-" + short, start: "cold", maxMemory: tracedMemory},
						{fn: "hello-a-" + short, start: "warm", maxMemory: tracedMemory, parent: newParent(true)},
						{fn: "hello-b-" + short, start: "cold", parent: newParent(true)},
						{fn: "hello-b-" + short, start: "warm"},
						{fn: "crash-" + short, start: "cold", maxMemory: tracedMemory, status: 502, errorType: "function_error"},
						{fn: "hello-a-" + short, maxMemory: tracedMemory, status: 400, header: map[string]string{"X-Timeout": "soon"}},
					} {
						k.runtime, k.abi, k.wantCold = rt, "loop", wantCold
						if k.status == 0 {
							k.status = 200
						}
						tc.check(t, k)
					}
				})
			}

			// The function gets the server span's context, in either ABI:
			// wazero's wasi_env test program (not ours) prints its CGI
			// environment; testdata/headers answers the headers it got.
			for _, fc := range []struct {
				runtime, abi, mod string
			}{
				{"wasm-aot", "cgi", "wasi_env"},
				{"wasm-interp", "cgi", "wasi_env"},
				{"wasm-aot", "loop", "headers"},
				{"container", "loop", "headers"},
				{"container", "cgi", "headers"},
			} {
				t.Run("function-sees-traceparent/"+fc.runtime+"/"+fc.abi, func(t *testing.T) {
					var mod []byte
					switch {
					case fc.mod == "wasi_env":
						mod = thirdPartyModule(t, "cmd/wazero/testdata/wasi_env.wasm")
					case fc.runtime == "container":
						containerdtest.Require(t, ctdErr)
						mod = images.get(t, "headers-image", func() []byte { return headersFunction(t, "linux") })
					default:
						mod = images.get(t, "headers-wasm", func() []byte { return headersFunction(t, "wasip1") })
					}
					fn := "tp-" + strings.TrimPrefix(fc.runtime, "wasm-") + "-" + fc.abi
					deployTraced(t, c, fn, mod, map[string]string{"lumos.runtime": fc.runtime, "lumos.abi": fc.abi}, "64Mi")
					// The caller's unsampled context goes first: once the
					// traces after it are in Jaeger, its own would be too.
					unsampled := newParent(false)
					for _, p := range []*parent{unsampled, nil, newParent(true)} {
						k := call{fn: fn, runtime: fc.runtime, abi: fc.abi, status: 200, parent: p, maxMemory: tracedMemory}
						a, _, server := tc.check(t, k)
						got, state := seenContext(fc.mod, a.body)
						if p == unsampled {
							// Not sampled: a span of its own, flags 00, nothing exported.
							m := traceparentRE.FindStringSubmatch(got)
							if m == nil || m[1] != p.traceID || m[2] == p.spanID || m[2] == strings.Repeat("0", 16) || m[3] != "00" {
								t.Errorf("unsampled: the function saw traceparent %q, want 00-%s-<its own span>-00 (it got %q)", got, p.traceID, a.body)
							}
						} else if want := "00-" + server.TraceID + "-" + server.SpanID + "-01"; got != want {
							t.Errorf("the function saw traceparent %q, want %q (it got %q)", got, want, a.body)
						}
						if p != nil && state != p.state {
							t.Errorf("the function saw tracestate %q, want %q", state, p.state)
						}
					}
					tr, err := j.Lookup(context.Background(), unsampled.traceID)
					if !errors.Is(err, jaegertest.ErrNotFound) {
						t.Errorf("the caller did not sample trace %s, yet Jaeger has it (%v): %s", unsampled.traceID, err, describe(tr))
					}
				})
			}
		})
	}
}

// seenContext extracts the traceparent and tracestate a function reports
// in its answer: wasi_env's NUL-separated environment (HTTP_TRACEPARENT),
// or testdata/headers' "Name: value" lines.
func seenContext(mod string, body []byte) (parent, state string) {
	if mod == "wasi_env" {
		for _, kv := range strings.Split(string(body), "\x00") {
			switch k, v, _ := strings.Cut(kv, "="); k {
			case "HTTP_TRACEPARENT":
				parent = v
			case "HTTP_TRACESTATE":
				state = v
			}
		}
		return parent, state
	}
	for _, line := range strings.Split(string(body), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch strings.ToLower(k) {
		case "traceparent":
			parent = v
		case "tracestate":
			state = v
		}
	}
	return parent, state
}

// headersFunction builds testdata/headers for goos: a Wasm module for
// wasip1, an image tarball of a static binary for linux.
func headersFunction(t *testing.T, goos string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fn")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/headers")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos)
	if goos == "wasip1" {
		cmd.Env = append(cmd.Env, "GOARCH=wasm")
	} else {
		cmd.Env = append(cmd.Env, "GOARCH=amd64")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/headers for %s: %v\n%s", goos, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if goos == "wasip1" {
		return b
	}
	img, err := container.BuildImage(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

// parent is a caller's W3C trace context.
type parent struct {
	traceID, spanID, state string
	sampled                bool
}

// newParent returns a fresh caller context, sampled or not.
func newParent(sampled bool) *parent {
	b := make([]byte, 24)
	rand.Read(b)
	return &parent{traceID: hex.EncodeToString(b[:16]), spanID: hex.EncodeToString(b[16:]),
		state: "caller=t61rcWkgMzE", sampled: sampled}
}

// header is the traceparent header of p.
func (p *parent) header() string {
	flags := "00"
	if p.sampled {
		flags = "01"
	}
	return "00-" + p.traceID + "-" + p.spanID + "-" + flags
}

// call is one invocation to make and what its trace must show.
type call struct {
	fn, runtime, abi string
	start            string // X-Lumos-Start expected; "" accepts any
	status           int
	errorType        string            // error.type expected on a 5xx
	header           map[string]string // request headers
	maxMemory        int64             // faas.max_memory expected; 0: absent
	parent           *parent           // sent as traceparent and tracestate when not nil
	wantCold         []string          // phases cold_start must have (when cold)
}

// traceCheck invokes functions of one gateway and checks their traces.
type traceCheck struct {
	j       *jaegertest.Jaeger
	base    string
	service string
}

// check makes the call k, reads its trace from Jaeger and asserts the
// contract; it returns the answer, the trace and its server span (neither
// when the caller's context was not sampled).
func (tc *traceCheck) check(t *testing.T, k call) (answer, *jaegertest.Trace, jaegertest.Span) {
	t.Helper()
	body := []byte("ping")
	hdr := maps.Clone(k.header)
	if hdr == nil {
		hdr = map[string]string{}
	}
	if k.parent != nil {
		hdr["traceparent"] = k.parent.header()
		hdr["tracestate"] = k.parent.state
	}
	a := do(t, http.MethodPost, tc.base+"/function/"+k.fn, body, hdr)
	if a.status != k.status {
		t.Fatalf("%s: %d %q, want %d", k.fn, a.status, a.body, k.status)
	}
	start := a.header.Get("X-Lumos-Start")
	if k.start != "" && start != k.start {
		t.Fatalf("%s: X-Lumos-Start %q, want %q", k.fn, start, k.start)
	}
	traceID := a.header.Get("X-Trace-Id")
	if !traceIDRE.MatchString(traceID) || traceID == strings.Repeat("0", 32) {
		t.Fatalf("%s: X-Trace-Id %q, want 32 lowercase hex digits", k.fn, traceID)
	}
	if k.parent != nil && traceID != k.parent.traceID {
		t.Fatalf("%s: X-Trace-Id %s does not continue the caller's trace %s", k.fn, traceID, k.parent.traceID)
	}
	if k.parent != nil && !k.parent.sampled {
		return a, nil, jaegertest.Span{}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := tc.j.WaitTrace(ctx, traceID, func(tr *jaegertest.Trace) bool {
		s, ok := serverSpan(tr)
		if !ok {
			return false
		}
		if k.status != 200 {
			return true
		}
		kids := names(tr.Children(s.SpanID))
		return slices.Contains(kids, spanExecute) && slices.Contains(kids, spanRequestWrite) &&
			slices.Contains(kids, spanResponseRead) && (start != "cold" || slices.Contains(kids, spanColdStart))
	})
	if tr == nil {
		t.Fatalf("%s: trace %s never reached Jaeger: %v", k.fn, traceID, err)
	}
	if err != nil {
		t.Errorf("%s: %v (asserting on what arrived)", k.fn, err)
	}
	server, ok := serverSpan(tr)
	if !ok {
		t.Fatalf("%s: trace %s has no single SERVER span: %s", k.fn, traceID, describe(tr))
	}
	tc.checkServer(t, k, a, body, server)
	checkTree(t, k, start, tr, server, tc.service)
	if t.Failed() {
		t.Logf("trace %s: %s", traceID, describe(tr))
	}
	return a, tr, server
}

// checkServer asserts the server span's identity and attributes.
func (tc *traceCheck) checkServer(t *testing.T, k call, a answer, body []byte, s jaegertest.Span) {
	t.Helper()
	if s.Name != "POST /function/{name}" {
		t.Errorf("%s: server span named %q, want %q", k.fn, s.Name, "POST /function/{name}")
	}
	if s.Service != tc.service {
		t.Errorf("%s: service %q, want %q (OTEL_SERVICE_NAME)", k.fn, s.Service, tc.service)
	}
	if k.parent != nil {
		if s.ParentID != k.parent.spanID {
			t.Errorf("%s: server span's parent %q, want the caller's span %s", k.fn, s.ParentID, k.parent.spanID)
		}
	} else if s.ParentID != "" {
		t.Errorf("%s: server span has parent %s without a traceparent", k.fn, s.ParentID)
	}
	start := a.header.Get("X-Lumos-Start")
	want := map[string]any{
		"http.request.method":       "POST",
		"http.route":                "/function/{name}",
		"url.path":                  "/function/" + k.fn,
		"http.response.status_code": int64(k.status),
		"http.request.body.size":    int64(len(body)),
		"faas.trigger":              "http",
		"faas.invoked_name":         k.fn,
		"faas.invocation_id":        a.header.Get("X-Call-Id"),
		"faas.coldstart":            start == "cold",
		"lumos.runtime":             k.runtime,
		"lumos.abi":                 k.abi,
		"lumos.request.bytes":       int64(len(body)),
	}
	// Present only when they exist: an instance was leased, a limit was set.
	absent := []string{}
	if start != "" {
		want["lumos.start"] = start
		want["faas.instance"] = a.header.Get("X-Lumos-Instance")
	} else {
		absent = append(absent, "lumos.start", "faas.instance")
	}
	if k.maxMemory != 0 {
		want["faas.max_memory"] = k.maxMemory
	} else {
		absent = append(absent, "faas.max_memory")
	}
	// What the function answered: nothing when the answer is the gateway's error.
	if k.status == 200 {
		want["lumos.response.bytes"] = int64(len(a.body))
		want["http.response.body.size"] = int64(len(a.body))
	} else {
		want["lumos.response.bytes"] = int64(0)
		want["http.response.body.size"] = int64(len(a.body)) // the gateway's error body
	}
	for key, w := range want {
		if got, ok := s.Tags[key]; !ok || got != w {
			t.Errorf("%s: server span attribute %s = %#v, want %#v", k.fn, key, got, w)
		}
	}
	for _, key := range absent {
		if got, ok := s.Tags[key]; ok {
			t.Errorf("%s: server span attribute %s = %#v, want none", k.fn, key, got)
		}
	}
	failed := s.Tags["otel.status_code"] == "ERROR"
	if k.status >= 500 {
		if !failed {
			t.Errorf("%s: a %d answer, but the span status is %#v, want ERROR", k.fn, k.status, s.Tags["otel.status_code"])
		}
		if et := s.Tags["error.type"]; et != k.errorType {
			t.Errorf("%s: a %d answer with error.type %#v, want %q", k.fn, k.status, et, k.errorType)
		}
		if !slices.Contains(s.Events, "exception") {
			t.Errorf("%s: a %d answer without a recorded error (events %q)", k.fn, k.status, s.Events)
		}
	} else {
		if failed || s.Tags["error"] == true {
			t.Errorf("%s: a %d answer with an error status: %v", k.fn, k.status, s.Tags)
		}
		if _, ok := s.Tags["error.type"]; ok {
			t.Errorf("%s: a %d answer with error.type %v", k.fn, k.status, s.Tags["error.type"])
		}
	}
}

// checkTree asserts the INTERNAL spans under the server span: phase
// names, cold_start and its children exactly when the start was cold,
// every child within its parent, no stray span.
func checkTree(t *testing.T, k call, start string, tr *jaegertest.Trace, server jaegertest.Span, service string) {
	t.Helper()
	direct := tr.Children(server.SpanID)
	allowed := []string{spanQueueWait, spanColdStart, spanRequestWrite, spanExecute, spanResponseRead}
	if start != "cold" {
		allowed = append(allowed, coldPhases...)
	}
	seen := map[string]int{}
	for _, s := range direct {
		seen[s.Name]++
		if !slices.Contains(allowed, s.Name) {
			t.Errorf("%s: unexpected child %q of the server span", k.fn, s.Name)
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s: %d %q spans, want at most one", k.fn, n, name)
		}
	}
	if start == "" && len(direct) > 0 {
		t.Errorf("%s: refused before an instance was leased, yet phases %q", k.fn, names(direct))
	}
	if k.status < 400 {
		for _, name := range []string{spanRequestWrite, spanExecute, spanResponseRead} {
			if seen[name] != 1 {
				t.Errorf("%s: no %q child of the server span", k.fn, name)
			}
		}
		// The phases run in this order.
		var prev jaegertest.Span
		for i, name := range []string{spanRequestWrite, spanExecute, spanResponseRead} {
			s := named(direct, name)
			if i > 0 && s.Start.Before(prev.Start) {
				t.Errorf("%s: %s starts before %s", k.fn, name, prev.Name)
			}
			prev = s
		}
	}

	var coldKids []jaegertest.Span
	switch cs := named(direct, spanColdStart); {
	case start == "cold" && cs.SpanID == "":
		t.Errorf("%s: a cold start without a %s span", k.fn, spanColdStart)
	case start != "cold" && cs.SpanID != "":
		t.Errorf("%s: a %s start with a %s span", k.fn, start, spanColdStart)
	case cs.SpanID != "":
		coldKids = tr.Children(cs.SpanID)
		if len(coldKids) == 0 {
			t.Errorf("%s: %s has no phase children", k.fn, spanColdStart)
		}
		for _, s := range coldKids {
			if !slices.Contains(coldPhases, s.Name) {
				t.Errorf("%s: %q under %s is not a cold-start phase", k.fn, s.Name, spanColdStart)
			}
			within(t, k.fn, s, cs)
		}
		for _, name := range k.wantCold {
			if !slices.Contains(names(coldKids), name) {
				t.Errorf("%s: %s lacks %q (has %q)", k.fn, spanColdStart, name, names(coldKids))
			}
		}
	}

	for _, s := range direct {
		within(t, k.fn, s, server)
	}
	for _, s := range tr.Spans {
		if s.SpanID != server.SpanID && s.Kind != "internal" {
			t.Errorf("%s: span %q of kind %q, want internal", k.fn, s.Name, s.Kind)
		}
		if s.Service != service || s.TraceID != server.TraceID {
			t.Errorf("%s: span %q in service %q trace %s", k.fn, s.Name, s.Service, s.TraceID)
		}
	}
	if want := 1 + len(direct) + len(coldKids); len(tr.Spans) != want {
		t.Errorf("%s: %d spans in the trace, want %d (the server span, its children, cold_start's children)", k.fn, len(tr.Spans), want)
	}
}

// within asserts that child lies inside parent. Jaeger keeps microseconds:
// its start and duration are each truncated, so an end may read up to 2 us
// early and a child ending with its parent may seem to end after it.
func within(t *testing.T, fn string, child, parent jaegertest.Span) {
	t.Helper()
	const resolution = 2 * time.Microsecond
	if child.Start.Before(parent.Start) || child.End().After(parent.End().Add(resolution)) {
		t.Errorf("%s: %s [%v, +%v] is not within %s [%v, +%v]", fn, child.Name, child.Start.Format(time.StampMicro),
			child.Duration, parent.Name, parent.Start.Format(time.StampMicro), parent.Duration)
	}
}

// serverSpan returns the trace's only span of kind server.
func serverSpan(tr *jaegertest.Trace) (jaegertest.Span, bool) {
	var found []jaegertest.Span
	for _, s := range tr.Spans {
		if s.Kind == "server" {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		return jaegertest.Span{}, false
	}
	return found[0], true
}

func named(spans []jaegertest.Span, name string) jaegertest.Span {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return jaegertest.Span{}
}

func names(spans []jaegertest.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// describe renders a trace as an indented tree for failure messages.
func describe(tr *jaegertest.Trace) string {
	if tr == nil {
		return "(no trace)"
	}
	var b strings.Builder
	var walk func(parent string, depth int)
	ids := map[string]bool{}
	for _, s := range tr.Spans {
		ids[s.SpanID] = true
	}
	walk = func(parent string, depth int) {
		for _, s := range tr.Children(parent) {
			b.WriteString("\n" + strings.Repeat("  ", depth) + s.Name + " (" + s.Kind + ", " + s.Duration.String() + ")")
			walk(s.SpanID, depth+1)
		}
	}
	for _, s := range tr.Spans { // roots: no parent, or a parent outside the trace
		if s.ParentID == "" || !ids[s.ParentID] {
			b.WriteString("\n" + s.Name + " (" + s.Kind + ", " + s.Duration.String() + ")")
			walk(s.SpanID, 1)
		}
	}
	return b.String()
}

// deployTraced uploads mod and deploys it as name with the memory limit
// memory ("" sets none).
func deployTraced(t *testing.T, c *client, name string, mod []byte, ann map[string]string, memory string) {
	t.Helper()
	ctx := context.Background()
	var art struct {
		Digest string `json:"digest"`
	}
	if err := c.do(ctx, http.MethodPost, "/system/artifacts", bytes.NewReader(mod), "application/octet-stream", &art); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	d := gateway.FunctionDeployment{Service: name, Image: art.Digest, Annotations: ann}
	if memory != "" {
		d.Limits = &gateway.FunctionResources{Memory: memory}
	}
	if err := c.doJSON(ctx, http.MethodPost, "/system/functions", d, nil); err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
}

// artifactCache builds each artifact once for the whole test.
type artifactCache struct {
	mu   sync.Mutex
	made map[string][]byte
}

// get returns the artifact called key, made by build the first time.
func (c *artifactCache) get(t *testing.T, key string, build func() []byte) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.made == nil {
		c.made = map[string][]byte{}
	}
	if c.made[key] == nil {
		c.made[key] = build()
	}
	return c.made[key]
}

// startTracedProcess runs `lumos serve` with the given OTEL_* environment
// (and none inherited) and returns its URL once it serves. At cleanup it
// is stopped with SIGTERM, so it flushes its spans and deletes its
// container instances.
func startTracedProcess(t *testing.T, bin, containerd string, otelEnv []string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--admin-password", testPassword, "--bundled=false", "--containerd", containerd, "--log-level", "warn")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, otelEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("lumos serve exited: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("lumos serve did not stop on SIGTERM\n%s", stderr.String())
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-exited:
		exited <- err
		t.Fatalf("lumos serve exited: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("lumos serve did not start\n%s", stderr.String())
	}
	return ""
}

// lockedBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
