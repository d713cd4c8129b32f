package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/invoker/wasm"
	"github.com/lumos-edge/lumos/pool"
	"github.com/lumos-edge/lumos/profiler"
	"github.com/lumos-edge/lumos/profiler/model"
)

// passwordFile holds the admin password inside the data dir (mode 0600), so
// the CLI on the same machine finds it without flags.
const passwordFile = "admin-password"

// gatewayIDFile holds this data dir's gateway id (see gatewayID).
const gatewayIDFile = "gateway-id"

// serveOptions is everything `lumos serve` can be told.
type serveOptions struct {
	addr           string
	dataDir        string
	defaultRuntime string
	bundled        bool
	adminUser      string
	adminPassword  string
	maxBody        int64
	maxArtifact    int64
	defaultTimeout time.Duration
	maxTimeout     time.Duration
	compiledCache  int64
	containerd     string
	logLevel       string
	logOut         io.Writer
	// metrics records metrics and serves /metrics.
	metrics bool
	// model runs the performance model (fed by every invocation, persisted
	// in the store).
	model bool
	// getenv reads the OTEL_* variables; nil means os.Getenv.
	getenv func(string) string

	// Test and benchmark wiring, never set by flags.
	// observe, when set, sees every invocation record (before the model
	// and the profiler).
	observe func(*invoker.Invocation)
	// modelConfig configures the model (zero: its defaults).
	modelConfig model.Config
	// keepAliveInterval is the keep-alive tuner's period (zero: the gateway's default).
	keepAliveInterval time.Duration
}

func newServeCmd() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway, with the bundled functions deployed",
		Long: "Run the Lumos gateway. Deployed functions and artifacts persist in the data dir.\n" +
			"At first start an admin password is generated and stored there (file admin-password).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.logOut = cmd.ErrOrStderr()
			srv, err := startServer(cmd.Context(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Lumos %s serving on %s (data in %s)\n", version, srv.url, o.dataDir)
			for _, name := range srv.bundled {
				fmt.Fprintf(out, "  function %-6s %s/function/%s\n", name, srv.url, name)
			}
			fmt.Fprintf(out, "Try:\n  curl -s %s/function/hello\n  curl -s '%s/function/fib?n=25'\n", srv.url, srv.url)
			fmt.Fprintf(out, "Admin API (/system/*): user %q, password in %s\n", srv.creds.User, filepath.Join(o.dataDir, passwordFile))
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 10*time.Second)
			defer cancel()
			return srv.Close(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.addr, "addr", envOr("LUMOS_ADDR", "127.0.0.1:8080"), "listen address (env LUMOS_ADDR)")
	fl.StringVar(&o.dataDir, "data-dir", envOr("LUMOS_DATA", defaultDataDir()), "data dir: functions, artifacts, compile cache, credentials (env LUMOS_DATA)")
	fl.StringVar(&o.defaultRuntime, "runtime", "wasm-aot", "runtime for deployments that name none: wasm-aot, wasm-interp or container")
	fl.BoolVar(&o.bundled, "bundled", true, "deploy the bundled sample functions (hello, echo, fib, json) when absent")
	fl.StringVar(&o.adminUser, "admin-user", envOr("LUMOS_ADMIN_USER", "admin"), "admin user (env LUMOS_ADMIN_USER)")
	fl.StringVar(&o.adminPassword, "admin-password", os.Getenv("LUMOS_ADMIN_PASSWORD"), "admin password (env LUMOS_ADMIN_PASSWORD; default: generated at first start and stored)")
	fl.Int64Var(&o.maxBody, "max-body", 16<<20, "largest request body a function accepts, bytes (413 beyond)")
	fl.Int64Var(&o.maxArtifact, "max-artifact", 128<<20, "largest artifact upload, bytes (413 beyond)")
	fl.DurationVar(&o.defaultTimeout, "timeout", 30*time.Second, "invocation timeout for functions that set none")
	fl.DurationVar(&o.maxTimeout, "max-timeout", 5*time.Minute, "largest invocation timeout a function or caller may ask for")
	fl.Int64Var(&o.compiledCache, "compiled-cache", 0, "bytes of compiled modules kept in memory per runtime (0: the runtime's default)")
	fl.StringVar(&o.containerd, "containerd", envOr("LUMOS_CONTAINERD", container.DefaultAddress),
		"containerd socket of the container runtime (env LUMOS_CONTAINERD); when absent, deployments to it answer 503")
	fl.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.BoolVar(&o.metrics, "metrics", true, "record metrics and serve them at /metrics (traces follow the OTEL_* environment)")
	fl.BoolVar(&o.model, "model", true, "learn the performance model from every invocation (lumos model), persisted in the data dir")
	return cmd
}

