package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/lumos-edge/lumos/profiler/bench"
)

// Runtime names as deployed (annotation lumos.runtime).
const (
	runtimeAOT       = "wasm-aot"
	runtimeInterp    = "wasm-interp"
	runtimeContainer = "container"
)

// Claim is one headline comparison of the Lumos paper beside this run's.
type Claim struct {
	// Metric names what is compared.
	Metric string `json:"metric"`
	// Paper is the paper's figure; Here this run's, or "n/a".
	Paper string `json:"paper"`
	Here  string `json:"here"`
	// Ratio is this run's figure as a number (NaN when n/a).
	Ratio float64 `json:"-"`
	// Why says where and why the two differ.
	Why string `json:"why"`
}

// Compare puts the paper's headline comparisons (Marcelino et al., "Lumos:
// Performance Characterization of WebAssembly as a Serverless Runtime in
// the Edge-Cloud Continuum", IoT 2025) beside the same ratios in res.
func Compare(res *bench.Results) []Claim {
	size := ratioOver(res, func(fn string) (float64, float64, bool) {
		c, okC := artifactBytes(res, fn, runtimeContainer)
		a, okA := artifactBytes(res, fn, runtimeAOT)
		return c, a, okC && okA
	}, slices.Max)
	goSize := ratioOver(res, func(fn string) (float64, float64, bool) {
		c, okC := artifactBytes(res, fn, runtimeContainer)
		a, okA := artifactBytes(res, fn, runtimeAOT)
		return a, c, okC && okA && !strings.HasPrefix(fn, "c-")
	}, median)
	cold := ratioOver(res, func(fn string) (float64, float64, bool) {
		a, okA := meanOf(res, fn, runtimeAOT, bench.ScenarioCold)
		c, okC := meanOf(res, fn, runtimeContainer, bench.ScenarioCold)
		return c - a, c, okA && okC
	}, slices.Max)
	interp := ratioOver(res, func(fn string) (float64, float64, bool) {
		i, okI := meanOf(res, fn, runtimeInterp, bench.ScenarioWarm)
		a, okA := meanOf(res, fn, runtimeAOT, bench.ScenarioWarm)
		return i, a, okI && okA
	}, slices.Max)
	io := ioRatio(res)
	aotVsContainer := ratioOver(res, func(fn string) (float64, float64, bool) {
		if strings.HasPrefix(fn, "c-") { // cgi: a container per request, not a warm one
			return 0, 0, false
		}
		a, okA := meanOf(res, fn, runtimeAOT, bench.ScenarioWarm)
		c, okC := meanOf(res, fn, runtimeContainer, bench.ScenarioWarm)
		return a, c, okA && okC
	}, median)

	return []Claim{
		{
			Metric: "Artifact size: container image vs AoT Wasm module",
			Paper:  "AoT images up to 30x smaller",
			Here:   sizeHere(size) + goSizeHere(goSize),
			Ratio:  size,
			Why: "The paper's container is a Rust binary on debian-slim; Lumos's image holds only the static binary, " +
				"gzip-compressed in its one layer (compressed size compared), while a Go Wasm module carries the Go runtime and garbage collector " +
				"uncompressed (megabytes, where a Rust module is tens of kilobytes): Go modules come out larger than their images. " +
				"The C functions, like the paper's Rust, give tiny modules beside a static binary, and the largest ratio. The AoT-compiled artifact " +
				"stays in the gateway's cache (its size, about 4x the module's, is in the artifacts table) and is not counted here.",
		},
		{
			Metric: "Cold start: AoT Wasm vs container",
			Paper:  "AoT up to 16% lower",
			Here:   coldHere(cold),
			Ratio:  cold,
			Why: "Lumos starts a container straight through containerd and runc (tens of milliseconds) and a Wasm " +
				"instance in-process from a cached compiled module (milliseconds); the paper's cold start on Knative " +
				"and MicroK8s includes pod scheduling and a queue-proxy sidecar for both, which shrinks the gap to a few percent.",
		},
		{
			Metric: "Warm latency: interpreted vs AoT Wasm",
			Paper:  "interpreted up to 55x higher",
			Here:   orNA(interp, "interpreted up to %.1fx higher", interp),
			Ratio:  interp,
			Why: "wazero's interpreter against WasmEdge's, on x86-64 against the Raspberry Pi's ARM cores; the ratio " +
				"grows with the work done inside the guest, so CPU-bound functions (fib) show it and noop ones (hello) " +
				"are dominated by the gateway's fixed cost.",
		},
		{
			Metric: "I/O-serialization overhead: interpreted vs AoT Wasm",
			Paper:  "up to 10x",
			Here:   orNA(io, "up to %.1fx", io),
			Ratio:  io,
			Why: "Lumos's io phase is the request and response frames copied across the instance's standard streams " +
				"(the guest's decoding included in execute); the paper's counts state access through Redis or files " +
				"and (de)serialization of structs inside the guest.",
		},
		{
			Metric: "Warm latency: AoT Wasm vs container",
			Paper:  "about 1.1x",
			Here:   orNA(aotVsContainer, "about %.2fx (median over the Go functions)", aotVsContainer),
			Ratio:  aotVsContainer,
			Why: "Go compiled to Wasm runs slower than native Go (3.8x on fib, more on JSON, measured on this machine), " +
				"while Rust compiles to Wasm with little loss; the container's request crosses stdio FIFOs where the " +
				"Wasm instance's stays in-process.",
		},
	}
}

