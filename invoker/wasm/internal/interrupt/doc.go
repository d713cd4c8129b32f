// Package interrupt makes compiled WebAssembly interruptible without slowing
// it down much.
//
// wazero's compiler cannot preempt a running guest: an endless loop never
// returns, and a long call delays the Go garbage collector's stop-the-world,
// stalling every goroutine of the process. WithCloseOnContextDone fixes the
// first problem at a 4-14x cost on Go guests. This package instead rewrites
// the module at deploy time (Instrument): it adds one imported host function
// (lumos.yield) and one exported mutable i32 global (lumos.interrupt), and
// inserts "if flag then call yield" at every function entry and every loop
// header. A Controller raises the flag every quantum while a call is in
// flight; the guest then calls yield, which is a Go safe point (the GC and
// the scheduler can proceed) and the place where a timed-out or killed guest
// is aborted with an error wrapping invoker.ErrTimeout.
//
// See RATIONALE-timeouts.md beside the wasm invoker for the measurements.
package interrupt
