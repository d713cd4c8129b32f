package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/profiler/model"
)

// record is what the model benchmarks keep of one invocation record.
type record struct {
	function, runtime string
	start             invoker.StartKind
	total             time.Duration
	execute, io       time.Duration // the execute phase; request_write + response_read
	requestBytes      int
	memory            int64
	failed            bool
}

// records collects a gateway's invocation records (serveOptions.observe).
type records struct {
	mu   sync.Mutex
	list []record
}

func (r *records) observe(inv *invoker.Invocation) {
	rec := record{function: inv.Function, runtime: inv.Runtime, start: inv.Start, total: inv.Total,
		execute:      inv.Phases.Get(invoker.PhaseExecute),
		io:           inv.Phases.Get(invoker.PhaseRequestWrite) + inv.Phases.Get(invoker.PhaseResponseRead),
		requestBytes: inv.RequestBytes, memory: inv.MemoryBytes, failed: inv.Err != nil}
	r.mu.Lock()
	r.list = append(r.list, rec)
	r.mu.Unlock()
}

// mark returns the number of records so far: since(mark) is what came after.
func (r *records) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

// since returns a copy of the records from index i on.
func (r *records) since(i int) []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list[i:])
}

// medianMs returns the median total, in milliseconds, of the records of
// function that pass keep, and how many there were.
func medianMs(recs []record, function string, keep func(record) bool) (float64, int) {
	return medianOf(recs, function, keep, func(r record) time.Duration { return r.total })
}

// medianOf is medianMs of the duration of each record that part returns.
func medianOf(recs []record, function string, keep func(record) bool, part func(record) time.Duration) (float64, int) {
	var ts []time.Duration
	for _, r := range recs {
		if r.function == function && !r.failed && keep(r) {
			ts = append(ts, part(r))
		}
	}
	if len(ts) == 0 {
		return 0, 0
	}
	slices.Sort(ts)
	return ms(ts[len(ts)/2]), len(ts)
}