// server is a running gateway with everything it owns.
type server struct {
	url     string
	creds   store.Credentials
	bundled []string
	gw      *gateway.Gateway
	st      *store.Store
	rts     []*wasm.Runtime
	ctr     *container.Runtime
	prof    *profiler.Profiler // nil: no telemetry
	model   *model.Model       // nil: --model=false
	saver   *modelSaver
	log     *slog.Logger
	done    chan error
}

// startServer wires the store, the runtimes and the gateway, deploys the
// bundled functions when absent, and starts serving.
func startServer(ctx context.Context, o serveOptions) (_ *server, err error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if o.logOut == nil {
		o.logOut = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(o.logOut, &slog.HandlerOptions{Level: level}))

	s := &server{done: make(chan error, 1), log: logger}
	defer func() {
		if err != nil {
			s.Close(context.WithoutCancel(ctx))
		}
	}()
	if s.st, err = store.Open(o.dataDir, logger); err != nil {
		return nil, err
	}
	if s.creds, err = adminCredentials(s.st, o); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.dataDir, passwordFile), []byte(s.creds.Password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write admin password file: %w", err)
	}

	runtimes := map[string]gateway.Runtime{}
	for _, rc := range []struct {
		name   string
		engine wasm.Engine
	}{{"wasm-interp", wasm.Interpreter}, {"wasm-aot", wasm.Compiler}} {
		rt, err := wasm.New(ctx, wasm.Config{
			Engine:             rc.engine,
			CacheDir:           filepath.Join(o.dataDir, "cache", "wazero"),
			CompiledCacheBytes: o.compiledCache,
			Logger:             logger,
		})
		if err != nil {
			return nil, fmt.Errorf("start runtime %s: %w", rc.name, err)
		}
		s.rts = append(s.rts, rt)
		runtimes[rt.Name()] = rt
	}
	// The container runtime is always registered: while containerd is
	// unreachable its Load fails with invoker.ErrUnavailable (503) and the
	// Wasm runtimes keep serving. It labels what it creates with the data
	// dir's id, and reconciles what a crash of this gateway left.
	id, err := gatewayID(o.dataDir)
	if err != nil {
		return nil, err
	}
	if s.ctr, err = container.New(ctx, container.Config{Address: o.containerd, Gateway: id, Logger: logger}); err != nil {
		return nil, fmt.Errorf("start runtime container: %w", err)
	}
	runtimes[s.ctr.Name()] = s.ctr
	if _, ok := runtimes[o.defaultRuntime]; !ok {
		return nil, fmt.Errorf("--runtime %q: not a runtime of this gateway", o.defaultRuntime)
	}

	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	tcfg, err := telemetryConfig(ctx, o.getenv, o.metrics)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if o.model {
		s.model = model.New(o.modelConfig)
		loadModel(s.st, s.model, logger)
		tcfg.Producers = append(tcfg.Producers, s.model)
	}
	var recorder gateway.Recorder
	var metrics http.Handler
	if tcfg.TraceSender != nil || !tcfg.DisableMetrics {
		if s.prof, err = profiler.New(ctx, tcfg); err != nil {
			return nil, err
		}
		recorder, metrics = s.prof, s.prof.MetricsHandler()
	}
	if s.model != nil {
		recorder = modelRecorder{model: s.model, next: recorder}
	}
	if o.observe != nil {
		recorder = observeRecorder{observe: o.observe, next: recorder}
	}

	var chooser gateway.Chooser
	var gwModel gateway.Model
	var keepAlive gateway.KeepAlive
	if s.model != nil { // never a nil *model.Model in an interface
		chooser, gwModel, keepAlive = s.model, s.model, s.model
	}
	s.gw, err = gateway.New(ctx, gateway.Config{
		Runtimes:          runtimes,
		DefaultRuntime:    o.defaultRuntime,
		Store:             s.st,
		Recorder:          recorder,
		Chooser:           chooser,
		Model:             gwModel,
		KeepAlive:         keepAlive,
		KeepAliveInterval: o.keepAliveInterval,
		Metrics:           metrics,
		Credentials:       gateway.Credentials{User: s.creds.User, Password: s.creds.Password},
		MaxBodyBytes:      o.maxBody,
		MaxArtifactBytes:  o.maxArtifact,
		DefaultTimeout:    o.defaultTimeout,
		MaxTimeout:        o.maxTimeout,
		DefaultPool:       pool.DefaultConfig(),
		Version:           version,
		Logger:            logger,
	})
	if err != nil {
		return nil, err
	}
	if s.prof != nil {
		if err := s.prof.ObserveFunctions(s.gw); err != nil {
			return nil, err
		}
	}
	if s.model != nil {
		s.saver = startModelSaver(s.st, s.model, modelSaveInterval, logger)
	}
	if o.bundled {
		if s.bundled, err = deployBundled(ctx, s.gw, o.defaultRuntime); err != nil {
			return nil, err
		}
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String()
	go func() { s.done <- s.gw.Serve(ln) }()
	return s, nil
}

