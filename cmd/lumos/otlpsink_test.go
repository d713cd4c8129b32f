package main

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSink is a loopback OTLP/HTTP trace receiver: it decodes each export
// request and counts its spans; keep also stores them.
type otlpSink struct {
	url      string
	keep     bool
	spans    atomic.Int64
	servers  atomic.Int64 // spans of kind SERVER
	requests atomic.Int64
	bad      atomic.Int64 // requests it could not decode

	mu   sync.Mutex
	kept []*tracepb.Span
}

func startOTLPSink(tb testing.TB, keep bool) *otlpSink {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &otlpSink{url: "http://" + ln.Addr().String(), keep: keep}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return s
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil || r.URL.Path != "/v1/traces" {
		s.bad.Add(1)
		http.Error(w, "bad export request", http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.spans.Add(1)
				if sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
					s.servers.Add(1)
				}
				if s.keep {
					s.mu.Lock()
					s.kept = append(s.kept, sp)
					s.mu.Unlock()
				}
			}
		}
	}
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// trace returns the kept spans of the trace whose id is hex.
func (s *otlpSink) trace(hexID string) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range s.kept {
		if hexString(sp.TraceId) == hexID {
			out = append(out, sp)
		}
	}
	return out
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
