package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/profiler/bench"
	"github.com/lumos-edge/lumos/profiler/report"
)

// TestBenchQuick runs `lumos bench --quick` on hello and fib against a local
// gateway on both Wasm runtimes, shrunk further to stay fast, and checks the
// files it writes and that every answer was verified.
func TestBenchQuick(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report")
	log, err := runCLI(t, "", "bench", "--quick", "--functions", "hello,fib", "--runtimes", "wasm-aot,wasm-interp",
		"--out", out, "--runs", "1", "--cold", "2", "--warm", "3", "--concurrency", "1,4", "--duration", "100ms")
	if err != nil {
		t.Fatalf("lumos bench: %v\n%s", err, log)
	}
	for _, want := range []string{"local gateway on http://127.0.0.1:", "[1/", "every answer verified", "report.html"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}

	raw, err := os.ReadFile(filepath.Join(out, report.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if !res.Verified() || res.FailureCount != 0 || !res.Local {
		t.Fatalf("verified %v, failures %+v, local %v", res.Verified(), res.Failures, res.Local)
	}
	if !strings.Contains(res.Command, "--functions hello,fib") {
		t.Errorf("command %q", res.Command)
	}
	// hello and fib do not scale with size: no payload sweep.
	if len(res.Series) != 2*2*3 {
		t.Errorf("%d series, want 12 (2 functions x 2 runtimes x cold, warm, concurrency)", len(res.Series))
	}
	rows := 0
	for _, fn := range []string{"hello", "fib"} {
		for _, rt := range []string{"wasm-aot", "wasm-interp"} {
			for _, sc := range []string{bench.ScenarioCold, bench.ScenarioWarm, bench.ScenarioConcurrency} {
				s := res.Find(fn, rt, sc)
				if s == nil {
					t.Errorf("no series %s %s %s", fn, rt, sc)
					continue
				}
				for _, p := range s.Points {
					rows++
					if p.Requests == 0 || p.Verified != p.Requests {
						t.Errorf("%s %s %s x=%d: %d of %d verified", fn, rt, sc, p.X, p.Verified, p.Requests)
					}
					if p.Phases == nil || p.Phases[bench.PhaseExecute] <= 0 {
						t.Errorf("%s %s %s x=%d: no execute phase from Server-Timing: %v", fn, rt, sc, p.X, p.Phases)
					}
				}
			}
			cold := res.Find(fn, rt, bench.ScenarioCold)
			if cold != nil && (cold.Points[0].Starts["cold"] != 2 || cold.Points[0].Phases[bench.PhaseCold] <= 0) {
				t.Errorf("%s %s cold: starts %v, phases %v: want 2 cold starts with a cold phase", fn, rt, cold.Points[0].Starts, cold.Points[0].Phases)
			}
		}
	}
	for _, a := range res.Artifacts {
		if a.Bytes < 1<<20 {
			t.Errorf("artifact %+v: a Go Wasm module is megabytes", a)
		}
	}

	f, err := os.Open(filepath.Join(out, report.FileCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(table[0], report.CSVHeader()) || len(table)-1 != rows {
		t.Errorf("results.csv: header %v, %d rows, want %d", table[0], len(table)-1, rows)
	}

	md, err := os.ReadFile(filepath.Join(out, report.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## The paper vs this machine", "Every answer verified", "interpreted up to"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	page, err := os.ReadFile(filepath.Join(out, report.FileHTML))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 6 || strings.Contains(string(page), "<script") {
		t.Errorf("report.html: %d charts (want 6), script %v", n, strings.Contains(string(page), "<script"))
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
	} {
		if _, err := runCLI(t, "", append([]string{"bench", "--out", t.TempDir()}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
	for in, want := range map[string]int{"2048": 2048, "1KB": 1024, "16k": 16 << 10, "2MB": 2 << 20, "2MiB": 2 << 20, "512B": 512} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