func orNA(v float64, format string, args ...any) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf(format, args...)
}

// ratioOver computes num/den for every function that has both, and
// reduces the ratios with reduce; NaN when no function has both.
func ratioOver(res *bench.Results, pair func(fn string) (num, den float64, ok bool), reduce func([]float64) float64) float64 {
	var ratios []float64
	for _, fn := range res.Settings.Functions {
		num, den, ok := pair(fn)
		if ok && den > 0 {
			ratios = append(ratios, num/den)
		}
	}
	if len(ratios) == 0 {
		return math.NaN()
	}
	return reduce(ratios)
}

// ioRatio is the largest interpreted/AoT ratio of the io phase over every
// function and input size measured warm.
func ioRatio(res *bench.Results) float64 {
	best := math.NaN()
	for _, fn := range res.Settings.Functions {
		for _, sc := range []string{bench.ScenarioWarm, bench.ScenarioPayload} {
			i, a := res.Find(fn, runtimeInterp, sc), res.Find(fn, runtimeAOT, sc)
			if i == nil || a == nil {
				continue
			}
			for _, pi := range i.Points {
				for _, pa := range a.Points {
					if pi.X != pa.X || pi.Phases == nil || pa.Phases == nil || pa.Phases[bench.PhaseIO] <= 0 {
						continue
					}
					r := pi.Phases[bench.PhaseIO] / pa.Phases[bench.PhaseIO]
					if math.IsNaN(best) || r > best {
						best = r
					}
				}
			}
		}
	}
	return best
}

// artifactBytes is the size of fn's artifact on rt: for a container the
// compressed image when known (what a pull downloads, the paper's image
// size), else what was uploaded.
func artifactBytes(res *bench.Results, fn, rt string) (float64, bool) {
	for _, a := range res.Artifacts {
		if a.Function == fn && a.Runtime == rt {
			if a.ImageCompressedBytes > 0 {
				return float64(a.ImageCompressedBytes), true
			}
			return float64(a.Bytes), true
		}
	}
	return 0, false
}

