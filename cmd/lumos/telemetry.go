package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/lumos-edge/lumos/profiler"
)

// OTLP protocols (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// telemetryConfig builds the profiler's configuration from the standard
// OpenTelemetry environment variables, read through getenv:
//
//   - tracing is on when OTEL_TRACES_EXPORTER=otlp, or when it is unset and
//     OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
//     set; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turns it off;
//
//   - OTEL_EXPORTER_OTLP_(TRACES_|METRICS_)PROTOCOL picks http/protobuf
//     (default) or grpc;
//
//   - OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE,
//     OTEL_BSP_MAX_EXPORT_BATCH_SIZE and OTEL_BSP_EXPORT_TIMEOUT (ms) tune
//     span export;
//
//   - OTEL_METRICS_EXPORTER=otlp also pushes the metrics over OTLP;
//
//   - OTEL_SERVICE_NAME names the service (default "lumos").
//
//   - OTEL_EXPORTER_OTLP_(TRACES_|METRICS_)ENDPOINT and OTEL_TRACES_SAMPLER
//     and _ARG as the specification says.
//
//   - OTLP/HTTP traces: OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _COMPRESSION,
//     _TIMEOUT, _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY.
//
// The gRPC trace client and the OTLP metric exporters read those from the
// process's environment themselves, as does the SDK
// (OTEL_METRIC_EXPORT_INTERVAL, OTEL_RESOURCE_ATTRIBUTES).
func telemetryConfig(ctx context.Context, getenv func(string) string, metrics bool) (profiler.Config, error) {
	cfg := profiler.Config{ServiceName: getenv("OTEL_SERVICE_NAME"), ServiceVersion: version, DisableMetrics: !metrics}
	if cfg.ServiceName == "" {
		cfg.ServiceName = profiler.DefaultServiceName
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return cfg, nil
	}
	tracing, err := tracesOn(getenv)
	if err != nil {
		return cfg, err
	}
	if tracing {
		if cfg.Batch, err = batchConfig(getenv); err != nil {
			return cfg, err
		}
		if cfg.Sampler, err = sampler(getenv); err != nil {
			return cfg, err
		}
		url, explicit := endpoint(getenv, "TRACES")
		switch p := protocol(getenv, "TRACES"); p {
		case protocolHTTP:
			if url == "" {
				url = defaultHTTPEndpoint
			}
			var s *profiler.HTTPSender
			if s, err = httpSender(getenv, httpURL(url, explicit, "/v1/traces")); err == nil {
				cfg.TraceSender = s
			}
		case protocolGRPC:
			var opts []otlptracegrpc.Option
			if url != "" {
				opts = append(opts, otlptracegrpc.WithEndpointURL(url))
			}
			var s *profiler.ClientSender
			if s, err = profiler.NewClientSender(ctx, otlptracegrpc.NewClient(opts...)); err == nil {
				cfg.TraceSender = s
			}
		default:
			err = fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL %q: want %s or %s", p, protocolHTTP, protocolGRPC)
		}
		if err != nil {
			return cfg, fmt.Errorf("trace exporter: %w", err)
		}
	}
	switch e := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER")); e {
	case "", "none", "prometheus":
	case "otlp":
		if !metrics {
			break
		}
		var exp sdkmetric.Exporter
		url, explicit := endpoint(getenv, "METRICS")
		switch p := protocol(getenv, "METRICS"); p {
		case protocolHTTP:
			var opts []otlpmetrichttp.Option
			if url != "" {
				opts = append(opts, otlpmetrichttp.WithEndpointURL(httpURL(url, explicit, "/v1/metrics")))
			}
			exp, err = otlpmetrichttp.New(ctx, opts...)
		case protocolGRPC:
			var opts []otlpmetricgrpc.Option
			if url != "" {
				opts = append(opts, otlpmetricgrpc.WithEndpointURL(url))
			}
			exp, err = otlpmetricgrpc.New(ctx, opts...)
		default:
			err = fmt.Errorf("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL %q: want %s or %s", p, protocolHTTP, protocolGRPC)
		}
		if err != nil {
			return cfg, fmt.Errorf("metric exporter: %w", err)
		}
		cfg.MetricReaders = func(producer sdkmetric.Producer) []sdkmetric.Reader {
			return []sdkmetric.Reader{sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(producer))}
		}
	default:
		return cfg, fmt.Errorf("OTEL_METRICS_EXPORTER %q: want otlp, prometheus or none", e)
	}
	return cfg, nil
}

