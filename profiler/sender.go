package profiler

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TraceSender delivers OTLP trace export requests, encoded
// (opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest in the
// protobuf wire format). Send is called from one goroutine; request is
// valid only during the call.
type TraceSender interface {
	Send(ctx context.Context, request []byte) error
	// Shutdown releases the sender's connections.
	Shutdown(ctx context.Context) error
}

// HTTPSender sends export requests over OTLP/HTTP (protobuf), as the
// specification says: POST to URL, retrying 429, 502, 503 and 504 answers
// with backoff (honouring Retry-After) until the context ends.
type HTTPSender struct {
	// URL is the traces endpoint (http://127.0.0.1:4318/v1/traces).
	URL string
	// Headers are added to every request (OTEL_EXPORTER_OTLP_HEADERS).
	Headers map[string]string
	// Gzip compresses the requests.
	Gzip bool
	// Client sends the requests; nil: a client of its own.
	Client *http.Client

	buf bytes.Buffer // the compressed request
	zw  *gzip.Writer
}

var _ TraceSender = (*HTTPSender)(nil)

// Retry backoff of HTTPSender.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// Send posts request, retrying what the specification calls retryable.
func (s *HTTPSender) Send(ctx context.Context, request []byte) error {
	if s.Client == nil {
		s.Client = &http.Client{}
	}
	body := request
	if s.Gzip {
		s.buf.Reset()
		if s.zw == nil {
			s.zw = gzip.NewWriter(&s.buf)
		} else {
			s.zw.Reset(&s.buf)
		}
		if _, err := s.zw.Write(request); err != nil {
			return fmt.Errorf("otlp http: gzip: %w", err)
		}
		if err := s.zw.Close(); err != nil {
			return fmt.Errorf("otlp http: gzip: %w", err)
		}
		body = s.buf.Bytes()
	}
	wait := retryFirst
	for {
		retry, after, err := s.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		if after <= 0 {
			after = wait
			wait = min(2*wait, retryMax)
		}
		t := time.NewTimer(after)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// post sends body once; retry says whether the answer is worth another try.
func (s *HTTPSender) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("otlp http: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if s.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return ctx.Err() == nil, 0, fmt.Errorf("otlp http: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10)) // for the error only
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, 0, nil
	}
	err = fmt.Errorf("otlp http: %s answered %s: %q", s.URL, resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			after = time.Duration(secs) * time.Second
		}
		return true, after, err
	}
	return false, 0, err
}

// Shutdown closes idle connections.
func (s *HTTPSender) Shutdown(context.Context) error {
	if s.Client != nil {
		s.Client.CloseIdleConnections()
	}
	return nil
}

// ClientSender sends export requests through an OTLP client (the
// otlptracegrpc one), which takes them decoded: it decodes each request
// once more, so it costs more than HTTPSender.
type ClientSender struct {
	client otlptrace.Client
}

var _ TraceSender = (*ClientSender)(nil)

// NewClientSender starts c and sends through it.
func NewClientSender(ctx context.Context, c otlptrace.Client) (*ClientSender, error) {
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("otlp client: start: %w", err)
	}
	return &ClientSender{client: c}, nil
}

// Send decodes request and uploads it.
func (s *ClientSender) Send(ctx context.Context, request []byte) error {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(request, &req); err != nil {
		return fmt.Errorf("otlp client: %w", err)
	}
	return s.client.UploadTraces(ctx, req.ResourceSpans)
}

// Shutdown stops the client.
func (s *ClientSender) Shutdown(ctx context.Context) error { return s.client.Stop(ctx) }
