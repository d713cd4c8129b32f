// Package jaegertest starts a real Jaeger v2 for tests, as net/http/httptest
// starts servers: a private process with in-memory storage, every endpoint
// on a free 127.0.0.1 port (so parallel tests never collide), stopped at the
// end of the test. It reads traces back through Jaeger's query API.
//
// The binary is built from the version pinned in tools/jaeger/go.mod, once
// per machine (see Binary). When it cannot be built (no Go toolchain, no
// module proxy), Start skips the test, or fails it under CI=true, where the
// trace tests must run.
package jaegertest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// configTemplate is the Jaeger v2 configuration: OTLP in, memory storage,
// the query API, a health check, nothing else listening, and no telemetry
// of its own. The %s are the addresses of, in order: OTLP gRPC, OTLP HTTP,
// query HTTP, query gRPC, health check. deploy/jaeger/config.yaml is the
// same with the default ports.
const configTemplate = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: %s
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s

processors:
  batch:
    timeout: 50ms

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startTimeout bounds the wait for a started Jaeger to report healthy.
const startTimeout = 30 * time.Second

// Jaeger is a running Jaeger. The address fields are set by Start.
type Jaeger struct {
	// OTLPHTTP is the OTLP/HTTP receiver's base URL, "http://127.0.0.1:PORT"
	// (the value for OTEL_EXPORTER_OTLP_ENDPOINT with protocol http/protobuf).
	OTLPHTTP string
	// OTLPGRPC is the OTLP/gRPC receiver's URL, "http://127.0.0.1:PORT"
	// (the value for OTEL_EXPORTER_OTLP_ENDPOINT with protocol grpc; the
	// http scheme means no TLS).
	OTLPGRPC string
	// Query is the query service's base URL, "http://127.0.0.1:PORT"
	// (the API under /api/, the UI at /).
	Query string
	// Health is the health check's URL; it answers 200 when Jaeger is ready.
	Health string
	// Log is the file that holds Jaeger's output.
	Log string

	cmd    *exec.Cmd
	exited chan error
	client *http.Client
}

// Start runs Jaeger for the test and stops it at the test's cleanup. It
// skips the test when the binary cannot be built, or fails it under
// CI=true. A Jaeger that is built but does not come up fails the test.
func Start(tb testing.TB) *Jaeger {
	tb.Helper()
	bin := requireBinary(tb)
	dir := tb.TempDir()
	// A free port may be taken by someone else between our probe and
	// Jaeger's bind: try again with fresh ports then.
	for attempt := 1; ; attempt++ {
		j, err := start(bin, dir, attempt)
		if err == nil {
			tb.Cleanup(j.stop)
			return j
		}
		if attempt == 3 || !errors.Is(err, errExited) {
			tb.Fatal(err)
		}
		tb.Logf("Jaeger exited at start, retrying with other ports: %v", err)
	}
}

// requireBinary returns the Jaeger binary, or skips tb when it cannot be
// built, or fails it under CI=true, where the trace tests must run.
func requireBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		if !errors.Is(err, errNoBuild) {
			tb.Fatal(err) // the repository is wrong, not the machine
		}
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Jaeger is required under CI=true: %v", err)
		}
		tb.Skipf("Jaeger unavailable (%v); the tests build it from tools/jaeger/go.mod with Go and the module proxy (CI=true makes this a failure)", err)
	}
	return bin
}

// errExited is the error of a Jaeger process that ended while starting.
var errExited = errors.New("jaegertest: Jaeger exited")

// start writes a configuration with fresh free ports into dir and runs bin
// on it until its health check answers.
func start(bin, dir string, attempt int) (*Jaeger, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	j := &Jaeger{
		OTLPGRPC: "http://" + addr(0),
		OTLPHTTP: "http://" + addr(1),
		Query:    "http://" + addr(2),
		Health:   "http://" + addr(4) + "/status",
		Log:      filepath.Join(dir, fmt.Sprintf("jaeger-%d.log", attempt)),
		exited:   make(chan error, 1),
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	cfg := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", attempt))
	text := fmt.Sprintf(configTemplate, addr(4), addr(2), addr(3), addr(0), addr(1))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(j.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	j.cmd = exec.Command(bin, "--config", cfg)
	j.cmd.Stdout, j.cmd.Stderr = logf, logf
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start Jaeger: %w", err)
	}
	go func() { j.exited <- j.cmd.Wait() }()

	deadline := time.Now().Add(startTimeout)
	for {
		err := j.healthy()
		if err == nil {
			return j, nil
		}
		select {
		case werr := <-j.exited:
			j.exited <- werr
			return nil, fmt.Errorf("%w: %v\n%s", errExited, werr, j.logTail())
		default:
		}
		if time.Now().After(deadline) {
			j.stop()
			return nil, fmt.Errorf("jaegertest: Jaeger not healthy in %v: %v\n%s", startTimeout, err, j.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthy asks the health check once.
func (j *Jaeger) healthy() error {
	resp, err := j.client.Get(j.Health)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s", resp.Status)
	}
	return nil
}

// stop ends Jaeger (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (j *Jaeger) stop() {
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-j.exited:
		j.exited <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL)
		j.exited <- <-j.exited
	}
}

// Pid is the Jaeger process's id.
func (j *Jaeger) Pid() int { return j.cmd.Process.Pid }

// logTail returns the end of Jaeger's log.
func (j *Jaeger) logTail() string {
	b, err := os.ReadFile(j.Log)
	if err != nil {
		return err.Error()
	}
	return tail(b)
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 right now.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
