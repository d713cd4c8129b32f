// Package gateway is Lumos's HTTP front: an OpenFaaS-compatible admin API
// (/system/*) that deploys functions from uploaded artifacts, and the
// invocation path (/function/{name}) that serves each call from the
// function's warm pool of instances. It maps every error to one HTTP status
// in one place (errorStatus) and answers every error with the same JSON shape.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// Runtime turns a Spec into a Function (invoker/wasm, invoker/container).
// Load validates the artifact: its errors wrap invoker.ErrInvalidArtifact
// (the deployment is refused with 400) or invoker.ErrUnavailable (503).
type Runtime interface {
	Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error)
}

// Store is what the gateway needs from gateway/store: artifacts by digest
// and one opaque record per function.
type Store interface {
	PutArtifact(data []byte) (digest string, err error)
	Artifact(digest string) ([]byte, error)
	HasArtifact(digest string) bool
	Artifacts() ([]store.ArtifactInfo, error)
	PutFunction(name string, record []byte) error
	DeleteFunction(name string) error
	Functions() (map[string][]byte, error)
}

// Recorder receives one record per invocation of a deployed function. Both
// methods run on the request path: they must be cheap and must not block.
type Recorder interface {
	// Begin is called once the function is found, before it is called, with
	// inv's ID, Function, Runtime (for runtime auto: the runtime chosen for
	// this invocation), ABI, MaxMemory, InFlight and Begin set. It may set
	// inv.Trace for its own use in Record. It returns the W3C trace context
	// the function receives (headers traceparent and tracestate) and whose
	// trace id the response carries (X-Trace-Id); the zero TraceContext
	// leaves the caller's headers as they came.
	Begin(inv *invoker.Invocation, call Call) TraceContext
	// Record is called after the response is decided, with the record
	// complete. It reports whether it keeps inv: if so the gateway never
	// reuses inv, else it recycles inv once Record returns.
	Record(inv *invoker.Invocation) (kept bool)
}

// Call describes an invocation's HTTP request to Recorder.Begin. Its strings
// alias the gateway's buffers and are valid only during Begin: copy what you keep.
type Call struct {
	// Method is the HTTP method.
	Method string
	// Path is the request's path (/function/{name}[/sub]).
	Path string
	// TraceParent and TraceState are the caller's W3C trace headers; empty when absent.
	TraceParent, TraceState string
}

// TraceContext is a W3C trace context as HTTP headers carry it.
type TraceContext struct {
	// Parent is the traceparent header ("00-{trace id}-{span id}-{flags}").
	Parent string
	// State is the tracestate header; empty when there is none.
	State string
}

// TraceID returns the trace id in Parent (32 lowercase hex), or "" when
// Parent is not a version 00 traceparent.
func (tc TraceContext) TraceID() string {
	if len(tc.Parent) != 55 || tc.Parent[:3] != "00-" || tc.Parent[35] != '-' {
		return ""
	}
	return tc.Parent[3:35]
}

// Credentials guard the admin API (/system/*).
type Credentials struct {
	User     string
	Password string
}

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes     = 16 << 20
	DefaultMaxArtifactBytes = 128 << 20
	DefaultTimeout          = 30 * time.Second
	DefaultMaxTimeout       = 5 * time.Minute
)

