package gateway

import "time"

// STAND-IN for branch issue5-gw, which defines these in auto.go, model.go
// and keepalive.go: the issue-5 contract types, so that profiler/model
// compiles on its own branch. Delete this file when merging after issue5-gw.

// Chooser picks, per invocation, the runtime of a function deployed with runtime "auto".
// It runs on the request path: it must be cheap (no allocation, no blocking).
type Chooser interface {
	// Choose returns the index in candidates (runtime names, fixed order for the
	// function's version) of the runtime that serves an invocation of function
	// whose request body has requestBytes.
	Choose(function string, requestBytes int, candidates []string) int
}

// Model serves GET /system/model, /system/model/{name} and /system/model-snapshot.
type Model interface {
	// Overview is the JSON-marshalable document of GET /system/model.
	Overview() any
	// Function is the document of GET /system/model/{name}?bytes=N (bytes defaults
	// to 1024 when absent); ok is false when the model has nothing on name (404).
	Function(name string, bytes int) (doc any, ok bool)
	// Export returns the model's whole state as JSON (GET /system/model-snapshot).
	Export() ([]byte, error)
	// Import merges a snapshot made by Export (PUT /system/model-snapshot; errors
	// answer 400 naming the problem; the model is unchanged on error).
	Import(data []byte) error
}

// KeepAlive plans the idle timeout and prewarm count of every pool whose
// deployment leaves them unset (adaptive keep-alive).
type KeepAlive interface {
	// Plan returns one PoolPlan per PoolState, same order.
	Plan(now time.Time, pools []PoolState) []PoolPlan
}

// PoolState describes one adaptive pool to KeepAlive.Plan.
type PoolState struct {
	Function, Runtime string
	MaxInstances      int           // the pool's cap; MinWarm must stay <= it
	IdleTimeout       time.Duration // current
	MinWarm           int           // current
	Instances         int           // starting + idle + busy now
}

// PoolPlan is KeepAlive's decision for one pool. A zero IdleTimeout keeps the
// current one; MinWarm is clamped to [0, MaxInstances] by the gateway.
type PoolPlan struct {
	IdleTimeout time.Duration
	MinWarm     int
}
