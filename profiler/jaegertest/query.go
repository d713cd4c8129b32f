package jaegertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Trace is one trace as Jaeger stored it.
type Trace struct {
	// ID is the trace id, 32 lowercase hex digits.
	ID string
	// Spans are the trace's spans in the order Jaeger returned them.
	Spans []Span
}

// Span is one span of a Trace, with Jaeger's tags as attributes.
type Span struct {
	TraceID string // 32 lowercase hex digits
	SpanID  string // 16 lowercase hex digits
	// ParentID is the span id of the CHILD_OF reference, "" for a root.
	ParentID string
	Name     string
	// Kind is the OpenTelemetry span kind as Jaeger records it in the tag
	// span.kind: "server", "client", "internal"...; "" when none.
	Kind     string
	Start    time.Time
	Duration time.Duration
	// Tags holds the span's attributes and the tags Jaeger derives from the
	// span (span.kind, otel.status_code, otel.status_description, error,
	// otel.scope.name, ...). Values are string, bool, int64 or float64.
	Tags map[string]any
	// Service is the service.name of the span's process (resource).
	Service string
	// Events are the names of the span's events (Jaeger logs, the field
	// "event"), e.g. "exception" for a recorded error.
	Events []string
}

// End is the span's end time.
func (s Span) End() time.Time { return s.Start.Add(s.Duration) }

// Named returns the spans called name.
func (t *Trace) Named(name string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Children returns the spans whose parent is the span with id spanID.
func (t *Trace) Children(spanID string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.ParentID == spanID {
			out = append(out, s)
		}
	}
	return out
}

// Span returns the span with id spanID.
func (t *Trace) Span(spanID string) (Span, bool) {
	for _, s := range t.Spans {
		if s.SpanID == spanID {
			return s, true
		}
	}
	return Span{}, false
}

// ErrNotFound says Jaeger has no trace of that id (yet).
var ErrNotFound = errors.New("jaegertest: trace not found")

// pollInterval is the pause between two reads of a trace not yet complete.
const pollInterval = 50 * time.Millisecond

// Trace returns the trace with id traceID (32 hex digits) as soon as Jaeger
// has any span of it, polling until then or until ctx ends. Spans exported
// in separate batches may still be missing: use WaitTrace to wait for them.
func (j *Jaeger) Trace(ctx context.Context, traceID string) (*Trace, error) {
	return j.WaitTrace(ctx, traceID, func(*Trace) bool { return true })
}

// WaitTrace polls the trace with id traceID until complete reports true for
// what Jaeger holds, or ctx ends; then it returns the last trace read, with
// ctx's error if complete never held (the trace is nil if never found).
func (j *Jaeger) WaitTrace(ctx context.Context, traceID string, complete func(*Trace) bool) (*Trace, error) {
	var last *Trace
	for {
		t, err := j.getTrace(ctx, traceID)
		switch {
		case err == nil:
			last = t
			if complete(t) {
				return t, nil
			}
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, traceID, ctx.Err())
			}
			return last, fmt.Errorf("jaegertest: trace %s incomplete: %w", traceID, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// Lookup reads the trace with id traceID once, without waiting: ErrNotFound
// when Jaeger holds none of its spans.
func (j *Jaeger) Lookup(ctx context.Context, traceID string) (*Trace, error) {
	return j.getTrace(ctx, traceID)
}

// getTrace reads a trace once from GET /api/traces/{id}.
func (j *Jaeger) getTrace(ctx context.Context, traceID string) (*Trace, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.Query+"/api/traces/"+traceID, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: read trace %s: %w", traceID, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, traceID)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaegertest: GET /api/traces/%s: %s: %s", traceID, resp.Status, tail(body))
	}
	ts, err := parseTraces(body)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.ID == normID(traceID, 32) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, traceID)
}

// apiResponse is the JSON of Jaeger's query API (/api/traces...).
type apiResponse struct {
	Data   []apiTrace `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

type apiTrace struct {
	TraceID   string    `json:"traceID"`
	Spans     []apiSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

type apiSpan struct {
	TraceID       string   `json:"traceID"`
	SpanID        string   `json:"spanID"`
	OperationName string   `json:"operationName"`
	References    []apiRef `json:"references"`
	StartTime     int64    `json:"startTime"` // microseconds since the epoch
	Duration      int64    `json:"duration"`  // microseconds
	Tags          []apiKV  `json:"tags"`
	Logs          []struct {
		Fields []apiKV `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type apiRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type apiKV struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// parseTraces decodes a query API answer.
func parseTraces(body []byte) ([]*Trace, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("jaegertest: query answer is not JSON: %w", err)
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("jaegertest: query error %d: %s", r.Errors[0].Code, r.Errors[0].Msg)
	}
	out := make([]*Trace, 0, len(r.Data))
	for _, at := range r.Data {
		t := &Trace{ID: normID(at.TraceID, 32)}
		for _, as := range at.Spans {
			s := Span{
				TraceID:  normID(as.TraceID, 32),
				SpanID:   normID(as.SpanID, 16),
				Name:     as.OperationName,
				Start:    time.UnixMicro(as.StartTime),
				Duration: time.Duration(as.Duration) * time.Microsecond,
				Tags:     make(map[string]any, len(as.Tags)),
				Service:  at.Processes[as.ProcessID].ServiceName,
			}
			for _, ref := range as.References {
				if ref.RefType == "CHILD_OF" && s.ParentID == "" {
					s.ParentID = normID(ref.SpanID, 16)
				}
			}
			for _, kv := range as.Tags {
				v, err := kv.value()
				if err != nil {
					return nil, err
				}
				s.Tags[kv.Key] = v
			}
			if k, ok := s.Tags["span.kind"].(string); ok {
				s.Kind = k
			}
			for _, l := range as.Logs {
				for _, kv := range l.Fields {
					if kv.Key == "event" {
						if v, err := kv.value(); err == nil {
							s.Events = append(s.Events, fmt.Sprint(v))
						}
					}
				}
			}
			t.Spans = append(t.Spans, s)
		}
		out = append(out, t)
	}
	return out, nil
}

// value decodes a tag's value by its Jaeger type.
func (kv apiKV) value() (any, error) {
	var err error
	switch kv.Type {
	case "bool":
		var b bool
		err = json.Unmarshal(kv.Value, &b)
		if err == nil {
			return b, nil
		}
	case "int64":
		var n int64
		err = json.Unmarshal(kv.Value, &n)
		if err == nil {
			return n, nil
		}
	case "float64":
		var f float64
		err = json.Unmarshal(kv.Value, &f)
		if err == nil {
			return f, nil
		}
	default: // string, binary (base64 text)
		var s string
		err = json.Unmarshal(kv.Value, &s)
		if err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("jaegertest: tag %s of type %s: %w", kv.Key, kv.Type, err)
}

// normID left-pads a hex id to n digits: Jaeger's v1 API drops the leading
// zeros of a trace id's high half.
func normID(id string, n int) string {
	id = strings.ToLower(id)
	if len(id) < n {
		id = strings.Repeat("0", n-len(id)) + id
	}
	return id
}
