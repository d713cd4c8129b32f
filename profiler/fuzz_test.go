package profiler

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
)

var traceParentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

// FuzzCallerTraceHeaders feeds Begin any caller's traceparent, tracestate
// and path, and Record any error text (bytes from the outside, a function's
// stderr): Begin must answer a well-formed trace context and continue the
// caller's trace id when the header is valid, and the spans must encode to
// a request that decodes (strings in valid UTF-8), with the path intact
// when it was valid.
func FuzzCallerTraceHeaders(f *testing.F) {
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "vendor=a,other=b", "/function/f/x", "trap")
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", "", "/function/f", "")
	f.Add("00-00000000000000000000000000000000-b7ad6b7169203331-01", "x", "/function/f/\xff\xfe", "stderr: \xc3\x28")
	f.Add("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "=,,=", "", "\x00")
	f.Add("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", strings.Repeat("k=v,", 40), "/function/é", "é")
	c := newMemClient()
	p, err := New(context.Background(), Config{TraceSender: c, DisableMetrics: true, Batch: BatchConfig{QueueSize: 1 << 20}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, parent, state, path, errText string) {
		inv := &invoker.Invocation{Function: "f", Runtime: "wasm-aot", Begin: time.Now(), Total: time.Millisecond, Status: 200}
		tc := p.Begin(inv, gateway.Call{Method: "GET", Path: path, TraceParent: parent, TraceState: state})
		if errText != "" {
			inv.Status, inv.Err = 502, errors.New(errText)
		}
		if !traceParentRE.MatchString(tc.Parent) {
			t.Fatalf("traceparent %q for caller %q", tc.Parent, parent)
		}
		if strings.ContainsAny(tc.State, "\r\n") {
			t.Fatalf("tracestate %q", tc.State)
		}
		if traceParentRE.MatchString(parent) && parent[3:35] != strings.Repeat("0", 32) && parent[36:52] != strings.Repeat("0", 16) &&
			tc.TraceID() != parent[3:35] {
			t.Fatalf("valid caller %q not continued: %q", parent, tc.Parent)
		}
		p.Record(inv)
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := p.SpanStats(); st.Dropped != 0 {
			t.Fatalf("spans dropped (the request did not decode?): %+v", st)
		}
		if _, sampled := inv.Trace.(*sampledCall); sampled && utf8.ValidString(path) {
			spans := c.all()
			if got := attrs(spans[len(spans)-1])["url.path"]; got != path {
				t.Fatalf("url.path %q, want %q", got, path)
			}
		}
	})
}
