package jaegertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// otlpJSON is one OTLP/JSON export request (the OTLP specification's JSON
// encoding: ids in hex, 64-bit integers as strings): a server span with an
// error status and an exception event, and an internal child.
const otlpJSON = `{"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"jaegertest-svc"}}]},
  "scopeSpans":[{"scope":{"name":"jaegertest"},"spans":[
    {"traceId":"%[1]s","spanId":"%[2]s","name":"POST /function/{name}","kind":2,
     "startTimeUnixNano":"%[4]d","endTimeUnixNano":"%[5]d",
     "attributes":[
       {"key":"http.route","value":{"stringValue":"/function/{name}"}},
       {"key":"http.response.status_code","value":{"intValue":"502"}},
       {"key":"faas.coldstart","value":{"boolValue":true}},
       {"key":"ratio","value":{"doubleValue":0.5}}],
     "events":[{"timeUnixNano":"%[4]d","name":"exception",
       "attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}]}],
     "status":{"code":2,"message":"boom"}},
    {"traceId":"%[1]s","spanId":"%[3]s","parentSpanId":"%[2]s","name":"execute","kind":1,
     "startTimeUnixNano":"%[4]d","endTimeUnixNano":"%[5]d"}
  ]}]}]}`

// TestJaeger starts Jaeger, sends it a trace over OTLP/HTTP with nothing
// but net/http, and reads the trace back through the query API.
func TestJaeger(t *testing.T) {
	t.Parallel()
	j := Start(t)

	// A trace id whose high half starts with zeros: Jaeger's API drops them.
	const traceID, rootID, childID = "00000000000000aa0102030405060708", "1111111111111111", "2222222222222222"
	start := time.Now().Add(-time.Second).Truncate(time.Microsecond)
	end := start.Add(1500 * time.Microsecond)
	body := fmt.Sprintf(otlpJSON, traceID, rootID, childID, start.UnixNano(), end.UnixNano())
	resp, err := http.Post(j.OTLPHTTP+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP export: %s", resp.Status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := j.WaitTrace(ctx, traceID, func(tr *Trace) bool { return len(tr.Spans) == 2 })
	if err != nil {
		t.Fatalf("%v\n%s", err, j.logTail())
	}
	if tr.ID != traceID {
		t.Errorf("trace id %q, want %q", tr.ID, traceID)
	}
	root, ok := tr.Span(rootID)
	if !ok {
		t.Fatalf("no span %s in %+v", rootID, tr.Spans)
	}
	if root.Name != "POST /function/{name}" || root.Kind != "server" || root.ParentID != "" ||
		root.Service != "jaegertest-svc" || root.TraceID != traceID {
		t.Errorf("root span %+v", root)
	}
	if !root.Start.Equal(start) || root.Duration != 1500*time.Microsecond || !root.End().Equal(end) {
		t.Errorf("root span times %v + %v, want %v + 1.5ms", root.Start, root.Duration, start)
	}
	for k, want := range map[string]any{
		"http.route":                "/function/{name}",
		"http.response.status_code": int64(502),
		"faas.coldstart":            true,
		"ratio":                     0.5,
		"otel.status_code":          "ERROR",
		"otel.status_description":   "boom",
		"error":                     true,
	} {
		if got := root.Tags[k]; got != want {
			t.Errorf("tag %s = %#v, want %#v", k, got, want)
		}
	}
	if !slices.Contains(root.Events, "exception") {
		t.Errorf("events %q lack the exception", root.Events)
	}
	kids := tr.Children(rootID)
	if len(kids) != 1 || kids[0].SpanID != childID || kids[0].Name != "execute" || kids[0].Kind != "internal" {
		t.Errorf("children of the root: %+v", kids)
	}
	if got := tr.Named("execute"); len(got) != 1 {
		t.Errorf("Named(execute) = %+v", got)
	}

	if _, err := j.Lookup(context.Background(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of an unknown trace: %v, want ErrNotFound", err)
	}
	// An unknown trace is not found until the context ends.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := j.Trace(short, "0123456789abcdef0123456789abcdef"); err == nil {
		t.Error("an unknown trace was found")
	}

	checkLoopbackOnly(t, j)
}

// checkLoopbackOnly asserts that every TCP socket Jaeger listens on is
// bound to 127.0.0.1 and that its five configured endpoints are among them
// (Linux /proc).
func checkLoopbackOnly(t *testing.T, j *Jaeger) {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", j.Pid()))
	if err != nil {
		t.Logf("cannot list Jaeger's sockets: %v", err)
		return
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", j.Pid()), fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var listening []string
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", j.Pid(), f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] { // 0A: LISTEN
				continue
			}
			listening = append(listening, procAddr(fields[1]))
		}
	}
	for _, a := range listening {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("Jaeger listens on %s, not loopback (all: %v)", a, listening)
		}
	}
	for _, u := range []string{j.OTLPHTTP, j.OTLPGRPC, j.Query, j.Health} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(listening, pu.Host) {
			t.Errorf("nothing listens on %s (listening: %v)", pu.Host, listening)
		}
	}
	if len(listening) != 5 { // OTLP gRPC and HTTP, query HTTP and gRPC, health
		t.Errorf("Jaeger listens on %d sockets, want the 5 configured: %v", len(listening), listening)
	}
}

// procAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv4 in host byte order, little-endian here); IPv6 addresses stay hex.
func procAddr(s string) string {
	host, port, _ := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if len(host) != 8 {
		return host + ":" + strconv.FormatUint(p, 10)
	}
	n, _ := strconv.ParseUint(host, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", n&0xff, n>>8&0xff, n>>16&0xff, n>>24, p)
}

// TestParseTraces decodes a recorded query answer: ids padded, tags typed,
// the parent taken from the CHILD_OF reference.
func TestParseTraces(t *testing.T) {
	const answer = `{"data":[{"traceID":"abc","spans":[
	  {"traceID":"abc","spanID":"1","operationName":"child","startTime":1000,"duration":5,
	   "references":[{"refType":"FOLLOWS_FROM","traceID":"abc","spanID":"9"},{"refType":"CHILD_OF","traceID":"abc","spanID":"2"}],
	   "tags":[{"key":"n","type":"int64","value":7},{"key":"b","type":"bool","value":false},{"key":"s","type":"string","value":"x"}],
	   "logs":[{"timestamp":1000,"fields":[{"key":"event","type":"string","value":"exception"}]}],"processID":"p1"}],
	 "processes":{"p1":{"serviceName":"lumos","tags":[]}}}],"errors":null}`
	ts, err := parseTraces([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || len(ts[0].Spans) != 1 {
		t.Fatalf("%+v", ts)
	}
	s := ts[0].Spans[0]
	if ts[0].ID != strings.Repeat("0", 29)+"abc" || s.SpanID != "0000000000000001" || s.ParentID != "0000000000000002" {
		t.Errorf("ids: trace %s span %s parent %s", ts[0].ID, s.SpanID, s.ParentID)
	}
	if s.Tags["n"] != int64(7) || s.Tags["b"] != false || s.Tags["s"] != "x" || s.Service != "lumos" ||
		!slices.Equal(s.Events, []string{"exception"}) || s.Duration != 5*time.Microsecond || s.Start.UnixMicro() != 1000 {
		t.Errorf("span %+v", s)
	}

	for _, bad := range []string{
		`not json`,
		`{"data":null,"errors":[{"code":500,"msg":"storage down"}]}`,
		`{"data":[{"traceID":"a","spans":[{"tags":[{"key":"n","type":"int64","value":"seven"}]}]}]}`,
	} {
		if _, err := parseTraces([]byte(bad)); err == nil {
			t.Errorf("parseTraces(%s) succeeded", bad)
		}
	}
}

// FuzzParseTraces feeds arbitrary bytes to the query answer parser: it
// returns an error or traces, never panics.
func FuzzParseTraces(f *testing.F) {
	f.Add([]byte(`{"data":[{"traceID":"abc","spans":[{"spanID":"1","tags":[{"key":"n","type":"int64","value":7}]}]}]}`))
	f.Add([]byte(`{"data":[],"errors":[{"code":1,"msg":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := parseTraces(b)
		if err != nil {
			return
		}
		for _, tr := range ts {
			if len(tr.ID) < 32 {
				t.Fatalf("trace id %q not padded", tr.ID)
			}
		}
	})
}

// TestPinnedVersion reads the version from the tool module's go.mod.
func TestPinnedVersion(t *testing.T) {
	mod, err := toolModule()
	if err != nil {
		t.Fatal(err)
	}
	v, err := pinnedVersion(filepath.Join(mod, "go.mod"))
	if err != nil || !strings.HasPrefix(v, "v1.") {
		t.Fatalf("pinned version %q, %v", v, err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ gomod, want string }{
		{"module m\nrequire github.com/jaegertracing/jaeger v1.2.3\n", "v1.2.3"},
		{"module m\nrequire (\n\tgithub.com/jaegertracing/jaeger-idl v0.6.0\n\tgithub.com/jaegertracing/jaeger v1.76.0 // indirect\n)\n", "v1.76.0"},
		{"module m\nrequire github.com/jaegertracing/jaeger-idl v0.6.0\n", ""},
	} {
		p := filepath.Join(dir, "go.mod")
		if err := os.WriteFile(p, []byte(tc.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := pinnedVersion(p)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("pinnedVersion(%q) = %q, %v; want %q", tc.gomod, got, err, tc.want)
		}
	}
}

// TestLockFile: a second locker waits until the first unlocks.
func TestLockFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := lockFile(p)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a second lock was granted while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	(<-got)()
}

// TestBinary builds (or finds) the pinned Jaeger and runs it once: .ci/test
// runs it first, so that the cold build stands apart from the tests.
func TestBinary(t *testing.T) {
	bin := requireBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	t.Logf("%s: %s", bin, bytes.TrimSpace(out))
}
