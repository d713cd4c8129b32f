// Package bench is the driver of `lumos bench`: it deploys workloads on a
// gateway that speaks the OpenFaaS API (Lumos, or a peer such as OpenFaaS
// itself), runs the benchmark's scenarios against them (cold start, warm,
// payload sweep, concurrency sweep), verifies every answer against the
// workload's known result, and summarises latencies, throughput and, when
// the gateway is Lumos, the per-invocation phase breakdown that the gateway
// reports in its Server-Timing header. Rendering is package profiler/report's.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/lumos-edge/lumos/functions"
)

// Sizes, in bytes.
const (
	KB = 1 << 10
	MB = 1 << 20
)

// DefaultMemory is the memory limit of the deployed functions: a 2 MB
// image decoded by thumbnail outgrows Lumos's default of 128 MiB in a
// native process (the kernel's OOM killer ends it).
const DefaultMemory = "512Mi"

// MaxFailures bounds the failures kept in Results (all are counted).
const MaxFailures = 50

// ErrFailed is returned by Run when an answer failed or was wrong; the
// results are complete all the same.
var ErrFailed = errors.New("bench: some answers failed or were wrong")

// Config is what Run measures, and where.
type Config struct {
	// URL is the gateway's base URL; User and Password its admin credentials.
	URL, User, Password string
	// Client sends the requests; nil means a client made for the run.
	Client *http.Client
	// Workloads are the functions to measure; Runtimes the runtimes
	// (annotation lumos.runtime) to deploy each on.
	Workloads []functions.Workload
	Runtimes  []string
	// Artifact returns the artifact to upload for a function on a runtime
	// (a Wasm module, an image tarball). An error skips that pair, and is
	// reported as the reason.
	Artifact func(ctx context.Context, function, runtime string) ([]byte, error)
	// ABIs, keyed by function, give the ABI (annotation lumos.abi) to
	// deploy it with; a function not named is deployed with "loop". The C
	// functions of the suite speak "cgi" only.
	ABIs map[string]string
	// Images, keyed by function, name images the gateway can already run
	// (a registry reference for OpenFaaS): such a function is deployed by
	// that name, on every runtime, and Artifact is not called for it.
	Images map[string]string
	// Settings are the scenarios' parameters; see QuickSettings and FullSettings.
	Settings Settings
	// Memory is every deployment's memory limit (limits.memory), the same
	// on every runtime; "" means DefaultMemory.
	Memory string
	// Settle bounds the wait for a scale to zero to show; 0 means 2s.
	Settle time.Duration
	// Prefix starts the deployed functions' names; "" means "bench-".
	Prefix string
	// Progress, when set, is called after every step, from Run's goroutine.
	Progress func(Progress)
}

// Progress reports how far a run is.
type Progress struct {
	Done, Total int
	// Step names what just finished, e.g. "fib wasm-aot warm (run 1)".
	Step string
}

// FullSettings are the defaults of a full run: the paper's 1 KB to 2 MB
// inputs and 1 to 200 callers in flight, 3 runs, each point capped at 1.5 s
// a run (an interpreted 2 MB request takes up to minutes: it is measured
// once).
func FullSettings() Settings {
	return Settings{
		Runs: 3, ColdRepeats: 5, WarmRequests: 50,
		PayloadSizes: []int{1 * KB, 16 * KB, 256 * KB, 2 * MB}, PayloadRequests: 5,
		Concurrency: []int{1, 10, 50, 200}, ConcurrencySeconds: 0.5, ConcurrencyPayload: 1 * KB,
		PointSeconds: 1.5,
	}
}

// QuickSettings are a smoke run's: one run, fewer sizes and callers, short
// loops, each point capped at 0.5 s.
func QuickSettings() Settings {
	return Settings{
		Runs: 1, ColdRepeats: 2, WarmRequests: 10,
		PayloadSizes: []int{1 * KB, 16 * KB}, PayloadRequests: 3,
		Concurrency: []int{1, 8}, ConcurrencySeconds: 0.25, ConcurrencyPayload: 1 * KB,
		PointSeconds: 0.5,
	}
}