// GuestGap says, for each function of the suite also written in C (named
// "c-" and the Go function's name) and measured beside it, how much of the
// Wasm-versus-native gap is the guest language's compiler: Go's latency
// over C's on each Wasm runtime, beside Go's AoT/container ratio. It
// compares the largest payload point both have, else the warm point. On
// the container runtime the C function's cgi ABI starts a container per
// request, so there the comparison is of ABIs and is only noted. Nil when
// no such pair was measured.
func GuestGap(res *bench.Results) []string {
	var out []string
	for _, c := range res.Settings.Functions {
		goFn, ok := strings.CutPrefix(c, "c-")
		if !ok || !slices.Contains(res.Settings.Functions, goFn) {
			continue
		}
		var parts []string
		at := ""
		for _, rt := range res.Settings.Runtimes {
			g, cc, x, ok := pairedLatency(res, goFn, c, rt)
			if !ok || rt == runtimeContainer {
				continue
			}
			at = x
			parts = append(parts, fmt.Sprintf("on %s Go's %s takes %.2fx the time of C's %s (%s vs %s ms)", rt, goFn, g/cc, c, num(g), num(cc)))
		}
		if len(parts) == 0 {
			continue
		}
		line := fmt.Sprintf("%s vs %s (%s, end to end): %s.", goFn, c, at, strings.Join(parts, "; "))
		ga, okA := meanAt(res, goFn, runtimeAOT, at)
		gc, okC := meanAt(res, goFn, runtimeContainer, at)
		if okA && okC && gc > 0 {
			line += fmt.Sprintf(" Go's %s on AoT Wasm takes %.2fx its time in the container: the part of that gap that C closes on the same runtime "+
				"is the guest language's compiler (Go's Wasm code carries its runtime and garbage collector and no native stack switching), not wazero.", goFn, ga/gc)
		}
		if cc, ok := meanAt(res, c, runtimeContainer, at); ok {
			line += fmt.Sprintf(" In the container %s (cgi ABI) starts a container per request (%s ms), so there the two differ by ABI, not language.", c, num(cc))
		}
		out = append(out, line)
	}
	return out
}

// meanAt is fn's mean latency on rt at the point pairedLatency named.
func meanAt(res *bench.Results, fn, rt, at string) (float64, bool) {
	if at == "warm" {
		return meanOf(res, fn, rt, bench.ScenarioWarm)
	}
	s := res.Find(fn, rt, bench.ScenarioPayload)
	if s == nil {
		return 0, false
	}
	for _, p := range s.Points {
		if "payload "+bench.FormatBytes(p.X) == at && p.Latency.N > 0 {
			return p.Latency.Mean, true
		}
	}
	return 0, false
}

// pairedLatency is the mean latency of functions a and b on rt at the
// largest payload point both have, else at their warm point, and that
// point's label.
func pairedLatency(res *bench.Results, a, b, rt string) (la, lb float64, at string, ok bool) {
	pa, pb := res.Find(a, rt, bench.ScenarioPayload), res.Find(b, rt, bench.ScenarioPayload)
	if pa != nil && pb != nil {
		for i := len(pa.Points) - 1; i >= 0; i-- {
			for _, q := range pb.Points {
				if q.X == pa.Points[i].X && q.Latency.N > 0 && pa.Points[i].Latency.N > 0 {
					return pa.Points[i].Latency.Mean, q.Latency.Mean, "payload " + bench.FormatBytes(q.X), true
				}
			}
		}
	}
	ma, okA := meanOf(res, a, rt, bench.ScenarioWarm)
	mb, okB := meanOf(res, b, rt, bench.ScenarioWarm)
	return ma, mb, "warm", okA && okB && mb > 0
}

// meanOf is the mean latency of the first point of a series.
func meanOf(res *bench.Results, fn, rt, scenario string) (float64, bool) {
	s := res.Find(fn, rt, scenario)
	if s == nil || len(s.Points) == 0 || s.Points[0].Latency.N == 0 {
		return 0, false
	}
	return s.Points[0].Latency.Mean, true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// coldHere words the cold-start gain (container - AoT) / container.
func coldHere(gain float64) string {
	if gain < 0 {
		return fmt.Sprintf("AoT at best %.0f%% higher", -100*gain)
	}
	if gain > 0.99 { // a C function: a Wasm instance in well under a millisecond
		return fmt.Sprintf("AoT up to %.1f%% lower", 100*gain)
	}
	return orNA(gain, "AoT up to %.0f%% lower", 100*gain)
}

// goSizeHere words the median module / image ratio of the Go functions.
func goSizeHere(ratio float64) string {
	if math.IsNaN(ratio) {
		return ""
	}
	if ratio >= 1 {
		return fmt.Sprintf("; a Go module %.1fx its image (median)", ratio)
	}
	return fmt.Sprintf("; a Go module %.1fx smaller than its image (median)", 1/ratio)
}

// sizeHere words the size ratio container / AoT module.
func sizeHere(ratio float64) string {
	if ratio > 0 && ratio < 1 {
		return fmt.Sprintf("AoT module at best %.1fx larger", 1/ratio)
	}
	return orNA(ratio, "AoT up to %.1fx smaller", ratio)
}
