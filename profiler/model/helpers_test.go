package model

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

var testEnv = Environment{CPUModel: "Test CPU", Cores: 2, MemoryBytes: 1 << 30, GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"}

func newTestModel(cfg Config) *Model {
	if cfg.Environment == nil {
		env := testEnv
		cfg.Environment = &env
	}
	return New(cfg)
}

// truth is a synthetic runtime: linear costs in milliseconds per phase,
// multiplicative log-normal noise, and rare slow outliers.
type truth struct {
	execBase, execPerMiB float64
	ioBase, ioPerMiB     float64 // per MiB of request + response
	overBase, overPerMiB float64
	respRatio            float64 // response bytes per request byte
	respBase             float64
	noise                float64 // sigma of the log-normal noise
	outliers             float64 // fraction of 5x outliers
}

func (t truth) parts(reqBytes int) (exec, io, over float64) {
	mib := float64(reqBytes) / (1 << 20)
	resp := (t.respBase + t.respRatio*float64(reqBytes)) / (1 << 20)
	return t.execBase + t.execPerMiB*mib, t.ioBase + t.ioPerMiB*(mib+resp), t.overBase + t.overPerMiB*mib
}

// median is the true p50 warm latency in milliseconds (the noise has median 1).
func (t truth) median(reqBytes int) float64 {
	e, i, o := t.parts(reqBytes)
	return e + i + o
}

func dur(msv float64) time.Duration { return time.Duration(msv * 1e6) }

// warm returns a warm invocation record drawn from t.
func (t truth) warm(r *rand.Rand, fn, rt string, reqBytes int, begin time.Time) *invoker.Invocation {
	e, i, o := t.parts(reqBytes)
	f := func() float64 {
		v := math.Exp(r.NormFloat64() * t.noise)
		if r.Float64() < t.outliers {
			v *= 5
		}
		return v
	}
	e, i, o = e*f(), i*f(), o*f()
	inv := &invoker.Invocation{Function: fn, Runtime: rt, ABI: invoker.ABILoop, Start: invoker.StartWarm, Begin: begin,
		RequestBytes: reqBytes, ResponseBytes: int(t.respBase + t.respRatio*float64(reqBytes)), InFlight: 1, Status: 200, MemoryBytes: 8 << 20}
	inv.Phases.AddDuration(invoker.PhaseRequestWrite, begin, dur(i/2))
	inv.Phases.AddDuration(invoker.PhaseExecute, begin, dur(e))
	inv.Phases.AddDuration(invoker.PhaseResponseRead, begin, dur(i/2))
	inv.Total = dur(e + i + o)
	return inv
}

// cold returns a cold invocation record with the given cold-start phases.
func cold(fn, rt string, begin time.Time, instantiate, execute time.Duration) *invoker.Invocation {
	inv := &invoker.Invocation{Function: fn, Runtime: rt, ABI: invoker.ABILoop, Start: invoker.StartCold, Begin: begin,
		RequestBytes: 1024, ResponseBytes: 1024, InFlight: 1, Status: 200, MemoryBytes: 16 << 20}
	inv.Phases.AddDuration(invoker.PhaseCompile, begin, instantiate/2)
	inv.Phases.AddDuration(invoker.PhaseInstantiate, begin, instantiate/2)
	inv.Phases.AddDuration(invoker.PhaseExecute, begin, execute)
	inv.Total = instantiate + execute + 50*time.Microsecond
	return inv
}

// runtimes are three synthetic runtimes in the proportions the Lumos
// paper reports (AoT ~ container, interpreter far slower and I/O heavier).
var runtimes = map[string]truth{
	"wasm-aot":    {execBase: 0.08, execPerMiB: 3, ioBase: 0.01, ioPerMiB: 0.6, overBase: 0.03, overPerMiB: 0.2, respRatio: 1, noise: 0.08, outliers: 0.02},
	"wasm-interp": {execBase: 0.5, execPerMiB: 120, ioBase: 0.05, ioPerMiB: 6, overBase: 0.03, overPerMiB: 0.2, respRatio: 1, noise: 0.1, outliers: 0.02},
	"container":   {execBase: 0.06, execPerMiB: 2.5, ioBase: 0.05, ioPerMiB: 4.4, overBase: 0.03, overPerMiB: 0.2, respRatio: 0.5, respBase: 64, noise: 0.1, outliers: 0.02},
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Abs(want) {
		t.Errorf("%s = %.4g, want %.4g within %.0f%%", what, got, want, tol*100)
	}
}
