package bench

import (
	"encoding/json"
	"strconv"
	"time"
)

// Scenario names.
const (
	// ScenarioCold: the function scaled to zero before each request.
	ScenarioCold = "cold"
	// ScenarioWarm: sequential requests to a warmed-up function.
	ScenarioWarm = "warm"
	// ScenarioPayload: warm requests swept over input sizes (Point.X is bytes).
	ScenarioPayload = "payload"
	// ScenarioConcurrency: a closed loop of Point.X callers for a duration.
	ScenarioConcurrency = "concurrency"
)

// Phase names of the gateway's Server-Timing header (see gateway/timing.go).
const (
	PhaseQueue   = "queue"
	PhaseCold    = "cold"
	PhaseExecute = "execute"
	PhaseIO      = "io"
	PhaseGateway = "gateway"
)

// PhaseNames lists the Server-Timing phases in their order.
func PhaseNames() []string {
	return []string{PhaseQueue, PhaseCold, PhaseExecute, PhaseIO, PhaseGateway}
}

// Results is everything one run of the benchmark measured. Durations are in
// milliseconds.
type Results struct {
	// Started is when the run began; Seconds how long it took.
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Target is the gateway's URL; Local says the bench started it itself.
	Target string `json:"target"`
	Local  bool   `json:"local"`
	// Command is the command line that produced the results, when known.
	Command string `json:"command,omitempty"`
	// Machine describes where the client ran.
	Machine Machine `json:"machine"`
	// GatewayInfo is the gateway's answer to GET /system/info, as is.
	GatewayInfo json.RawMessage `json:"gatewayInfo,omitempty"`
	// Settings are the parameters of the run.
	Settings Settings `json:"settings"`
	// Artifacts are the deployed artifacts' sizes.
	Artifacts []Artifact `json:"artifacts"`
	// Skipped lists what could not be measured, and why.
	Skipped []Skip `json:"skipped"`
	// Series holds the measurements: one per function, runtime and scenario.
	Series []Series `json:"series"`
	// Failures are failed or wrong answers (at most MaxFailures kept;
	// FailureCount counts them all). Any failure fails the run.
	Failures     []Failure `json:"failures"`
	FailureCount int       `json:"failureCount"`
}

// Machine describes the client's machine.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"goVersion"`
}

// Settings are the parameters a run used.
type Settings struct {
	Runs               int     `json:"runs"`
	ColdRepeats        int     `json:"coldRepeats"`
	WarmRequests       int     `json:"warmRequests"`
	PayloadSizes       []int   `json:"payloadSizes"`
	PayloadRequests    int     `json:"payloadRequests"`
	Concurrency        []int   `json:"concurrency"`
	ConcurrencySeconds float64 `json:"concurrencySeconds"`
	ConcurrencyPayload int     `json:"concurrencyPayload"`
	// PointSeconds caps a cold, warm or payload point's requests in each
	// run: the point stops after its request count or once this many
	// seconds passed, whichever comes first (0: no cap). A point whose one
	// request outlasts the cap is slow: later runs skip it.
	PointSeconds float64  `json:"pointSeconds"`
	Functions    []string `json:"functions"`
	Runtimes     []string `json:"runtimes"`
}

// Artifact is the size of what was deployed for a function on a runtime.
// The sizes past Bytes are filled in by the caller when it knows them (the
// local gateway's `lumos bench` does, with `lumos build --suite`'s code).
type Artifact struct {
	Function string `json:"function"`
	Runtime  string `json:"runtime"`
	// Bytes is what was uploaded: the Wasm module, or the image tarball.
	Bytes int `json:"bytes"`
	// AOTBytes is the wasm-aot runtime's compiled artifact of the module.
	AOTBytes int `json:"aotBytes,omitempty"`
	// ImageCompressedBytes and ImageUnpackedBytes are a container image's
	// layers, compressed (what a pull downloads) and unpacked (on disk).
	ImageCompressedBytes int `json:"imageCompressedBytes,omitempty"`
	ImageUnpackedBytes   int `json:"imageUnpackedBytes,omitempty"`
}

// Skip records a function and runtime (Function empty: the whole runtime)
// that was not measured.
type Skip struct {
	Function string `json:"function,omitempty"`
	Runtime  string `json:"runtime"`
	Reason   string `json:"reason"`
}

// Failure is one request that failed or answered wrongly.
type Failure struct {
	Function string `json:"function"`
	Runtime  string `json:"runtime"`
	Scenario string `json:"scenario"`
	X        int    `json:"x"`
	// Status is the HTTP status (0: no answer).
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// Series is one scenario of one function on one runtime.
type Series struct {
	Function string  `json:"function"`
	Runtime  string  `json:"runtime"`
	Scenario string  `json:"scenario"`
	Points   []Point `json:"points"`
}

// Point is the measurement at one X: the payload size in bytes for the
// payload sweep, the callers in flight for the concurrency sweep, the
// request size otherwise.
type Point struct {
	X int `json:"x"`
	// Requests were sent (warm-ups included); OK answered 2xx; Verified
	// answered correctly. Latency.N counts the measured samples.
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Verified int `json:"verified"`
	// Latency is end-to-end, as the client saw it, over the verified answers.
	Latency Stats `json:"latency"`
	// Throughput is verified answers per second (concurrency sweep only).
	Throughput float64 `json:"throughput,omitempty"`
	// Phases are the mean milliseconds per request of each Server-Timing
	// phase (a phase absent from an answer counts 0); nil when no answer
	// carried Server-Timing (a gateway other than Lumos).
	Phases map[string]float64 `json:"phases,omitempty"`
	// Starts counts the X-Lumos-Start kinds answered (cold, warm, ...).
	Starts map[string]int `json:"starts,omitempty"`
	// Runs counts the runs that measured the point; Capped those cut short
	// by Settings.PointSeconds. A slow point (one request past the cap)
	// is measured in the first run only.
	Runs   int  `json:"runs"`
	Capped int  `json:"capped,omitempty"`
	Slow   bool `json:"slow,omitempty"`
}

// Stats summarises latencies in milliseconds. CILow and CIHigh bound a 95%
// confidence interval of the mean (Student's t): from the runs' means when
// there are three runs or more, else from the samples.
type Stats struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	P50    float64 `json:"p50"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	CILow  float64 `json:"ciLow"`
	CIHigh float64 `json:"ciHigh"`
}

// Verified reports whether every request of every point answered correctly
// and nothing failed.
func (r *Results) Verified() bool {
	if r.FailureCount > 0 {
		return false
	}
	for _, s := range r.Series {
		for _, p := range s.Points {
			if p.Verified != p.Requests {
				return false
			}
		}
	}
	return true
}

// Find returns the series of function, runtime and scenario, or nil.
func (r *Results) Find(function, runtime, scenario string) *Series {
	for i := range r.Series {
		s := &r.Series[i]
		if s.Function == function && s.Runtime == runtime && s.Scenario == scenario {
			return s
		}
	}
	return nil
}

// FormatBytes writes n bytes the way the report labels sizes: 512 B, 16 KB, 2 MB.
func FormatBytes(n int) string {
	switch {
	case n >= MB && n%MB == 0:
		return strconv.Itoa(n/MB) + " MB"
	case n >= MB:
		return strconv.FormatFloat(float64(n)/MB, 'f', 1, 64) + " MB"
	case n >= KB && n%KB == 0:
		return strconv.Itoa(n/KB) + " KB"
	case n >= KB:
		return strconv.FormatFloat(float64(n)/KB, 'f', 1, 64) + " KB"
	}
	return strconv.Itoa(n) + " B"
}