// Config configures a Gateway. Zero sizes and durations take the Default*
// values; Runtimes, DefaultRuntime, Store and Credentials.Password are required.
// DefaultRuntime may be RuntimeAuto; no runtime may be named so.
type Config struct {
	Runtimes       map[string]Runtime // by name: "wasm-interp", "wasm-aot", "container"
	DefaultRuntime string
	Store          Store
	Recorder       Recorder // nil records nothing, at no cost
	// Metrics serves GET /metrics (no auth); nil answers 404 there.
	Metrics          http.Handler
	Credentials      Credentials
	MaxBodyBytes     int64 // invocation bodies; 413 beyond
	MaxArtifactBytes int64 // artifact uploads; 413 beyond
	DefaultTimeout   time.Duration
	MaxTimeout       time.Duration
	DefaultPool      pool.Config // zero value: pool.DefaultConfig()
	Version          string
	Logger           *slog.Logger // nil: slog.Default()
	// RestoreRetry is the first delay before a stored function whose
	// runtime was unavailable at New is restored again (doubling, up to
	// 10 s, until it loads). Default DefaultRestoreRetry.
	RestoreRetry time.Duration
	// Chooser picks the runtime of each invocation of a function deployed
	// with runtime auto; nil serves every invocation on its first candidate.
	Chooser Chooser
	// Model serves /system/model*; nil answers 404 "model disabled" there.
	Model Model
	// KeepAlive plans the idle timeout and prewarm count of adaptive pools
	// (keepalive.go); nil leaves every pool with its deployed settings.
	KeepAlive KeepAlive
	// KeepAliveInterval is the period of KeepAlive's planning.
	// Default DefaultKeepAliveInterval.
	KeepAliveInterval time.Duration
}

// Log keys.
const (
	logKeyErr      = "err"
	logKeyFunction = "function"
	logKeyPanic    = "panic"
	logKeyRuntime  = "runtime"
)

// Gateway serves the admin API and function invocations.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	server *fasthttp.Server
	// metrics serves /metrics; nil when Config.Metrics is.
	metrics fasthttp.RequestHandler
	// base is the parent of every invocation context; cancelled by Close.
	base       context.Context
	cancelBase context.CancelFunc

	// mu serializes changes to the function table. The table itself is
	// copy-on-write, so the invocation path reads it without a lock.
	mu     sync.Mutex
	table  atomic.Pointer[map[string]*version]
	closed atomic.Bool
	// retiring tracks versions being closed in the background.
	retiring sync.WaitGroup

	// pending holds the stored functions whose runtime was unavailable at
	// New, restored again in the background (pending.go). Lock order:
	// mu, then pendMu.
	pendMu      sync.Mutex
	pending     map[string]*pendingFunction
	retryCtx    context.Context
	cancelRetry context.CancelFunc
	retryDone   chan struct{}

	// order is every configured runtime in the fixed candidate order of
	// runtime auto (auto.go).
	order []string
	// tunerDone is closed when the keep-alive tuner has stopped (or never
	// started); cancelTuner stops it.
	tunerDone   chan struct{}
	cancelTuner context.CancelFunc

	idPrefix string
	idSeq    atomic.Uint64
}

// New builds a Gateway and restores every deployment found in the store. A
// stored deployment that no longer loads is logged and skipped; one whose
// runtime is unavailable (invoker.ErrUnavailable) stays pending: it is
// listed, answers 503, and is restored again in the background until its
// runtime is back.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("gateway: call id prefix: %w", err)
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &Gateway{cfg: cfg, log: cfg.Logger, base: base, cancelBase: cancel, idPrefix: hex.EncodeToString(rnd[:]) + "-",
		pending: make(map[string]*pendingFunction), retryDone: make(chan struct{})}
	g.retryCtx, g.cancelRetry = context.WithCancel(base)
	g.order = candidateOrder(cfg.Runtimes)
	g.table.Store(&map[string]*version{})
	if cfg.Metrics != nil {
		g.metrics = fasthttpadaptor.NewFastHTTPHandler(cfg.Metrics)
	}
	g.server = &fasthttp.Server{
		Handler:            g.handle,
		ErrorHandler:       g.serverError,
		Name:               "lumos",
		ReadTimeout:        time.Minute,
		WriteTimeout:       time.Minute,
		IdleTimeout:        2 * time.Minute,
		MaxRequestBodySize: int(max(cfg.MaxBodyBytes, cfg.MaxArtifactBytes)),
		HeaderReceived:     g.requestConfig,
		ReadBufferSize:     16 << 10, // request headers past it answer 431; 4 KiB is too little for cookies and JWTs
		Logger:             fasthttpLogger{g.log},
	}
	g.restore(ctx)
	g.startRetries()
	g.startTuner()
	return g, nil
}

