package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/profiler/bench"
	"github.com/lumos-edge/lumos/profiler/report"
)

// TestBenchQuickSuite is CI's smoke run of the benchmark: `lumos bench
// --quick` over every workload of the suite and its C functions, on all
// three runtimes (containerd a private daemon; under CI=true a missing
// containerd fails the test), from a lumos binary built without -race so
// the AoT compiles run at full speed. It checks the report files'
// structure and that every function answered correctly on every runtime.
func TestBenchQuickSuite(t *testing.T) {
	d := privateContainerd(t)
	bin := buildLumos(t)
	out := filepath.Join(t.TempDir(), "report")
	cmd := exec.Command(bin, "bench", "--quick", "--containerd", d.Socket, "--out", out)
	raw, err := cmd.CombinedOutput()
	log := string(raw)
	if err != nil {
		t.Fatalf("lumos bench --quick: %v\n%s", err, log)
	}
	for _, want := range []string{"local gateway on http://127.0.0.1:", "[1/", "every answer verified", "report.html"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}

	fns := []string{"hello", "fib", "prime", "nbody", "mandelbrot", "audio", "thumbnail", "fuzzy", "langdetect", "aes", "json", "gzip", "c-fib", "c-prime"}
	runtimes := []string{"wasm-aot", "wasm-interp", "container"}
	res := checkResultsJSON(t, filepath.Join(out, report.FileJSON), fns, runtimes)
	points := checkSeries(t, res, fns, runtimes)
	checkArtifacts(t, res, fns, runtimes)
	checkCSV(t, filepath.Join(out, report.FileCSV), points)
	checkMarkdown(t, filepath.Join(out, report.FileMarkdown))
	checkHTML(t, filepath.Join(out, report.FileHTML))
}

// checkResultsJSON checks results.json's fields and that the run covered
// fns on runtimes, verified, skipping nothing.
func checkResultsJSON(t *testing.T, path string, fns, runtimes []string) *bench.Results {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	for _, k := range []string{"started", "seconds", "target", "local", "command", "machine", "gatewayInfo", "settings", "artifacts", "skipped", "series", "failures", "failureCount"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("results.json lacks %q", k)
		}
	}
	var res bench.Results
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if !res.Verified() || res.FailureCount != 0 || !res.Local || len(res.Skipped) != 0 {
		t.Fatalf("verified %v, failures %+v, local %v, skipped %+v", res.Verified(), res.Failures, res.Local, res.Skipped)
	}
	if !reflect.DeepEqual(res.Settings.Functions, fns) || !reflect.DeepEqual(res.Settings.Runtimes, runtimes) {
		t.Errorf("ran %v on %v, want %v on %v", res.Settings.Functions, res.Settings.Runtimes, fns, runtimes)
	}
	if q := bench.QuickSettings(); res.Settings.Runs != q.Runs || res.Settings.PointSeconds != q.PointSeconds || !strings.Contains(res.Command, "--quick") {
		t.Errorf("settings %+v, command %q: not --quick's", res.Settings, res.Command)
	}
	return &res
}

// checkSeries checks that every function answered correctly on every
// runtime in every scenario, with the gateway's phases; it returns the
// number of points.
func checkSeries(t *testing.T, res *bench.Results, fns, runtimes []string) int {
	t.Helper()
	points := 0
	for _, s := range res.Series {
		points += len(s.Points)
	}
	for _, fn := range fns {
		scenarios := []string{bench.ScenarioCold, bench.ScenarioWarm, bench.ScenarioPayload, bench.ScenarioConcurrency}
		if fn == "hello" { // its input does not scale: no payload sweep
			scenarios = slices.Delete(scenarios, 2, 3)
		}
		for _, rt := range runtimes {
			for _, sc := range scenarios {
				s := res.Find(fn, rt, sc)
				if s == nil || len(s.Points) == 0 {
					t.Errorf("no series %s %s %s", fn, rt, sc)
					continue
				}
				for _, p := range s.Points {
					if p.Requests == 0 || p.Verified != p.Requests || p.Latency.N == 0 || p.Runs != 1 {
						t.Errorf("%s %s %s x=%d: %d of %d verified, %d samples, %d runs", fn, rt, sc, p.X, p.Verified, p.Requests, p.Latency.N, p.Runs)
					}
					if p.Phases == nil || p.Phases[bench.PhaseExecute] <= 0 {
						t.Errorf("%s %s %s x=%d: no execute phase from Server-Timing: %v", fn, rt, sc, p.X, p.Phases)
					}
				}
			}
			if cold := res.Find(fn, rt, bench.ScenarioCold); cold != nil && cold.Points[0].Phases[bench.PhaseCold] <= 0 {
				t.Errorf("%s %s cold: phases %v, want a cold phase", fn, rt, cold.Points[0].Phases)
			}
		}
	}
	return points
}