// validate checks the settings once.
func (s Settings) validate() error {
	switch {
	case s.Runs < 1:
		return errors.New("bench: runs must be at least 1")
	case s.ColdRepeats < 0, s.WarmRequests < 0, s.PayloadRequests < 0:
		return errors.New("bench: request counts must not be negative")
	case s.ConcurrencySeconds <= 0 && len(s.Concurrency) > 0:
		return errors.New("bench: the concurrency duration must be positive")
	case s.PointSeconds < 0:
		return errors.New("bench: the time cap of a point must not be negative")
	case s.ConcurrencyPayload < 0:
		return errors.New("bench: the concurrency payload must not be negative")
	}
	for _, n := range s.PayloadSizes {
		if n < 0 {
			return fmt.Errorf("bench: payload size %d is negative", n)
		}
	}
	for _, n := range s.Concurrency {
		if n < 1 {
			return fmt.Errorf("bench: concurrency %d must be at least 1", n)
		}
	}
	return nil
}

// Run measures every workload on every runtime and returns the results.
// It fails early only when the gateway cannot be reached or refuses the
// credentials; a function that cannot be deployed on a runtime is skipped
// (Results.Skipped) or failed (Results.Failures). When any answer failed or
// was wrong, Run returns the results and an error wrapping ErrFailed.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.Settings.validate(); err != nil {
		return nil, err
	}
	if cfg.Artifact == nil {
		return nil, errors.New("bench: no Artifact function")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:   15 * time.Minute, // past the 10-minute function timeout asked
			Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0, DisableCompression: true},
		}
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Second
	}
	if cfg.Memory == "" {
		cfg.Memory = DefaultMemory
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "bench-"
	}
	r := &runner{
		cfg: cfg,
		api: &apiClient{base: strings.TrimRight(cfg.URL, "/"), user: cfg.User, pass: cfg.Password, http: cfg.Client},
		res: &Results{
			Started:  time.Now().UTC(),
			Target:   cfg.URL,
			Machine:  Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
			Settings: cfg.Settings, Artifacts: []Artifact{}, Skipped: []Skip{}, Series: []Series{}, Failures: []Failure{},
		},
	}
	for _, w := range cfg.Workloads {
		r.res.Settings.Functions = append(r.res.Settings.Functions, w.Name)
	}
	r.res.Settings.Runtimes = append([]string(nil), cfg.Runtimes...)
	info, err := r.api.info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: gateway %s: %w", cfg.URL, err)
	}
	r.res.GatewayInfo = json.RawMessage(info)
	r.progress.Total = r.totalSteps()

	for _, rt := range cfg.Runtimes {
		for i, w := range cfg.Workloads {
			if err := ctx.Err(); err != nil {
				return r.finish(), err
			}
			if skipRuntime := r.measure(ctx, w, rt); skipRuntime {
				for _, rest := range cfg.Workloads[i+1:] {
					r.step(r.stepsOf(rest), rest.Name+" "+rt+" skipped")
				}
				break
			}
		}
	}
	res := r.finish()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if !res.Verified() {
		return res, fmt.Errorf("%w: %d failures", ErrFailed, max(res.FailureCount, 1))
	}
	return res, nil
}

func (r *runner) finish() *Results {
	r.res.Seconds = time.Since(r.res.Started).Seconds()
	return r.res
}

// scales reports whether w's input changes with the size asked (else a
// payload sweep of it measures the same request again). fib's does though
// its length does not: ?n=20 at 1 KB, ?n=26 at 64 KB.
func scales(w functions.Workload) bool {
	q1, b1 := w.Inputs(1 * KB)
	q2, b2 := w.Inputs(64 * KB)
	return q1 != q2 || !bytes.Equal(b1, b2)
}

// stepsOf counts the progress steps of one workload on one runtime.
func (r *runner) stepsOf(w functions.Workload) int {
	s := r.cfg.Settings
	per := 2 + len(s.Concurrency)
	if scales(w) {
		per += len(s.PayloadSizes)
	}
	return 1 + s.Runs*per
}

func (r *runner) totalSteps() int {
	n := 0
	for _, w := range r.cfg.Workloads {
		n += r.stepsOf(w)
	}
	return n * len(r.cfg.Runtimes)
}

func (r *runner) step(n int, what string) {
	r.progress.Done += n
	r.progress.Step = what
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.progress)
	}
}
