package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/lumos-edge/lumos/profiler/bench"
)

// synthetic is a result set with every scenario on three runtimes: cold
// means aot 4, interp 10, container 80 ms; warm means aot 1, interp 20,
// container 0.8; artifacts aot 2 MB, container 3 MB.
func synthetic() *bench.Results {
	stats := func(mean float64) bench.Stats {
		return bench.Stats{N: 10, Mean: mean, P50: mean, P95: mean * 1.5, P99: mean * 2, Min: mean / 2, Max: mean * 3, CILow: mean * 0.9, CIHigh: mean * 1.1}
	}
	phases := func(exec, io float64) map[string]float64 {
		return map[string]float64{bench.PhaseQueue: 0, bench.PhaseCold: 0, bench.PhaseExecute: exec, bench.PhaseIO: io, bench.PhaseGateway: 0.05}
	}
	res := &bench.Results{
		Started: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Seconds: 42, Target: "http://127.0.0.1:1", Local: true,
		Command: "lumos bench --quick",
		Machine: bench.Machine{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.8"},
		Settings: bench.Settings{Runs: 2, ColdRepeats: 3, WarmRequests: 10, PayloadSizes: []int{1024, 65536}, PayloadRequests: 5,
			Concurrency: []int{1, 10}, ConcurrencySeconds: 1, ConcurrencyPayload: 1024,
			Functions: []string{"hello", "json"}, Runtimes: []string{"wasm-aot", "wasm-interp", "container"}},
		Skipped:  []bench.Skip{{Runtime: "other", Reason: "runtime <b>unavailable</b>"}},
		Failures: []bench.Failure{},
	}
	cold := map[string]float64{"wasm-aot": 4, "wasm-interp": 10, "container": 80}
	warm := map[string]float64{"wasm-aot": 1, "wasm-interp": 20, "container": 0.8}
	io := map[string]float64{"wasm-aot": 0.1, "wasm-interp": 0.6, "container": 0.3}
	for _, rt := range res.Settings.Runtimes {
		for _, fn := range res.Settings.Functions {
			size := 3e6
			if rt != "container" {
				size = 2e6
			}
			res.Artifacts = append(res.Artifacts, bench.Artifact{Function: fn, Runtime: rt, Bytes: int(size)})
			pt := func(x int, mean float64, ph map[string]float64) bench.Point {
				return bench.Point{X: x, Requests: 10, OK: 10, Verified: 10, Latency: stats(mean), Phases: ph, Starts: map[string]int{"warm": 10}}
			}
			res.Series = append(res.Series,
				bench.Series{Function: fn, Runtime: rt, Scenario: bench.ScenarioCold, Points: []bench.Point{pt(1024, cold[rt], phases(0.5, io[rt]))}},
				bench.Series{Function: fn, Runtime: rt, Scenario: bench.ScenarioWarm, Points: []bench.Point{pt(1024, warm[rt], phases(warm[rt]*0.8, io[rt]))}},
			)
			if fn == "json" {
				res.Series = append(res.Series, bench.Series{Function: fn, Runtime: rt, Scenario: bench.ScenarioPayload,
					Points: []bench.Point{pt(1024, warm[rt], phases(1, io[rt])), pt(65536, 4*warm[rt], phases(3, 4*io[rt]))}})
			}
			c := bench.Series{Function: fn, Runtime: rt, Scenario: bench.ScenarioConcurrency}
			for _, n := range []int{1, 10} {
				p := pt(n, warm[rt]*float64(n), phases(1, io[rt]))
				p.Throughput = 1000 / warm[rt]
				c.Points = append(c.Points, p)
			}
			res.Series = append(res.Series, c)
		}
	}
	return res
}

func points(res *bench.Results) int {
	n := 0
	for _, s := range res.Series {
		n += len(s.Points)
	}
	return n
}

func TestCompare(t *testing.T) {
	claims := Compare(synthetic())
	want := []float64{1.5, 0.95, 20, 6, 1.25}
	if len(claims) != len(want) {
		t.Fatalf("%d claims", len(claims))
	}
	for i, c := range claims {
		if math.Abs(c.Ratio-want[i]) > 1e-9 {
			t.Errorf("%s: ratio %v, want %v", c.Metric, c.Ratio, want[i])
		}
		if c.Paper == "" || c.Here == "" || c.Here == "n/a" || c.Why == "" {
			t.Errorf("claim %+v incomplete", c)
		}
	}
	if !strings.Contains(claims[1].Here, "95% lower") {
		t.Errorf("cold claim %q", claims[1].Here)
	}
	if got := sizeHere(0.25); got != "AoT module at best 4.0x larger" {
		t.Errorf("size claim for a larger module: %q", got)
	}
	if got := coldHere(-0.5); got != "AoT at best 50% higher" {
		t.Errorf("cold claim for a slower AoT: %q", got)
	}

	// Without a container, its comparisons are n/a, the others stay.
	res := synthetic()
	var series []bench.Series
	for _, s := range res.Series {
		if s.Runtime != "container" {
			series = append(series, s)
		}
	}
	res.Series, res.Artifacts = series, res.Artifacts[:4]
	for i, c := range Compare(res) {
		na := c.Here == "n/a"
		if wantNA := i == 0 || i == 1 || i == 4; na != wantNA {
			t.Errorf("without container, %s = %q", c.Metric, c.Here)
		}
	}
}

func TestCSV(t *testing.T) {
	res := synthetic()
	var b bytes.Buffer
	if err := CSV(&b, res); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if !reflect.DeepEqual(rows[0], CSVHeader()) {
		t.Errorf("header %v", rows[0])
	}
	if len(rows)-1 != points(res) {
		t.Errorf("%d rows, want one per point (%d)", len(rows)-1, points(res))
	}
	for _, r := range rows[1:] {
		if len(r) != len(rows[0]) {
			t.Fatalf("row %v has %d fields", r, len(r))
		}
		if (r[2] == bench.ScenarioConcurrency) != (r[15] != "") {
			t.Errorf("throughput %q on a %s row", r[15], r[2])
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	res := synthetic()
	var b bytes.Buffer
	if err := JSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var back bench.Results
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, res) {
		t.Errorf("round trip differs:\n%+v\n%+v", &back, res)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, synthetic()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, s := range []string{"## The paper vs this machine", "up to 30x smaller", "AoT up to 1.5x smaller", "interpreted up to 20.0x higher",
		"## Cold start", "## Warm latency", "## Warm latency against payload size", "## Throughput", "Every answer verified", "lumos bench --quick", "64 KB"} {
		if !strings.Contains(md, s) {
			t.Errorf("summary lacks %q", s)
		}
	}
	if i, j := strings.Index(md, "The paper vs this machine"), strings.Index(md, "## Setup"); i < 0 || j < i {
		t.Errorf("the paper's table does not open the summary")
	}
}

func TestHTMLStructure(t *testing.T) {
	res := synthetic()
	var b bytes.Buffer
	if err := HTML(&b, res); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]*html.Node{}
	count := map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			count[n.Data]++
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids[a.Val] = n
				}
				if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) {
					t.Errorf("<%s %s=%q>: the report must be self-contained", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, id := range []string{"verdict", "paper", "setup", "charts", "results", "skipped", "cold", "payload", "io-share", "throughput", "p99", "sizes"} {
		if ids[id] == nil {
			t.Errorf("no element with id %q", id)
		}
	}
	if count["script"] != 0 || count["link"] != 0 || count["img"] != 0 {
		t.Errorf("script %d, link %d, img %d: want none", count["script"], count["link"], count["img"])
	}
	if count["svg"] != 6 {
		t.Errorf("%d svg charts, want 6", count["svg"])
	}
	// Per chart: the bars or lines it must draw.
	within := func(id, elem string) int {
		n := 0
		var walk func(*html.Node)
		walk = func(x *html.Node) {
			if x.Type == html.ElementNode && x.Data == elem {
				n++
			}
			for c := x.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		if ids[id] != nil {
			walk(ids[id])
		}
		return n
	}
	if n := within("cold", "rect"); n < 2*3 {
		t.Errorf("cold chart: %d rects, want a bar per function and runtime", n)
	}
	if n := within("payload", "polyline"); n != 3 {
		t.Errorf("payload chart: %d lines, want 3 (json on each runtime)", n)
	}
	if n := within("throughput", "polyline"); n != 6 {
		t.Errorf("throughput chart: %d lines, want 6", n)
	}
	if n := within("io-share", "rect"); n < 3*4 {
		t.Errorf("io-share chart: %d rects", n)
	}
	if n := within("sizes", "rect"); n < 6 {
		t.Errorf("sizes chart: %d rects", n)
	}
	if n := within("results", "tr"); n != points(res)+1 {
		t.Errorf("results table: %d rows, want %d", n, points(res)+1)
	}
	if n := within("paper", "tr"); n != 6 {
		t.Errorf("paper table: %d rows, want 6", n)
	}
	page := b.String()
	if strings.Contains(page, "<b>unavailable") || !strings.Contains(page, "&lt;b&gt;unavailable") {
		t.Errorf("a skip reason was not escaped")
	}
	if strings.Index(page, `id="paper"`) > strings.Index(page, `id="setup"`) {
		t.Errorf("the paper's table does not open the report")
	}
}

func TestHTMLWithoutData(t *testing.T) {
	res := &bench.Results{Settings: bench.Settings{Functions: []string{"hello"}, Runtimes: []string{"wasm-aot"}}}
	var b bytes.Buffer
	if err := HTML(&b, res); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "<svg") != 6 || !strings.Contains(b.String(), "no data") {
		t.Errorf("empty results: charts missing their placeholder")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteFiles(dir, synthetic()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileJSON, FileCSV, FileMarkdown, FileHTML} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// withC adds c-json beside json: warm means aot 0.25, container 0.4 ms
// (json's are 1 and 0.8), and compressed image sizes.
func withC() *bench.Results {
	res := synthetic()
	res.Settings.Functions = append(res.Settings.Functions, "c-json")
	for _, rt := range res.Settings.Runtimes {
		mean := map[string]float64{"wasm-aot": 0.25, "wasm-interp": 2, "container": 0.4}[rt]
		res.Series = append(res.Series, bench.Series{Function: "c-json", Runtime: rt, Scenario: bench.ScenarioWarm,
			Points: []bench.Point{{X: 1024, Requests: 1, OK: 1, Verified: 1, Latency: bench.Stats{N: 1, Mean: mean}}}})
	}
	for i := range res.Artifacts {
		if res.Artifacts[i].Runtime == "container" {
			res.Artifacts[i].ImageCompressedBytes = 1e6
		}
	}
	return res
}

func TestGuestGap(t *testing.T) {
	if gap := GuestGap(synthetic()); gap != nil {
		t.Errorf("no C function, yet %q", gap)
	}
	res := withC()
	// json has a payload sweep and c-json none: the warm points are compared.
	gap := GuestGap(res)
	if len(gap) != 1 {
		t.Fatalf("gap %q", gap)
	}
	for _, want := range []string{"json vs c-json (warm, end to end)", "on wasm-aot Go's json takes 4.00x the time of C's c-json",
		"on wasm-interp Go's json takes 10.00x", "AoT Wasm takes 1.25x its time in the container", "starts a container per request (0.4 ms)"} {
		if !strings.Contains(gap[0], want) {
			t.Errorf("gap lacks %q: %s", want, gap[0])
		}
	}
	if strings.Contains(gap[0], "on container Go's") {
		t.Errorf("gap compares languages across the container's ABIs: %s", gap[0])
	}
	// The container's compressed image is the size compared: 2 MB / 1 MB.
	if c := Compare(res)[0]; math.Abs(c.Ratio-0.5) > 1e-9 {
		t.Errorf("size ratio %v, want 0.5 (compressed image over module)", c.Ratio)
	}
	var md, page bytes.Buffer
	if err := Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "## Guest language: C vs Go on the same runtime") || !strings.Contains(md.String(), "| 1000000 (976.6 KB) |") {
		t.Errorf("summary lacks the guest-language section or the compressed size:\n%s", md.String())
	}
	if !strings.Contains(page.String(), `<section id="guest">`) || !strings.Contains(page.String(), `<section id="artifacts">`) {
		t.Error("report.html lacks the guest-language or artifacts section")
	}
}
