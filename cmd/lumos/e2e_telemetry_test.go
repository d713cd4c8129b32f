package main

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// envMap is a getenv over a map.
func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTelemetryEndToEnd(t *testing.T) {
	sink := startOTLPSink(t, true)
	o := testOptions(t.TempDir())
	o.metrics = true
	o.getenv = envMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_SERVICE_NAME": "lumos-e2e"})
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())

	caller := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	cold := do(t, "GET", srv.url+"/function/hello", nil, nil)
	warm := do(t, "POST", srv.url+"/function/echo", []byte("hi"), map[string]string{"traceparent": caller, "tracestate": "v=1"})
	for _, a := range []answer{cold, warm} {
		if a.status != 200 || len(a.header.Get("X-Trace-Id")) != 32 {
			t.Fatalf("answer %d, X-Trace-Id %q", a.status, a.header.Get("X-Trace-Id"))
		}
	}
	if got := warm.header.Get("X-Trace-Id"); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("the caller's trace was not continued: X-Trace-Id %s", got)
	}
	if err := srv.prof.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// hello's trace: a cold start with its phases under cold_start.
	spans := sink.trace(cold.header.Get("X-Trace-Id"))
	names := map[string]*tracepb.Span{}
	for _, s := range spans {
		names[s.Name] = s
	}
	server := names["GET /function/{name}"]
	if server == nil {
		t.Fatalf("no server span among %v", slices.Collect(maps.Keys(names)))
	}
	for _, n := range []string{"cold_start", "request_write", "execute", "response_read"} {
		if names[n] == nil {
			t.Errorf("no %s span among %v", n, slices.Collect(maps.Keys(names)))
		}
	}
	if c := names["cold_start"]; c != nil {
		if string(c.ParentSpanId) != string(server.SpanId) {
			t.Error("cold_start is not the server span's child")
		}
		children := 0
		for _, s := range spans {
			if string(s.ParentSpanId) == string(c.SpanId) {
				children++
			}
		}
		if children == 0 {
			t.Error("cold_start has no phase span")
		}
	}
	attrs := map[string]string{}
	for _, kv := range server.Attributes {
		attrs[kv.Key] = kv.Value.String()
	}
	for k, v := range map[string]string{"faas.invoked_name": "hello", "lumos.start": "cold", "lumos.runtime": "wasm-aot", "faas.coldstart": "true"} {
		if !strings.Contains(attrs[k], v) {
			t.Errorf("server attribute %s = %s, want %s", k, attrs[k], v)
		}
	}
	if !strings.Contains(attrs["faas.invocation_id"], cold.header.Get("X-Call-Id")) {
		t.Errorf("faas.invocation_id %s, X-Call-Id %s", attrs["faas.invocation_id"], cold.header.Get("X-Call-Id"))
	}
	// echo's server span continues the caller's span.
	for _, s := range sink.trace("0af7651916cd43dd8448eb211c80319c") {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && hexString(s.ParentSpanId) != "b7ad6b7169203331" {
			t.Errorf("echo's server span has parent %x", s.ParentSpanId)
		}
	}
	if st := srv.prof.SpanStats(); st.Dropped != 0 || st.Exported != uint64(sink.spans.Load()) || sink.bad.Load() != 0 {
		t.Errorf("span stats %+v, the sink got %d (%d bad requests)", st, sink.spans.Load(), sink.bad.Load())
	}

	m := do(t, "GET", srv.url+"/metrics", nil, nil)
	for _, l := range []string{`gateway_function_invocation_total{code="200",function_name="hello"} 1`, `gateway_service_count{function_name="hello"}`,
		`lumos_cold_starts_total{function="hello",runtime="wasm-aot"} 1`, `lumos_trace_spans_dropped_total{reason="queue_full"} 0`} {
		if !strings.Contains(string(m.body), l) {
			t.Errorf("/metrics lacks %s", l)
		}
	}
}