// startModelBench starts a gateway for the model benchmarks: model on or
// off, metrics and traces off, no bundled functions, every record to rec.
// The caller closes it.
func startModelBench(b *testing.B, withModel bool, rec *records, tweak func(*serveOptions)) *server {
	b.Helper()
	o := serveOptions{
		addr: "127.0.0.1:0", dataDir: b.TempDir(), defaultRuntime: "wasm-aot",
		adminUser: "admin", adminPassword: "bench", maxBody: 16 << 20, maxArtifact: 128 << 20,
		defaultTimeout: 2 * time.Minute, maxTimeout: 5 * time.Minute, logLevel: "error", logOut: io.Discard,
		model: withModel, getenv: envMap(nil),
	}
	if rec != nil {
		o.observe = rec.observe
	}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := startServer(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// deployModule stores mod (a Wasm module or an image tarball) and deploys
// it as name with the annotations. The pseudo-annotation "limits.memory"
// is the deployment's memory limit.
func deployModule(b *testing.B, srv *server, name string, mod []byte, ann map[string]string) {
	b.Helper()
	digest, err := srv.gw.PutArtifact(mod)
	if err != nil {
		b.Fatal(err)
	}
	d := gateway.FunctionDeployment{Service: name, Image: digest, Annotations: maps.Clone(ann)}
	if m := ann[limitsMemory]; m != "" {
		d.Limits = &gateway.FunctionResources{Memory: m}
		delete(d.Annotations, limitsMemory)
	}
	if err := srv.gw.Deploy(context.Background(), d, false); err != nil {
		b.Fatalf("deploy %s: %v", name, err)
	}
}

// bundledABI returns the ABI the bundled function name is deployed with.
func bundledABI(b *testing.B, name string) string {
	b.Helper()
	for _, f := range functions.List() {
		if f.Name == name {
			return string(f.ABI)
		}
	}
	b.Fatalf("no bundled function %s", name)
	return ""
}

// bundledModule returns the bundled function's Wasm module.
func bundledModule(b *testing.B, name string) []byte {
	b.Helper()
	mod, err := functions.Wasm(name)
	if err != nil {
		b.Fatal(err)
	}
	return mod
}

// sampleFn is a bundled function driven by the model benchmarks: its
// request of about n bytes and the check of its answer.
type sampleFn struct {
	name  string
	query string
	body  func(n int) []byte
	check func(req, resp []byte) error
}

// limitsMemory is deployModule's pseudo-annotation for the memory limit.
const limitsMemory = "limits.memory"

// annotations are the deployment's annotations of fn on runtime: its ABI
// (loop in containers), and for json a memory limit that holds a decoded
// 1 MiB document (the default 128 MiB does not).
func (fn sampleFn) annotations(b *testing.B, runtime string) map[string]string {
	abi := bundledABI(b, fn.name)
	if runtime == "container" {
		abi = "loop"
	}
	ann := map[string]string{"lumos.runtime": runtime, "lumos.abi": abi}
	if fn.name == "json" {
		ann[limitsMemory] = "1Gi"
	}
	return ann
}

// with returns a copy of ann with the key-value pairs kv added.
func with(ann map[string]string, kv ...string) map[string]string {
	out := maps.Clone(ann)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// benchFibN is fib's n in the model benchmarks (its body is padding).
const benchFibN = 20

func sampleFns() []sampleFn {
	pad := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	return []sampleFn{
		{name: "hello", body: pad, check: func(_, resp []byte) error {
			if string(resp) != "Hello, world!\n" {
				return fmt.Errorf("hello answered %.80q", resp)
			}
			return nil
		}},
		{name: "echo", body: func(n int) []byte {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte('a' + i%26)
			}
			return p
		}, check: func(req, resp []byte) error {
			if !bytes.Equal(req, resp) {
				return fmt.Errorf("echo answered %d bytes for %d, not the same", len(resp), len(req))
			}
			return nil
		}},
		{name: "fib", query: fmt.Sprintf("n=%d", benchFibN), body: pad, check: func(_, resp []byte) error {
			if want := `{"number":20,"result":6765}`; !bytes.HasPrefix(resp, []byte(want)) {
				return fmt.Errorf("fib answered %.80q, want %s", resp, want)
			}
			return nil
		}},
		{name: "json", body: jsonDocument, check: func(req, resp []byte) error {
			if !bytes.HasPrefix(resp, []byte(`{"stats":{"objects":`)) || len(resp) < len(req) {
				return fmt.Errorf("json answered %d bytes for %d: %.80q", len(resp), len(req), resp)
			}
			return nil
		}},
	}
}

// jsonDocument returns a JSON document of about n bytes.
func jsonDocument(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"k%d":"value number %d","n":%d}`, i, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// caller invokes functions over HTTP, one call at a time.
type caller struct {
	c    *fasthttp.Client
	req  *fasthttp.Request
	resp *fasthttp.Response
}

func newCaller() *caller {
	return &caller{c: &fasthttp.Client{ReadTimeout: 5 * time.Minute, MaxResponseBodySize: 64 << 20},
		req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse()}
}

// call sends body (GET when nil) to url and returns the answer's body,
// valid until the next call, and the latency seen by the client. Any
// status but 200 is an error.
func (c *caller) call(url string, body []byte) ([]byte, time.Duration, error) {
	c.req.Reset()
	c.req.SetRequestURI(url)
	if body != nil {
		c.req.Header.SetMethod(fasthttp.MethodPost)
		c.req.SetBodyRaw(body)
	}
	t0 := time.Now()
	err := c.c.Do(c.req, c.resp)
	d := time.Since(t0)
	if err != nil {
		return nil, d, fmt.Errorf("%s: %w", url, err)
	}
	if c.resp.StatusCode() != 200 {
		return nil, d, fmt.Errorf("%s: %d %.200s", url, c.resp.StatusCode(), c.resp.Body())
	}
	return c.resp.Body(), d, nil
}

// invokeChecked calls fn's deployment name with body and checks the answer.
func (c *caller) invokeChecked(b *testing.B, base, name string, fn sampleFn, body []byte) time.Duration {
	b.Helper()
	url := base + "/function/" + name
	if fn.query != "" {
		url += "?" + fn.query
	}
	resp, d, err := c.call(url, body)
	if err != nil {
		b.Fatal(err)
	}
	if err := fn.check(body, resp); err != nil {
		b.Errorf("%s: %v", name, err)
	}
	return d
}

// runtimeDoc returns the model's document of function on runtime at bytes.
func runtimeDoc(b *testing.B, srv *server, function, runtime string, bytes int) model.RuntimeDoc {
	b.Helper()
	doc, ok := srv.model.Function(function, bytes)
	if !ok {
		b.Fatalf("the model has never seen %s", function)
	}
	for _, d := range doc.(model.FunctionDoc).Runtimes {
		if d.Runtime == runtime {
			return d
		}
	}
	b.Fatalf("the model has no runtime %s for %s", runtime, function)
	return model.RuntimeDoc{}
}
