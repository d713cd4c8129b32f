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
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// otlpSink is a loopback OTLP/HTTP trace receiver: it decodes each export
// request and counts its spans; with keep, it also stores them.
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
	if err != nil || r.URL.Path != "/v1/traces" {
		s.bad.Add(1)
		http.Error(w, "bad export request", http.StatusBadRequest)
		return
	}
	if s.keep {
		err = s.decode(body)
	} else {
		err = s.walk(body)
	}
	if err != nil {
		s.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(nil) // an empty ExportTraceServiceResponse
}

// decode unmarshals an export request and keeps its spans.
func (s *otlpSink) decode(body []byte) error {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return err
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.spans.Add(1)
				if sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
					s.servers.Add(1)
				}
				s.mu.Lock()
				s.kept = append(s.kept, sp)
				s.mu.Unlock()
			}
		}
	}
	return nil
}

// walk decodes an export request's wire format down to each span's kind,
// counting spans, without building Go values: what a backend spends is not
// the gateway's cost, so the benchmark's sink spends as little as it can.
func (s *otlpSink) walk(body []byte) error {
	var spans, servers int64
	// ExportTraceServiceRequest.resource_spans = 1; ResourceSpans.scope_spans = 2;
	// ScopeSpans.spans = 2; Span.kind = 6.
	err := fields(body, func(num protowire.Number, rs []byte) error {
		if num != 1 {
			return nil
		}
		return fields(rs, func(num protowire.Number, ss []byte) error {
			if num != 2 {
				return nil
			}
			return fields(ss, func(num protowire.Number, span []byte) error {
				if num != 2 {
					return nil
				}
				spans++
				return fieldsVarint(span, func(num protowire.Number, v uint64) {
					if num == 6 && v == uint64(tracepb.Span_SPAN_KIND_SERVER) {
						servers++
					}
				})
			})
		})
	})
	s.spans.Add(spans)
	s.servers.Add(servers)
	return err
}

// fields calls f with each length-delimited field of msg, skipping others.
func fields(msg []byte, f func(protowire.Number, []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if err := f(num, v); err != nil {
				return err
			}
			msg = msg[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
	}
	return nil
}

// fieldsVarint calls f with each varint field of msg, skipping others.
func fieldsVarint(msg []byte, f func(protowire.Number, uint64)) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			f(num, v)
			msg = msg[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
	}
	return nil
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