func TestTelemetryOffByDefault(t *testing.T) {
	o := testOptions(t.TempDir())
	o.metrics = true
	o.getenv = envMap(nil)
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	a := do(t, "GET", srv.url+"/function/hello", nil, nil)
	if a.header.Get("X-Trace-Id") != "" || srv.prof.Tracing() {
		t.Errorf("traced without configuration: X-Trace-Id %q", a.header.Get("X-Trace-Id"))
	}
	if m := do(t, "GET", srv.url+"/metrics", nil, nil); m.status != 200 || strings.Contains(string(m.body), "lumos_trace_spans") {
		t.Errorf("/metrics %d", m.status)
	}
}

func TestTelemetryConfig(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		tracing bool
		sampler string
		batch   time.Duration
		readers int
		err     string
	}{
		{name: "nothing set", env: nil},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, tracing: true},
		{name: "traces endpoint, grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, tracing: true},
		{name: "exporter otlp", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, tracing: true},
		{name: "exporter none wins", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{name: "sampler", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, tracing: true, sampler: "TraceIDRatioBased{0.1}"},
		{name: "batch delay", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "200"}, tracing: true, batch: 200 * time.Millisecond},
		{name: "otlp metrics", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics"}, readers: 1},
		{name: "bad exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER"},
		{name: "bad protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, err: "PROTOCOL"},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, err: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "bad delay", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "soon"}, err: "OTEL_BSP_SCHEDULE_DELAY"},
		{name: "bad headers", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, err: "OTEL_EXPORTER_OTLP_HEADERS"},
		{name: "bad compression", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"}, err: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"},
		{name: "bad timeout", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TIMEOUT": "-1"}, err: "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{name: "missing certificate", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent.pem"}, err: "certificate"},
		{name: "bad metrics exporter", env: map[string]string{"OTEL_METRICS_EXPORTER": "statsd"}, err: "OTEL_METRICS_EXPORTER"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := telemetryConfig(ctx, envMap(tt.env), true)
			if cfg.TraceSender != nil {
				defer cfg.TraceSender.Shutdown(ctx)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.TraceSender != nil) != tt.tracing || (cfg.MetricReaders != nil) != (tt.readers > 0) || cfg.ServiceName != "lumos" {
				t.Errorf("config %+v", cfg)
			}
			if tt.sampler != "" && (cfg.Sampler == nil || cfg.Sampler.Description() != tt.sampler) {
				t.Errorf("sampler %v, want %s", cfg.Sampler, tt.sampler)
			}
			if cfg.Batch.Delay != tt.batch {
				t.Errorf("batch delay %v, want %v", cfg.Batch.Delay, tt.batch)
			}
		})
	}
}

func TestHTTPSenderConfig(t *testing.T) {
	s, err := httpSender(envMap(map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":        "Authorization=Bearer%20x, X-Team = edge",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Only=traces",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
	}), "http://127.0.0.1:4318/v1/traces")
	if err != nil {
		t.Fatal(err)
	}
	// The signal's own variable wins over the generic one, whole.
	if len(s.Headers) != 1 || s.Headers["X-Only"] != "traces" || !s.Gzip || s.Client.Timeout != 2500*time.Millisecond {
		t.Errorf("sender %+v, timeout %v", s.Headers, s.Client.Timeout)
	}
	s, err = httpSender(envMap(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20x, X-Team = edge"}), "u")
	if err != nil || s.Headers["Authorization"] != "Bearer x" || s.Headers["X-Team"] != "edge" {
		t.Errorf("headers %v, %v", s.Headers, err)
	}
}

func TestHTTPURL(t *testing.T) {
	if got := httpURL("http://127.0.0.1:4318/", false, "/v1/traces"); got != "http://127.0.0.1:4318/v1/traces" {
		t.Error(got)
	}
	if got := httpURL("http://127.0.0.1:4318/custom", true, "/v1/traces"); got != "http://127.0.0.1:4318/custom" {
		t.Error(got)
	}
}
