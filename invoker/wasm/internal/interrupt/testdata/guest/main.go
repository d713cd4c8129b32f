//go:build wasip1

// Command guest is the Go reactor the interrupt tests and benchmarks run
// (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared). It is built by
// TestMain into a temporary directory.
package main

//go:wasmimport lumos_test started
func started()

// fib is the recursive Fibonacci number, a call-heavy workload.
//
//go:wasmexport fib
func fib(n int32) int32 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// fibSignal tells the host it started (a host call) and then computes fib(n)
// without any further host call.
//
//go:wasmexport fib_signal
func fibSignal(n int32) int32 {
	started()
	return fib(n)
}

// count is a tight loop: the worst case for per-iteration checks.
//
//go:wasmexport count
func count(n int64) int64 {
	var s int64
	for i := int64(0); i < n; i++ {
		s += i ^ (s >> 3)
	}
	return s
}

// spin never returns.
//
//go:wasmexport spin
func spin() int64 {
	var s int64
	for i := int64(0); ; i++ {
		s += i ^ (s >> 3)
		if s == -1 {
			return s
		}
	}
}

func main() {}