func (c *Config) fill() error {
	if len(c.Runtimes) == 0 {
		return errors.New("gateway: no runtime configured")
	}
	if _, ok := c.Runtimes[RuntimeAuto]; ok {
		return fmt.Errorf("gateway: no runtime may be named %q: the name chooses among the others", RuntimeAuto)
	}
	if _, ok := c.Runtimes[c.DefaultRuntime]; !ok && c.DefaultRuntime != RuntimeAuto {
		return fmt.Errorf("gateway: default runtime %q is not configured", c.DefaultRuntime)
	}
	if c.Store == nil {
		return errors.New("gateway: no store configured")
	}
	if c.Credentials.User == "" || c.Credentials.Password == "" {
		return errors.New("gateway: admin credentials are required")
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxArtifactBytes <= 0 {
		c.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = DefaultMaxTimeout
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = min(DefaultTimeout, c.MaxTimeout)
	}
	if c.DefaultPool == (pool.Config{}) {
		c.DefaultPool = pool.DefaultConfig()
	}
	if err := c.DefaultPool.Validate(); err != nil {
		return fmt.Errorf("gateway: default pool config: %w", err)
	}
	if c.RestoreRetry <= 0 {
		c.RestoreRetry = DefaultRestoreRetry
	}
	if c.KeepAliveInterval <= 0 {
		c.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Handler returns the gateway's request handler, for a caller's own server.
func (g *Gateway) Handler() fasthttp.RequestHandler { return g.handle }

// Serve serves HTTP on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error { return g.server.Serve(ln) }

// Shutdown stops accepting connections and waits for open requests to finish
// or ctx to end. It leaves the functions deployed: call Close afterwards.
func (g *Gateway) Shutdown(ctx context.Context) error {
	if err := g.server.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

// Close undeploys every function from memory (the store keeps them), waits
// for in-flight invocations, and closes the pools and functions, or gives up
// when ctx ends. Invocations after Close fail with 503.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed.Swap(true) {
		old := g.table.Swap(&map[string]*version{})
		for _, v := range *old {
			g.retire(v)
		}
	}
	g.mu.Unlock()
	if err := g.waitTuner(ctx); err != nil {
		g.cancelBase()
		return fmt.Errorf("gateway: close: %w", err)
	}
	if err := g.waitRetries(ctx); err != nil {
		g.cancelBase()
		return fmt.Errorf("gateway: close: %w", err)
	}
	done := make(chan struct{})
	go func() { g.retiring.Wait(); close(done) }()
	select {
	case <-done:
		g.cancelBase()
		return nil
	case <-ctx.Done():
		g.cancelBase() // cut the invocations still running
		return fmt.Errorf("gateway: close: %w", ctx.Err())
	}
}

// requestConfig picks the body limit from the request's header, before
// fasthttp reads the body: only an authorized POST to exactly
// /system/artifacts, or POST or PUT to exactly /system/model-snapshot, may be
// as large as MaxArtifactBytes, so an anonymous client can never make the
// gateway buffer more than MaxBodyBytes.
func (g *Gateway) requestConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	limit := g.cfg.MaxBodyBytes
	path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
	large := h.IsPost() && string(path) == prefixSystem+"artifacts" ||
		(h.IsPost() || h.IsPut()) && string(path) == prefixSystem+routeModelSnapshot
	if large && g.authorizedHeader(h) {
		limit = g.cfg.MaxArtifactBytes
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: int(limit)}
}

// serverError answers errors fasthttp meets before the handler runs
// (malformed requests, bodies past MaxRequestBodySize) with the JSON shape.
func (g *Gateway) serverError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		err = fmt.Errorf("%w: request body: %w", ErrTooLarge, err)
	case errors.As(err, &small):
		err = fmt.Errorf("%w: %v", ErrHeadersTooLarge, err)
	default:
		err = fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	writeError(ctx, err)
}

// fasthttpLogger routes fasthttp's own messages to slog.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn(fmt.Sprintf(format, args...), "source", "fasthttp")
}

// The real store satisfies Store.
var _ Store = (*store.Store)(nil)