// gatewayID returns the id of the gateway serving dataDir, generated and
// stored at first start. The store holds the data dir exclusively, so at
// most one running gateway has an id: a new gateway on the same data dir
// may reap what the id labels (container.Config.Gateway), while gateways on
// other data dirs sharing the containerd never touch each other's.
func gatewayID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, gatewayIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read gateway id: %w", err)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("gateway id: %w", err)
	}
	id := "gw-" + hex.EncodeToString(rnd[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write gateway id: %w", err)
	}
	return id, nil
}

// adminCredentials takes the configured password, or the stored one, or
// generates and stores one at first start; the configured user name applies
// in every case.
func adminCredentials(st *store.Store, o serveOptions) (store.Credentials, error) {
	if o.adminPassword != "" {
		c := store.Credentials{User: o.adminUser, Password: o.adminPassword}
		return c, st.SetCredentials(c)
	}
	c, _, err := st.EnsureCredentials()
	if err != nil || o.adminUser == "" || c.User == o.adminUser {
		return c, err
	}
	c.User = o.adminUser // a configured user keeps the stored (or generated) password
	return c, st.SetCredentials(c)
}

// deployBundled deploys every bundled function that is not deployed yet, so
// an operator's own changes to them survive a restart.
func deployBundled(ctx context.Context, gw *gateway.Gateway, runtime string) ([]string, error) {
	var names []string
	for _, b := range functions.List() {
		names = append(names, b.Name)
		mod, err := functions.Wasm(b.Name)
		if err != nil {
			return nil, err
		}
		digest, err := gw.PutArtifact(mod)
		if err != nil {
			return nil, fmt.Errorf("store bundled %s: %w", b.Name, err)
		}
		d := gateway.FunctionDeployment{
			Service:     b.Name,
			Image:       digest,
			Annotations: map[string]string{"lumos.runtime": runtime, "lumos.abi": string(b.ABI), "lumos.bundled": "true"},
		}
		err = gw.Deploy(ctx, d, false)
		if errors.Is(err, gateway.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("deploy bundled %s: %w", b.Name, err)
		}
	}
	return names, nil
}

// Close stops serving and releases everything, in reverse order of start.
func (s *server) Close(ctx context.Context) error {
	var errs []error
	if s.gw != nil {
		if s.url != "" {
			errs = append(errs, s.gw.Shutdown(ctx))
		}
		errs = append(errs, s.gw.Close(ctx))
	}
	if s.saver != nil {
		s.saver.Stop()
	}
	if s.model != nil && s.st != nil && s.gw != nil {
		// The gateway records no more: this snapshot has everything.
		if err := saveModel(s.st, s.model); err != nil {
			errs = append(errs, fmt.Errorf("save the model: %w", err))
		}
	}
	if s.prof != nil {
		errs = append(errs, s.prof.Shutdown(ctx)) // flush: the gateway records no more
	}
	for _, rt := range s.rts {
		errs = append(errs, rt.Close(ctx))
	}
	if s.ctr != nil {
		errs = append(errs, s.ctr.Close(ctx))
	}
	if s.st != nil {
		errs = append(errs, s.st.Close())
	}
	return errors.Join(errs...)
}
