// Package interrupt makes compiled WebAssembly interruptible without slowing
// it down much.
//
// wazero's compiler cannot preempt a running guest: an endless loop never
// returns, and a long call delays the Go garbage collector's stop-the-world,
// stalling every goroutine of the process. WithCloseOnContextDone fixes the
// first problem at a 4-14x cost on Go guests. This package instead rewrites
// the module at deploy time (Instrument): it adds one imported host function
// (lumos.yield) and one exported mutable i32 global (lumos.interrupt), and
// inserts a check at every function entry and every loop
// header: "budget -= 1; if budget <= 0 { call yield }". The guest thus
// calls yield after a bounded number of checks; yield (a Go host function)
// is a safe point where the GC and the scheduler proceed, where a timed-out
// or killed guest is aborted with an error wrapping invoker.ErrTimeout, and
// where the Controller sizes the next budget so that yields come about once
// per quantum.
//
// See RATIONALE.md in this package for the measurements.
package interrupt
