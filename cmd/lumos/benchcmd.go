package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/profiler/bench"
	"github.com/lumos-edge/lumos/profiler/report"
)

// benchOptions is everything `lumos bench` can be told.
type benchOptions struct {
	url, user, password string
	functions, runtimes []string
	quick               bool
	out                 string
	runs                int
	sizes               []string
	concurrency         []int
	duration, pointTime time.Duration
	coldRepeats, warm   int
	containerd          string
	images              map[string]string
}

func newBenchCmd() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark functions on every runtime and write a report",
		Long: `Bench deploys the workload functions on each runtime of a gateway, measures cold starts,
warm latency, a payload sweep and a concurrency sweep, verifies every answer against the known
result, and writes DIR/results.json, results.csv, summary.md and report.html.

Without --url it starts a Lumos gateway in-process on a temporary data dir (with containerd when
its socket answers, like 'lumos serve'). With --url it drives any gateway with the OpenFaaS API;
the phase breakdown comes from Lumos's Server-Timing header and is n/a elsewhere.

It exits non-zero when any answer failed or was wrong (the report says which).`,
		Example: `  lumos bench --quick
  lumos bench --functions fib,json --runtimes wasm-aot,wasm-interp --out /tmp/bench
  lumos bench --url http://127.0.0.1:8080 --password "$(cat ~/.local/share/lumos/admin-password)"
  lumos bench --url http://openfaas:8080 --runtimes default --functions fib --image fib=registry.local/fib:v1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.url, "url", "", "gateway to measure (default: start a local Lumos gateway)")
	fl.StringVar(&o.user, "user", envOr("LUMOS_USER", "admin"), "admin user of --url (env LUMOS_USER)")
	fl.StringVar(&o.password, "password", os.Getenv("LUMOS_PASSWORD"), "admin password of --url (env LUMOS_PASSWORD)")
	fl.StringSliceVar(&o.functions, "functions", nil, "workloads to run (default: all)")
	fl.StringSliceVar(&o.runtimes, "runtimes", []string{runtimeWasmAOT, runtimeWasmInterp, runtimeContainer}, "runtimes to deploy each workload on")
	fl.BoolVar(&o.quick, "quick", false, "a smoke run: fewer runs, sizes and callers, short loops (under 3 minutes)")
	fl.StringVar(&o.out, "out", "lumos-bench", "directory for the results and the report")
	fl.IntVar(&o.runs, "runs", 0, "repeat every scenario N times (default 5, or 2 with --quick)")
	fl.StringSliceVar(&o.sizes, "sizes", nil, "payload sweep sizes, e.g. 1KB,16KB,256KB,2MB")
	fl.IntSliceVar(&o.concurrency, "concurrency", nil, "callers in flight of the concurrency sweep, e.g. 1,10,50,100,200")
	fl.DurationVar(&o.duration, "duration", 0, "length of each concurrency level")
	fl.DurationVar(&o.pointTime, "point-time", -1, "cap of each cold, warm and payload point per run: it stops after its requests or this long (0: no cap; default 1.5s, or 0.5s with --quick)")
	fl.IntVar(&o.coldRepeats, "cold", -1, "cold requests per run")
	fl.IntVar(&o.warm, "warm", -1, "warm requests per run")
	fl.StringToStringVar(&o.images, "image", nil, "FUNCTION=IMAGE: deploy an image the gateway already has instead of uploading (for gateways other than Lumos; repeatable)")
	fl.StringVar(&o.containerd, "containerd", envOr("LUMOS_CONTAINERD", container.DefaultAddress),
		"containerd socket of the local gateway's container runtime (env LUMOS_CONTAINERD)")
	return cmd
}

// settings turns the flags into the scenarios' parameters.
func (o benchOptions) settings() (bench.Settings, error) {
	s := bench.FullSettings()
	if o.quick {
		s = bench.QuickSettings()
	}
	if o.runs != 0 {
		s.Runs = o.runs
	}
	if o.sizes != nil {
		s.PayloadSizes = nil
		for _, v := range o.sizes {
			n, err := parseSize(v)
			if err != nil {
				return s, fmt.Errorf("--sizes: %w", err)
			}
			s.PayloadSizes = append(s.PayloadSizes, n)
		}
	}
	if o.concurrency != nil {
		s.Concurrency = o.concurrency
	}
	if o.duration != 0 {
		s.ConcurrencySeconds = o.duration.Seconds()
	}
	if o.pointTime >= 0 {
		s.PointSeconds = o.pointTime.Seconds()
	}
	if o.coldRepeats >= 0 {
		s.ColdRepeats = o.coldRepeats
	}
	if o.warm >= 0 {
		s.WarmRequests = o.warm
	}
	return s, nil
}

// parseSize reads 2048, 2KB, 2K, 2KiB, 2MB, 2M or 2MiB (KB is 1024 bytes).
func parseSize(s string) (int, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KIB", bench.KB}, {"MIB", bench.MB}, {"KB", bench.KB}, {"MB", bench.MB}, {"K", bench.KB}, {"M", bench.MB}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 64*bench.MB/mult {
		return 0, fmt.Errorf("%q is not a size (want e.g. 1KB, 256KB, 2MB, up to 64MB)", s)
	}
	return n * mult, nil
}

// workloads picks the named workloads, in the order given; by default the
// whole suite (functions.Workloads) and then its C functions.
func workloads(names []string) ([]functions.Workload, error) {
	all := functions.Workloads()
	for _, c := range functions.CFunctions() {
		if w, ok := functions.WorkloadOf(c.Name); ok {
			all = append(all, w)
		}
	}
	if len(names) == 0 {
		return all, nil
	}
	var out []functions.Workload
	for _, n := range names {
		i := slices.IndexFunc(all, func(w functions.Workload) bool { return w.Name == n })
		if i < 0 {
			var known []string
			for _, w := range all {
				known = append(known, w.Name)
			}
			return nil, fmt.Errorf("--functions: no workload %q (have %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func runBench(cmd *cobra.Command, o benchOptions) error {
	ctx := cmd.Context()
	settings, err := o.settings()
	if err != nil {
		return err
	}
	wls, err := workloads(o.functions)
	if err != nil {
		return err
	}
	if len(o.runtimes) == 0 {
		return errors.New("--runtimes: give at least one")
	}
	stderr := cmd.ErrOrStderr()
	abis := map[string]string{}
	for _, c := range functions.CFunctions() {
		abis[c.Name] = string(c.ABI)
	}
	cfg := bench.Config{URL: o.url, User: o.user, Password: o.password, Workloads: wls, Runtimes: o.runtimes, Settings: settings,
		Images: o.images, ABIs: abis}
	local := o.url == ""
	if local {
		for _, rt := range o.runtimes {
			if rt != runtimeWasmAOT && rt != runtimeWasmInterp && rt != runtimeContainer {
				return fmt.Errorf("--runtimes %q: want %s, %s or %s", rt, runtimeWasmAOT, runtimeWasmInterp, runtimeContainer)
			}
		}
		srv, dir, err := startBenchServer(ctx, o.containerd)
		if err != nil {
			return err
		}
		defer func() {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := srv.Close(closeCtx); err != nil {
				fmt.Fprintln(stderr, "lumos bench: stop the local gateway:", err)
			}
			os.RemoveAll(dir)
		}()
		cfg.URL, cfg.User, cfg.Password = srv.url, srv.creds.User, srv.creds.Password
		fmt.Fprintf(stderr, "local gateway on %s\n", srv.url)
	}
	arts := &artifacts{sizes: local}
	if !local && slices.Contains(o.runtimes, runtimeContainer) {
		// Container images are built for the gateway's architecture.
		c := &client{base: strings.TrimRight(o.url, "/"), user: o.user, pass: o.password, http: &http.Client{Timeout: time.Minute}}
		var info gateway.InfoResponse
		if err := c.doJSON(ctx, http.MethodGet, "/system/info", nil, &info); err == nil {
			arts.arch = info.Arch
		}
	}
	cfg.Artifact = arts.get
	progress, finish := progressReporter(stderr)
	cfg.Progress = progress

	res, runErr := bench.Run(ctx, cfg)
	finish()
	if res == nil {
		return runErr
	}
	res.Local = local
	arts.fill(res.Artifacts)
	res.Command = benchCommandLine(cmd.Flags())
	if err := report.WriteFiles(o.out, res); err != nil {
		return errors.Join(runErr, err)
	}
	out := cmd.OutOrStdout()
	for _, s := range res.Skipped {
		what := s.Runtime
		if s.Function != "" {
			what = s.Function + " on " + s.Runtime
		}
		fmt.Fprintf(stderr, "skipped %s: %s\n", what, s.Reason)
	}
	fmt.Fprintf(out, "%d series in %.0f s; report in %s\n", len(res.Series), res.Seconds, filepath.Join(o.out, report.FileHTML))
	for _, c := range report.Compare(res) {
		fmt.Fprintf(out, "  %-52s paper: %-32s here: %s\n", c.Metric, c.Paper, c.Here)
	}
	if runErr != nil {
		for _, f := range res.Failures {
			fmt.Fprintf(stderr, "FAILED %s %s %s x=%d: %s\n", f.Function, f.Runtime, f.Scenario, f.X, f.Error)
		}
		return runErr
	}
	if len(res.Series) == 0 {
		return errors.New("nothing was measured: every function and runtime was skipped")
	}
	fmt.Fprintln(out, "every answer verified")
	return nil
}

// startBenchServer starts a gateway for the bench on a temporary data dir:
// no bundled functions, loopback, an ephemeral port.
func startBenchServer(ctx context.Context, containerd string) (*server, string, error) {
	dir, err := os.MkdirTemp("", "lumos-bench-")
	if err != nil {
		return nil, "", err
	}
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	srv, err := startServer(ctx, serveOptions{
		addr: "127.0.0.1:0", dataDir: dir, defaultRuntime: runtimeWasmAOT,
		adminUser: "admin", adminPassword: hex.EncodeToString(pw[:]),
		maxBody: 16 << 20, maxArtifact: 128 << 20,
		defaultTimeout: time.Minute, maxTimeout: 10 * time.Minute,
		containerd: containerd, logLevel: "error", metrics: true,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("start the local gateway: %w", err)
	}
	return srv, dir, nil
}

// artifacts makes what the bench uploads: the embedded module for the Wasm
// runtimes, an image built from the function's source for container (with
// gcc for the C functions, as `lumos build` does). With sizes set it also
// measures what `lumos build --suite` reports: the AoT artifact of each
// module deployed on wasm-aot, and each image's layers compressed and
// unpacked.
type artifacts struct {
	arch  string // GOARCH of container images; "" is this machine's
	sizes bool

	mu       sync.Mutex
	dir      string               // the functions directory of the source tree, once found
	measured map[[2]string][3]int // (function, runtime) -> AoT, compressed, unpacked bytes
}

func (a *artifacts) get(ctx context.Context, function, runtime string) ([]byte, error) {
	var art []byte
	var err error
	if runtime != runtimeContainer {
		art, err = functions.Wasm(function)
	} else {
		var src string
		if src, err = a.source(ctx, function); err != nil {
			return nil, err
		}
		art, err = buildFunction(ctx, src, buildOptions{runtime: runtimeContainer, arch: a.arch})
	}
	if err != nil || !a.sizes {
		return art, err
	}
	return art, a.measure(ctx, function, runtime, art)
}

// measure records the sizes of art past its own.
func (a *artifacts) measure(ctx context.Context, function, runtime string, art []byte) error {
	var m [3]int
	switch runtime {
	case runtimeWasmAOT:
		abi := invoker.ABILoop
		if isCFunction(function) {
			abi = invoker.ABICGI
		}
		dir, err := os.MkdirTemp("", "lumos-bench-aot-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		n, err := aotSize(ctx, function, abi, art, dir)
		if err != nil {
			return err
		}
		m[0] = int(n)
	case runtimeContainer:
		c, u, err := imageSizes(art)
		if err != nil {
			return fmt.Errorf("image of %s: %w", function, err)
		}
		m[1], m[2] = int(c), int(u)
	default:
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.measured == nil {
		a.measured = map[[2]string][3]int{}
	}
	a.measured[[2]string{function, runtime}] = m
	return nil
}

// fill adds the measured sizes to the results' artifacts.
func (a *artifacts) fill(arts []bench.Artifact) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range arts {
		m := a.measured[[2]string{arts[i].Function, arts[i].Runtime}]
		arts[i].AOTBytes, arts[i].ImageCompressedBytes, arts[i].ImageUnpackedBytes = m[0], m[1], m[2]
	}
}

func isCFunction(name string) bool {
	return slices.ContainsFunc(functions.CFunctions(), func(b functions.Bundled) bool { return b.Name == name })
}

// source finds the source of a bundled function, the Go package's
// directory or the C file: the bench builds container images from the
// module it runs in (the go command must be on PATH and the lumos source
// at hand).
func (a *artifacts) source(ctx context.Context, function string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dir == "" {
		pkg := "github.com/lumos-edge/lumos/functions"
		out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("find the source of %s to build its container image (run lumos bench inside the lumos source tree): %s",
				pkg, strings.TrimSpace(string(out)))
		}
		a.dir = strings.TrimSpace(string(out))
	}
	if isCFunction(function) {
		return filepath.Join(a.dir, "c", strings.TrimPrefix(function, "c-")+".c"), nil
	}
	return filepath.Join(a.dir, function), nil
}

// progressReporter shows progress on w: a bar when w is a terminal, a line
// per step otherwise. finish ends the bar.
func progressReporter(w io.Writer) (func(bench.Progress), func()) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func(p bench.Progress) { fmt.Fprintf(w, "[%d/%d] %s\n", p.Done, p.Total, p.Step) }, func() {}
	}
	var bar *progressbar.ProgressBar
	return func(p bench.Progress) {
			if bar == nil {
				bar = progressbar.NewOptions(p.Total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
					progressbar.OptionSetWidth(30), progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth())
			}
			bar.Describe(p.Step)
			_ = bar.Set(p.Done) // drawing to a terminal; a failed draw changes no result
		}, func() {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(w)
			}
		}
}

// benchCommandLine is the command as run, without the password.
func benchCommandLine(fl *pflag.FlagSet) string {
	parts := []string{"lumos bench"}
	fl.Visit(func(f *pflag.Flag) {
		if f.Name == "password" {
			return
		}
		v := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			v = strings.Join(sv.GetSlice(), ",")
		}
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name+" "+v)
	})
	return strings.Join(parts, " ")
}
