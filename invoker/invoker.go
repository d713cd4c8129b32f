// Package invoker defines what every Lumos runtime shares: the request and
// response an instance serves, the function spec a runtime prepares, the
// cold-start and invocation phases it reports, and the errors it returns.
//
// Each runtime lives in its own subpackage (invoker/wasm, invoker/container)
// and turns an artifact into a Function, and a Function into Instances. The
// gateway and the pool declare the small interfaces they need from these; this
// package holds only the shared vocabulary, so a new runtime plugs in without
// a change to gateway/ or pool/.
package invoker

import (
	"context"
	"errors"
	"time"
)

// ABI names how a function talks to its instance.
type ABI string

const (
	// ABICGI is the WAGI/CGI style: one request per instance, metadata in
	// CGI environment variables, body on stdin, response on stdout.
	ABICGI ABI = "cgi"
	// ABILoop serves many requests in sequence over length-prefixed frames
	// on stdin/stdout (see package invoker/frame).
	ABILoop ABI = "loop"
)

// Valid reports whether a is a known ABI.
func (a ABI) Valid() bool { return a == ABICGI || a == ABILoop }

// Header is one HTTP header field. Order and repetition are preserved.
type Header struct {
	Name  string
	Value string
}

// Request is one invocation as the function sees it.
type Request struct {
	Method string
	// Path is the part of the URL after /function/{name}; "/" when empty.
	Path string
	// Query is the raw query string without the leading '?'.
	Query  string
	Header []Header
	Body   []byte
}

// Response is what the function answered.
type Response struct {
	Status int
	Header []Header
	Body   []byte
}

// Spec is what a runtime needs to prepare a function.
type Spec struct {
	// Name is the deployed function's name.
	Name string
	// ABI is how the function's instances talk.
	ABI ABI
	// Digest identifies the artifact ("sha256:<hex>"); runtimes key caches by it.
	Digest string
	// Artifact returns the artifact's bytes. Runtimes call it when they need
	// to (re)compile, so a Function need not keep the bytes in memory.
	Artifact func(ctx context.Context) ([]byte, error)
	// Image, when not empty, names an image the runtime already holds (for
	// the container runtime, an image in containerd's namespace) to run
	// instead of an uploaded artifact; Digest and Artifact are then unset.
	// The runtime never deletes such an image. A runtime that has no image
	// store fails Load with ErrInvalidArtifact.
	Image string
	// Env is extra environment given to every instance.
	Env map[string]string
	// MemoryLimit caps an instance's memory in bytes; 0 means the runtime's default.
	MemoryLimit int64
	// CPULimit caps an instance's CPU in thousandths of a core (500 is half
	// a core); 0 means no cap. Runtimes that cannot cap CPU ignore it.
	CPULimit int64
	// Args are the program's arguments after its name (argv[1:]).
	Args []string
	// Mounts grant the function read-only access to host directories. A
	// function sees no filesystem at all unless its spec grants one.
	Mounts []Mount
}

// Mount makes a host directory visible to a function, read-only.
type Mount struct {
	// HostPath is an absolute directory on the gateway's machine.
	HostPath string
	// GuestPath is where the function sees it, absolute ("/data").
	GuestPath string
}

// Function is a function prepared for one runtime: validated and compiled (a
// Wasm module) or unpacked (a container image).
type Function interface {
	// NewInstance starts an instance. It appends the cold-start phases it
	// went through (compile when a cache missed, instantiate, ...) to tl.
	NewInstance(ctx context.Context, tl *Timeline) (Instance, error)
	// Close releases what the function holds; live instances stay usable
	// until closed themselves.
	Close(ctx context.Context) error
}

// Instance serves requests, one at a time.
type Instance interface {
	// Invoke serves one request, appending the phases it went through (request_write, execute,
	// response_read) to tl; past ctx's deadline it returns an error wrapping ErrTimeout, and after
	// any error the instance must be discarded. req is the caller's again once Invoke returns (a
	// runtime copies what it needs longer); it never writes the returned Response again.
	Invoke(ctx context.Context, req *Request, tl *Timeline) (*Response, error)
	// ID names the instance (the faas.instance attribute).
	ID() string
	// Reusable reports whether the instance can serve another request
	// (false for cgi instances, which serve exactly one).
	Reusable() bool
	// MemoryBytes is the instance's current memory footprint.
	MemoryBytes() int64
	// Close destroys the instance. It is safe to call more than once.
	Close(ctx context.Context) error
}

