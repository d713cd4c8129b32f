// Package report renders the results of package profiler/bench: JSON, CSV
// (one row per function, runtime, scenario and point), a Markdown summary,
// and one self-contained HTML page whose charts are inline SVG drawn here (no
// script, nothing from the network). Both summaries open with the Lumos
// paper's headline comparisons beside this run's (see Compare).
package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/lumos-edge/lumos/profiler/bench"
)

// File names WriteFiles writes.
const (
	FileJSON     = "results.json"
	FileCSV      = "results.csv"
	FileMarkdown = "summary.md"
	FileHTML     = "report.html"
)

// WriteFiles writes the four renderings of res into dir (created if absent).
func WriteFiles(dir string, res *bench.Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name   string
		render func(io.Writer, *bench.Results) error
	}{{FileJSON, JSON}, {FileCSV, CSV}, {FileMarkdown, Markdown}, {FileHTML, HTML}} {
		if err := writeFile(filepath.Join(dir, f.name), res, f.render); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, res *bench.Results, render func(io.Writer, *bench.Results) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if err := render(f, res); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// JSON writes res as indented JSON; bench.Results decodes it back.
func JSON(w io.Writer, res *bench.Results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// CSVHeader is the header row of CSV. Latencies are milliseconds; phase
// columns are empty when the gateway reported none.
func CSVHeader() []string {
	h := []string{"function", "runtime", "scenario", "x", "requests", "ok", "verified",
		"mean_ms", "p50_ms", "p95_ms", "p99_ms", "min_ms", "max_ms", "ci95_low_ms", "ci95_high_ms", "throughput_rps",
		"samples", "runs", "capped_runs"}
	for _, p := range bench.PhaseNames() {
		h = append(h, p+"_ms")
	}
	return h
}

// CSV writes one row per point of every series of res.
func CSV(w io.Writer, res *bench.Results) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	for _, s := range res.Series {
		for _, p := range s.Points {
			l := p.Latency
			row := []string{s.Function, s.Runtime, s.Scenario, strconv.Itoa(p.X),
				strconv.Itoa(p.Requests), strconv.Itoa(p.OK), strconv.Itoa(p.Verified),
				f(l.Mean), f(l.P50), f(l.P95), f(l.P99), f(l.Min), f(l.Max), f(l.CILow), f(l.CIHigh), "",
				strconv.Itoa(l.N), strconv.Itoa(p.Runs), strconv.Itoa(p.Capped)}
			if s.Scenario == bench.ScenarioConcurrency {
				row[15] = f(p.Throughput)
			}
			for _, name := range bench.PhaseNames() {
				if p.Phases == nil {
					row = append(row, "")
				} else {
					row = append(row, f(p.Phases[name]))
				}
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// runtimesOf lists the runtimes that have series in res, in the settings' order.
func runtimesOf(res *bench.Results) []string {
	var out []string
	for _, rt := range res.Settings.Runtimes {
		for _, s := range res.Series {
			if s.Runtime == rt {
				out = append(out, rt)
				break
			}
		}
	}
	return out
}

// ioShare is the io phase's share of the phases' total at p, or NaN.
func ioShare(p bench.Point) float64 {
	if p.Phases == nil {
		return math.NaN()
	}
	total := 0.0
	for _, v := range p.Phases {
		total += v
	}
	if total <= 0 {
		return math.NaN()
	}
	return p.Phases[bench.PhaseIO] / total
}

// xLabel says what a point's X is in its scenario.
func xLabel(scenario string, x int) string {
	if scenario == bench.ScenarioConcurrency {
		return strconv.Itoa(x) + " in flight"
	}
	return bench.FormatBytes(x)
}

// scenarioOrder sorts series for the tables.
func sortedSeries(res *bench.Results) []bench.Series {
	order := map[string]int{bench.ScenarioCold: 0, bench.ScenarioWarm: 1, bench.ScenarioPayload: 2, bench.ScenarioConcurrency: 3}
	out := slices.Clone(res.Series)
	slices.SortStableFunc(out, func(a, b bench.Series) int { return order[a.Scenario] - order[b.Scenario] })
	return out
}
