package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"

	"github.com/lumos-edge/lumos/profiler/bench"
)

// chart is one figure of the HTML report.
type chart struct {
	ID, Title, Caption string
	SVG                template.HTML
}

// row is one line of the HTML summary table.
type row struct {
	Function, Runtime, Scenario, X               string
	N                                            int
	Mean, CI, P50, P95, P99, Throughput, IOShare string
}

type htmlView struct {
	Verdict  string
	Verified bool
	Claims   []Claim
	Gap      []string
	Setup    []string
	Charts   []chart
	Rows     []row
	Res      *bench.Results
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Lumos benchmark</title>
<style>
body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#176b1d}.bad{color:#b00020;font-weight:bold}
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555;max-width:720px}
svg.chart{max-width:100%;height:auto;background:#fff}
</style></head>
<body>
<h1>Lumos benchmark</h1>
<p id="verdict" class="{{if .Verified}}ok{{else}}bad{{end}}">{{.Verdict}}</p>

<section id="paper">
<h2>The paper vs this machine</h2>
<p>The headline comparisons of Marcelino et al., <em>Lumos: Performance Characterization of WebAssembly as a
Serverless Runtime in the Edge-Cloud Continuum</em> (IoT 2025; Rust functions on WasmEdge and on containers,
Knative and MicroK8s on a Raspberry Pi cluster), beside the same ratios measured here (Go functions on wazero and on
containerd + runc, x86-64).</p>
<table>
<tr><th>comparison</th><th>paper</th><th>this machine</th><th>why they differ</th></tr>
{{range .Claims}}<tr><td>{{.Metric}}</td><td>{{.Paper}}</td><td>{{.Here}}</td><td>{{.Why}}</td></tr>
{{end}}</table>
</section>
{{if .Gap}}
<section id="guest">
<h2>Guest language: C vs Go on the same runtime</h2>
<ul>{{range .Gap}}<li>{{.}}</li>{{end}}</ul>
</section>
{{end}}
<section id="setup">
<h2>Setup</h2>
<ul>{{range .Setup}}<li>{{.}}</li>{{end}}</ul>
</section>

<section id="charts">
<h2>Charts</h2>
{{range .Charts}}<figure id="{{.ID}}">{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>
{{end}}</section>

<section id="results">
<h2>All results</h2>
<table>
<tr><th>function</th><th>runtime</th><th>scenario</th><th>x</th><th>n</th><th>mean ms</th><th>95% CI ms</th><th>p50</th><th>p95</th><th>p99</th><th>req/s</th><th>io share</th></tr>
{{range .Rows}}<tr><td>{{.Function}}</td><td>{{.Runtime}}</td><td>{{.Scenario}}</td><td>{{.X}}</td><td class="num">{{.N}}</td><td class="num">{{.Mean}}</td><td class="num">{{.CI}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.Throughput}}</td><td class="num">{{.IOShare}}</td></tr>
{{end}}</table>
</section>

{{if .Res.Artifacts}}<section id="artifacts"><h2>Artifacts</h2>
<p>Uploaded: the Wasm module, or the image tarball. AoT: the wasm-aot runtime's compiled artifact. Image: its layers compressed (a pull) and unpacked (on disk). Bytes.</p>
<table>
<tr><th>function</th><th>runtime</th><th>uploaded</th><th>AoT compiled</th><th>image compressed</th><th>image unpacked</th></tr>
{{range .Res.Artifacts}}<tr><td>{{.Function}}</td><td>{{.Runtime}}</td><td class="num">{{.Bytes}}</td><td class="num">{{.AOTBytes}}</td><td class="num">{{.ImageCompressedBytes}}</td><td class="num">{{.ImageUnpackedBytes}}</td></tr>
{{end}}</table></section>{{end}}
{{if .Res.Skipped}}<section id="skipped"><h2>Skipped</h2><ul>
{{range .Res.Skipped}}<li>{{.Runtime}} {{.Function}}: {{.Reason}}</li>{{end}}
</ul></section>{{end}}
{{if .Res.Failures}}<section id="failures"><h2>Failures ({{.Res.FailureCount}})</h2><ul>
{{range .Res.Failures}}<li>{{.Function}} {{.Runtime}} {{.Scenario}} x={{.X}} status {{.Status}}: {{.Error}}</li>{{end}}
</ul></section>{{end}}
</body></html>
`))

// HTML writes one self-contained page: the paper's comparisons, the setup,
// the charts as inline SVG, and every result.
func HTML(w io.Writer, res *bench.Results) error {
	v := htmlView{Verdict: verdict(res), Verified: res.Verified(), Claims: Compare(res), Gap: GuestGap(res), Setup: setupLines(res), Charts: charts(res), Res: res}
	for _, s := range sortedSeries(res) {
		for _, p := range s.Points {
			l := p.Latency
			r := row{Function: s.Function, Runtime: s.Runtime, Scenario: s.Scenario, X: xLabel(s.Scenario, p.X), N: l.N,
				Mean: num(l.Mean), CI: num(l.CILow) + "–" + num(l.CIHigh), P50: num(l.P50), P95: num(l.P95), P99: num(l.P99), IOShare: "n/a"}
			if s.Scenario == bench.ScenarioConcurrency {
				r.Throughput = num(p.Throughput)
			}
			if sh := ioShare(p); !math.IsNaN(sh) {
				r.IOShare = fmt.Sprintf("%.1f%%", 100*sh)
			}
			v.Rows = append(v.Rows, r)
		}
	}
	return page.Execute(w, v)
}

// charts draws the report's figures from res.
func charts(res *bench.Results) []chart {
	rts := runtimesOf(res)
	fns := res.Settings.Functions
	var out []chart

	var coldGroups []group
	for _, fn := range fns {
		g := group{Label: fn}
		for _, rt := range rts {
			m, ok := meanOf(res, fn, rt, bench.ScenarioCold)
			g.Values = append(g.Values, nanUnless(m, ok))
		}
		coldGroups = append(coldGroups, g)
	}
	out = append(out, chart{ID: "cold", Title: "Cold start by runtime",
		Caption: "Mean end-to-end latency of a request that found no instance (the function scaled to zero before it), milliseconds, log scale.",
		SVG:     barChart("Cold start by runtime (ms, log)", "ms", true, rts, coldGroups)})

	var payload []line
	for _, s := range res.Series {
		if s.Scenario != bench.ScenarioPayload {
			continue
		}
		l := styled(res, s)
		for _, p := range s.Points {
			if p.Latency.N > 0 {
				l.X, l.Y = append(l.X, float64(p.X)), append(l.Y, p.Latency.Mean)
			}
		}
		payload = append(payload, l)
	}
	out = append(out, chart{ID: "payload", Title: "Warm latency against payload",
		Caption: "Mean warm latency against the request's size, for the functions whose input scales; both axes log scale.",
		SVG:     lineChart("Warm latency vs payload", "request bytes (log)", "ms (log)", true, true, payload)})

	parts := []string{bench.PhaseQueue, bench.PhaseExecute, bench.PhaseIO, bench.PhaseGateway}
	var shares []stack
	for _, s := range res.Series {
		if s.Scenario != bench.ScenarioWarm && s.Scenario != bench.ScenarioPayload {
			continue
		}
		for _, p := range s.Points {
			if p.Phases == nil {
				continue
			}
			st := stack{Label: s.Function + " " + s.Runtime + " " + bench.FormatBytes(p.X)}
			for _, name := range parts {
				st.Values = append(st.Values, p.Phases[name])
			}
			shares = append(shares, st)
		}
	}
	out = append(out, chart{ID: "io-share", Title: "I/O-serialization share",
		Caption: "Where a warm invocation's time inside the gateway goes, from its Server-Timing: io is the request and response copied into and out of the instance.",
		SVG:     shareChart("Share of each phase, warm", parts, shares)})

	var tput, p99 []line
	for _, s := range res.Series {
		if s.Scenario != bench.ScenarioConcurrency {
			continue
		}
		lt, lp := styled(res, s), styled(res, s)
		for _, p := range s.Points {
			if p.Latency.N == 0 {
				continue
			}
			lt.X, lt.Y = append(lt.X, float64(p.X)), append(lt.Y, p.Throughput)
			lp.X, lp.Y = append(lp.X, float64(p.X)), append(lp.Y, p.Latency.P99)
		}
		tput, p99 = append(tput, lt), append(p99, lp)
	}
	out = append(out,
		chart{ID: "throughput", Title: "Throughput against concurrency",
			Caption: "Verified answers per second with N callers in a closed loop.",
			SVG:     lineChart("Throughput vs concurrency", "callers in flight (log)", "requests/s", true, false, tput)},
		chart{ID: "p99", Title: "Tail latency against concurrency",
			Caption: "99th percentile latency with N callers in a closed loop, milliseconds, log scale.",
			SVG:     lineChart("p99 latency vs concurrency", "callers in flight (log)", "ms (log)", true, true, p99)})

	var sizeGroups []group
	var sizeRts []string
	for _, rt := range res.Settings.Runtimes {
		for _, a := range res.Artifacts {
			if a.Runtime == rt {
				sizeRts = append(sizeRts, rt)
				break
			}
		}
	}
	for _, fn := range fns {
		g := group{Label: fn}
		for _, rt := range sizeRts {
			b, ok := artifactBytes(res, fn, rt)
			g.Values = append(g.Values, nanUnless(b/1e6, ok))
		}
		sizeGroups = append(sizeGroups, g)
	}
	out = append(out, chart{ID: "sizes", Title: "Artifact sizes",
		Caption: "Bytes per function and runtime: the Wasm module (the same for both Wasm runtimes); the container image compressed when known, else its tarball.",
		SVG:     barChart("Artifact size (MB)", "MB", false, sizeRts, sizeGroups)})
	return out
}

func nanUnless(v float64, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// styled starts the line of series s: a colour per function, a dash
// pattern per runtime, so a dozen lines stay apart.
func styled(res *bench.Results, s bench.Series) line {
	l := line{Name: s.Function + " " + s.Runtime, Colour: slices.Index(res.Settings.Functions, s.Function)}
	dashes := []string{"", "6 3", "2 3", "8 3 2 3"}
	if i := slices.Index(res.Settings.Runtimes, s.Runtime); i > 0 {
		l.Dash = dashes[i%len(dashes)]
	}
	return l
}