// Errors every runtime returns, wrapped with detail. The gateway maps each to
// one HTTP status in one place.
var (
	// ErrInvalidArtifact: the artifact is not valid for the runtime
	// (not WebAssembly, does not compile, imports what the host lacks). 400.
	ErrInvalidArtifact = errors.New("invalid artifact")
	// ErrTimeout: the invocation ran past its deadline; the instance was destroyed. 504.
	ErrTimeout = errors.New("function timed out")
	// ErrTrap: the function trapped (Wasm) or crashed. 502.
	ErrTrap = errors.New("function trapped")
	// ErrExit: the function exited non-zero, or exited when it should have
	// kept serving. 502.
	ErrExit = errors.New("function exited")
	// ErrProtocol: the function broke the ABI (bad frame, bad CGI headers). 502.
	ErrProtocol = errors.New("function broke the protocol")
	// ErrOutOfMemory: the function exceeded its memory limit. 502.
	ErrOutOfMemory = errors.New("function ran out of memory")
	// ErrUnavailable: the runtime cannot serve now (containerd is down). 503.
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrInstanceLost: the instance broke while idle (it exited, or misbehaved
	// between requests) and none of the request reached it. The caller may
	// retry on another instance.
	ErrInstanceLost = errors.New("instance lost before the request reached it")
)

// PhaseName names a phase of a cold start or an invocation.
type PhaseName string

// The phases Lumos records. Runtimes report only those that happened.
const (
	PhaseQueueWait       PhaseName = "queue_wait"
	PhaseCompile         PhaseName = "compile"
	PhaseCacheLoad       PhaseName = "cache_load"
	PhaseInstantiate     PhaseName = "instantiate"
	PhaseContainerCreate PhaseName = "container_create"
	PhaseTaskCreate      PhaseName = "task_create"
	PhaseTaskStart       PhaseName = "task_start"
	PhaseFirstReady      PhaseName = "first_ready"
	PhaseRequestWrite    PhaseName = "request_write"
	PhaseExecute         PhaseName = "execute"
	PhaseResponseRead    PhaseName = "response_read"
)

// Phase is one timed step.
type Phase struct {
	Name     PhaseName
	Start    time.Time
	Duration time.Duration
}

// maxPhases bounds a Timeline so recording never allocates.
const maxPhases = 16

// Timeline collects phases without allocating. The zero value is ready to
// use; phases past its capacity are dropped.
type Timeline struct {
	phases [maxPhases]Phase
	n      int
}

// Add records a phase that started at start and ends now.
func (t *Timeline) Add(name PhaseName, start time.Time) {
	t.AddDuration(name, start, time.Since(start))
}

// AddDuration records a phase with an explicit duration.
func (t *Timeline) AddDuration(name PhaseName, start time.Time, d time.Duration) {
	if t == nil || t.n == maxPhases {
		return
	}
	t.phases[t.n] = Phase{Name: name, Start: start, Duration: d}
	t.n++
}

// Append copies all of o's phases into t.
func (t *Timeline) Append(o *Timeline) {
	if o == nil {
		return
	}
	for _, p := range o.Phases() {
		t.AddDuration(p.Name, p.Start, p.Duration)
	}
}

// Phases returns the recorded phases in order. The slice aliases t.
func (t *Timeline) Phases() []Phase {
	if t == nil {
		return nil
	}
	return t.phases[:t.n]
}

// Get returns the total duration of the phases named name.
func (t *Timeline) Get(name PhaseName) time.Duration {
	var d time.Duration
	for _, p := range t.Phases() {
		if p.Name == name {
			d += p.Duration
		}
	}
	return d
}

// Reset empties t.
func (t *Timeline) Reset() { t.n = 0 }

// StartKind says how an invocation got its instance.
type StartKind string

const (
	// StartCold: no instance was ready; one was created on the request's path.
	StartCold StartKind = "cold"
	// StartPrewarmed: an instance created ahead of demand, used for the first time.
	StartPrewarmed StartKind = "prewarmed"
	// StartWarm: an instance that had already served requests.
	StartWarm StartKind = "warm"
)

// Invocation is the complete record of one invocation, handed to the
// recorder (the profiler) whatever any trace sampler keeps.
type Invocation struct {
	ID       string
	Function string
	Runtime  string
	ABI      ABI
	Start    StartKind
	Instance string
	// Begin is when the gateway received the request; Total its whole time in the gateway.
	Begin time.Time
	Total time.Duration
	// Phases holds queue wait, cold-start phases (when Start is cold) and
	// the invocation's own phases.
	Phases Timeline
	// RequestBytes and ResponseBytes are the function's request and response
	// bodies; ResponseBytes is 0 when the answer is the gateway's error.
	RequestBytes  int
	ResponseBytes int
	// BodyBytes is the HTTP response body the gateway sent: the function's,
	// or the gateway's error body.
	BodyBytes int
	Status    int
	// Err is nil on success; otherwise the runtime's or the gateway's error.
	Err error
	// MemoryBytes is the instance's footprint after the invocation.
	MemoryBytes int64
	// InFlight is how many invocations of the function were in flight in
	// the gateway when this one began, this one included (>= 1).
	InFlight int
	// MaxMemory is the function's memory limit per instance in bytes, as
	// deployed; 0 when the deployment sets none (the runtime's default applies).
	MaxMemory int64
	// Trace is the recorder's own handle on the invocation (the profiler's
	// trace span), set when the invocation begins and opaque to everyone
	// else; nil when nothing traces it.
	Trace any
}