// checkArtifacts checks the sizes `lumos build --suite`'s code measured.
func checkArtifacts(t *testing.T, res *bench.Results, fns, runtimes []string) {
	t.Helper()
	if len(res.Artifacts) != len(fns)*len(runtimes) {
		t.Errorf("%d artifacts, want %d", len(res.Artifacts), len(fns)*len(runtimes))
	}
	for _, a := range res.Artifacts {
		goFn := !strings.HasPrefix(a.Function, "c-")
		switch {
		case a.Bytes <= 0:
			t.Errorf("artifact %+v: no size", a)
		case a.Runtime != "container" && goFn && a.Bytes < 1<<20:
			t.Errorf("artifact %+v: a Go Wasm module is megabytes", a)
		case a.Runtime == "wasm-aot" && a.AOTBytes <= 0:
			t.Errorf("artifact %+v: no AoT size", a)
		case a.Runtime == "container" && (a.ImageCompressedBytes <= 0 || a.ImageUnpackedBytes <= a.ImageCompressedBytes):
			t.Errorf("artifact %+v: want compressed and larger unpacked image sizes", a)
		case a.Runtime != "container" && (a.ImageCompressedBytes != 0 || a.ImageUnpackedBytes != 0):
			t.Errorf("artifact %+v: image sizes for a module", a)
		}
		if a.Runtime != "container" {
			if mod, err := functions.Wasm(a.Function); err != nil || len(mod) != a.Bytes {
				t.Errorf("artifact %+v: the embedded module is %d bytes (%v)", a, len(mod), err)
			}
		}
	}
}

func checkCSV(t *testing.T, path string, points int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(table[0], report.CSVHeader()) || len(table)-1 != points {
		t.Errorf("results.csv: header %v, %d rows, want %d", table[0], len(table)-1, points)
	}
	verified := slices.Index(table[0], "verified")
	requests := slices.Index(table[0], "requests")
	for _, row := range table[1:] {
		if row[verified] != row[requests] || row[requests] == "0" {
			t.Errorf("results.csv row %v: not every request verified", row)
		}
	}
}

func checkMarkdown(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	prev := -1
	// In this order: the paper's table opens the summary.
	for _, want := range []string{"# Lumos benchmark", "Every answer verified", "## The paper vs this machine", "## Guest language: C vs Go on the same runtime",
		"## Setup", "## Cold start", "## Warm latency", "## Warm latency against payload size", "## Throughput and tail latency", "## Artifacts"} {
		i := strings.Index(md, want)
		if i < 0 || i < prev {
			t.Errorf("summary.md lacks %q, or has it out of order", want)
			continue
		}
		prev = i
	}
	for _, want := range []string{"interpreted up to", "fib vs c-fib", "prime vs c-prime", "container image vs AoT Wasm module"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

func checkHTML(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	for _, id := range []string{"paper", "guest", "setup", "charts", "results", "artifacts"} {
		if !strings.Contains(page, `<section id="`+id+`">`) {
			t.Errorf("report.html lacks section %q", id)
		}
	}
	for _, id := range []string{"cold", "payload", "io-share", "throughput", "p99", "sizes"} {
		if !strings.Contains(page, `<figure id="`+id+`"><svg`) {
			t.Errorf("report.html lacks chart %q", id)
		}
	}
	if n := strings.Count(page, "<svg"); n != 6 || strings.Contains(page, "<script") {
		t.Errorf("report.html: %d charts (want 6), script %v", n, strings.Contains(page, "<script"))
	}
}

func TestBenchFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--functions", "nope"}, `no workload "nope"`},
		{[]string{"--sizes", "12XB"}, "--sizes"},
		{[]string{"--runtimes", "docker"}, `--runtimes "docker"`},
		{[]string{"--runs", "-1"}, "runs must be at least 1"},
		{[]string{"--functions", "c-nope"}, `no workload "c-nope"`},
	} {
		if _, err := runCLI(t, "", append([]string{"bench", "--out", t.TempDir()}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
	o := benchOptions{quick: true, pointTime: 3 * time.Second, coldRepeats: -1, warm: -1}
	if s, err := o.settings(); err != nil || s.PointSeconds != 3 || s.Runs != bench.QuickSettings().Runs {
		t.Errorf("--quick --point-time 3s: %+v, %v", s, err)
	}
	o.pointTime = -1
	if s, _ := o.settings(); s.PointSeconds != bench.QuickSettings().PointSeconds {
		t.Errorf("--quick: point cap %v", s.PointSeconds)
	}
	for in, want := range map[string]int{"2048": 2048, "1KB": 1024, "16k": 16 << 10, "2MB": 2 << 20, "2MiB": 2 << 20, "512B": 512} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