// tracesOn reads OTEL_TRACES_EXPORTER and the OTLP endpoints.
func tracesOn(getenv func(string) string) (bool, error) {
	switch e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e {
	case "otlp":
		return true, nil
	case "none":
		return false, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp or none", e)
	}
}

// defaultHTTPEndpoint is OTLP/HTTP's default endpoint.
const defaultHTTPEndpoint = "http://localhost:4318"

// httpSender configures OTLP/HTTP trace export from the
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _COMPRESSION, _TIMEOUT, _CERTIFICATE,
// _CLIENT_CERTIFICATE and _CLIENT_KEY variables.
func httpSender(getenv func(string) string, url string) (*profiler.HTTPSender, error) {
	get := func(name string) (string, string) {
		for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_" + name, "OTEL_EXPORTER_OTLP_" + name} {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return k, v
			}
		}
		return "", ""
	}
	s := &profiler.HTTPSender{URL: url, Headers: map[string]string{}}
	if k, v := get("HEADERS"); v != "" {
		for _, kv := range strings.Split(v, ",") {
			name, value, ok := strings.Cut(kv, "=")
			n, err1 := neturl.QueryUnescape(strings.TrimSpace(name))
			val, err2 := neturl.QueryUnescape(strings.TrimSpace(value))
			if !ok || n == "" || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s: %q is not name=value", k, kv)
			}
			s.Headers[n] = val
		}
	}
	switch k, v := get("COMPRESSION"); v {
	case "", "none":
	case "gzip":
		s.Gzip = true
	default:
		return nil, fmt.Errorf("%s %q: want gzip or none", k, v)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if k, v := get("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%s %q: want milliseconds", k, v)
		}
		s.Client.Timeout = time.Duration(ms) * time.Millisecond
	}
	_, ca := get("CERTIFICATE")
	_, cert := get("CLIENT_CERTIFICATE")
	_, key := get("CLIENT_KEY")
	if ca != "" || cert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("OTLP certificate: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("OTLP certificate %s: no PEM certificate", ca)
			}
		}
		if cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("OTLP client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		tr.TLSClientConfig = tc
	}
	return s, nil
}

// endpoint returns the OTLP endpoint for signal: the signal's own variable
// (explicit true: used as is) or the generic one.
func endpoint(getenv func(string) string, signal string) (url string, explicit bool) {
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT")); v != "" {
		return v, true
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")), false
}

// httpURL appends the signal's path to a generic OTLP/HTTP endpoint, as the
// specification says; a signal's own endpoint is used as is.
func httpURL(url string, explicit bool, path string) string {
	if explicit {
		return url
	}
	return strings.TrimRight(url, "/") + path
}

// sampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; nil (unset)
// is the SDK's default, parentbased_always_on.
func sampler(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio in [0, 1]", arg)
		}
		return r, nil
	}
	switch name {
	case "":
		return nil, nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// protocol is the OTLP protocol for signal (TRACES, METRICS).
func protocol(getenv func(string) string, signal string) string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return protocolHTTP
}

// batchConfig reads the OTEL_BSP_* variables; unset ones keep the defaults.
func batchConfig(getenv func(string) string) (profiler.BatchConfig, error) {
	var c profiler.BatchConfig
	positive := func(key string) (int, error) {
		v := strings.TrimSpace(getenv(key))
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s %q: want a positive integer", key, v)
		}
		return n, nil
	}
	var err error
	var delay, timeout int
	set := func(dst *int, key string) {
		if err == nil {
			*dst, err = positive(key)
		}
	}
	set(&delay, "OTEL_BSP_SCHEDULE_DELAY")
	set(&timeout, "OTEL_BSP_EXPORT_TIMEOUT")
	set(&c.QueueSize, "OTEL_BSP_MAX_QUEUE_SIZE")
	set(&c.BatchSize, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
	c.Delay, c.ExportTimeout = time.Duration(delay)*time.Millisecond, time.Duration(timeout)*time.Millisecond
	return c, err
}
