package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/lumos-edge/lumos/profiler/bench"
)

// Markdown writes a summary of res: the paper's comparisons, the setup, one
// table per scenario, and what was skipped or failed.
func Markdown(w io.Writer, res *bench.Results) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

	p("# Lumos benchmark\n\n")
	p("%s\n\n", verdict(res))
	p("## The paper vs this machine\n\n")
	p("| comparison | paper (Raspberry Pi, Knative, WasmEdge, Rust) | this machine | why they differ |\n|---|---|---|---|\n")
	for _, c := range Compare(res) {
		p("| %s | %s | %s | %s |\n", cell(c.Metric), cell(c.Paper), cell(c.Here), cell(c.Why))
	}
	if gap := GuestGap(res); len(gap) > 0 {
		p("\n## Guest language: C vs Go on the same runtime\n\n")
		for _, l := range gap {
			p("- %s\n", cell(l))
		}
	}
	p("\n## Setup\n\n")
	for _, l := range setupLines(res) {
		p("- %s\n", cell(l))
	}
	for _, sc := range []string{bench.ScenarioCold, bench.ScenarioWarm, bench.ScenarioPayload, bench.ScenarioConcurrency} {
		first := true
		for _, s := range res.Series {
			if s.Scenario != sc {
				continue
			}
			if first {
				p("\n## %s\n\n", scenarioTitle(sc))
				p("| function | runtime | %s | n | mean ms | 95%% CI ms | p50 | p95 | p99 | %s |\n|---|---|---|---|---|---|---|---|---|---|\n",
					xHeader(sc), lastHeader(sc))
				first = false
			}
			for _, pt := range s.Points {
				l := pt.Latency
				p("| %s | %s | %s | %d | %s | %s–%s | %s | %s | %s | %s |\n", cell(s.Function), cell(s.Runtime), xLabel(sc, pt.X), l.N,
					num(l.Mean), num(l.CILow), num(l.CIHigh), num(l.P50), num(l.P95), num(l.P99), lastCell(sc, pt))
			}
		}
	}
	if len(res.Artifacts) > 0 {
		p("\n## Artifacts\n\nUploaded: the Wasm module, or the image tarball. AoT: the wasm-aot runtime's compiled artifact. Image: its layers compressed (a pull) and unpacked (on disk).\n\n")
		p("| function | runtime | uploaded bytes | AoT compiled | image compressed | image unpacked |\n|---|---|---|---|---|---|\n")
		opt := func(n int) string {
			if n == 0 {
				return "–"
			}
			return fmt.Sprintf("%d (%s)", n, bench.FormatBytes(n))
		}
		for _, a := range res.Artifacts {
			p("| %s | %s | %s | %s | %s | %s |\n", cell(a.Function), cell(a.Runtime), opt(a.Bytes), opt(a.AOTBytes), opt(a.ImageCompressedBytes), opt(a.ImageUnpackedBytes))
		}
	}
	if len(res.Skipped) > 0 {
		p("\n## Skipped\n\n")
		for _, s := range res.Skipped {
			p("- %s %s: %s\n", cell(s.Runtime), cell(s.Function), cell(s.Reason))
		}
	}
	if res.FailureCount > 0 {
		p("\n## Failures (%d, first %d)\n\n", res.FailureCount, len(res.Failures))
		for _, f := range res.Failures {
			p("- %s %s %s x=%d status %d: %s\n", cell(f.Function), cell(f.Runtime), cell(f.Scenario), f.X, f.Status, cell(f.Error))
		}
	}
	return b.Flush()
}

// verdict says whether every answer was verified.
func verdict(res *bench.Results) string {
	n := 0
	for _, s := range res.Series {
		for _, p := range s.Points {
			n += p.Verified
		}
	}
	if res.Verified() {
		return fmt.Sprintf("Every answer verified: %d answers checked against known results, none wrong or failed.", n)
	}
	return fmt.Sprintf("NOT VERIFIED: %d failed or wrong answers (%d verified).", res.FailureCount, n)
}

func setupLines(res *bench.Results) []string {
	s := res.Settings
	where := "a gateway at " + res.Target
	if res.Local {
		where = "a local Lumos gateway started in-process (" + res.Target + ")"
	}
	l := []string{
		fmt.Sprintf("Target: %s; client %s/%s, %d CPUs, %s.", where, res.Machine.OS, res.Machine.Arch, res.Machine.CPUs, res.Machine.GoVersion),
		fmt.Sprintf("Started %s, took %.0f s.", res.Started.Format("2006-01-02 15:04 MST"), res.Seconds),
		fmt.Sprintf("Functions %s on runtimes %s; %d run(s).", strings.Join(s.Functions, ", "), strings.Join(s.Runtimes, ", "), s.Runs),
		fmt.Sprintf("Cold: %d requests per run, each after a scale to zero. Warm: %d sequential requests after one warm-up.", s.ColdRepeats, s.WarmRequests),
		fmt.Sprintf("Payload sweep: %s, %d requests each (functions whose input scales). Concurrency sweep: %s callers in a closed loop for %g s each, %s inputs.",
			sizes(s.PayloadSizes), s.PayloadRequests, ints(s.Concurrency), s.ConcurrencySeconds, bench.FormatBytes(s.ConcurrencyPayload)),
		capLine(s),
		"Latency is end to end at the client, in milliseconds; the 95% CI of the mean (Student's t) comes from the runs' means with 3 runs or more, else from the samples. Phases come from the gateway's Server-Timing header.",
	}
	if res.Command != "" {
		l = append(l, "Command: `"+res.Command+"`")
	}
	return l
}

// capLine words the time cap of a point.
func capLine(s bench.Settings) string {
	if s.PointSeconds <= 0 {
		return "No time cap: every point sends all its requests in every run."
	}
	return fmt.Sprintf("Each cold, warm and payload point stops after its requests or %g s, whichever comes first, in each run "+
		"(n counts the samples it got); a point whose one request outlasts the cap is slow and measured in the first run only.", s.PointSeconds)
}

func sizes(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, bench.FormatBytes(n))
	}
	return strings.Join(out, ", ")
}

func ints(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprint(n))
	}
	return strings.Join(out, ", ")
}

func scenarioTitle(sc string) string {
	switch sc {
	case bench.ScenarioCold:
		return "Cold start (scaled to zero before each request)"
	case bench.ScenarioWarm:
		return "Warm latency"
	case bench.ScenarioPayload:
		return "Warm latency against payload size"
	}
	return "Throughput and tail latency against concurrency"
}

func xHeader(sc string) string {
	if sc == bench.ScenarioConcurrency {
		return "callers"
	}
	return "request"
}

func lastHeader(sc string) string {
	if sc == bench.ScenarioConcurrency {
		return "req/s"
	}
	return "io share"
}

func lastCell(sc string, p bench.Point) string {
	if sc == bench.ScenarioConcurrency {
		return num(p.Throughput)
	}
	if s := ioShare(p); !math.IsNaN(s) {
		return fmt.Sprintf("%.1f%%", 100*s)
	}
	return "n/a"
}
