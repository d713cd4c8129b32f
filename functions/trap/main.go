// Command trap faults when invoked, below anything Go can recover: built for
// wasm it performs a real WebAssembly trap (an out-of-bounds memory store);
// as a native binary the same store is a fatal SIGSEGV (a test function).
package main

import (
	"os"
	"unsafe"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// faultAddr lies beyond any Go module's linear memory (a Wasm trap) and, on
// 64-bit Linux, in the unmapped space below the binary's usual mappings
// (a fault the Go runtime treats as fatal, not as a nil dereference panic,
// since it is past the first page).
const faultAddr = 0xFFFF_FF00

func main() { sdk.Serve(handle) }

func handle(*sdk.Request) (*sdk.Response, error) {
	os.Stderr.WriteString("trap: storing out of bounds\n")
	addr := uintptr(faultAddr)
	// Reinterpret the integer as a pointer without a uintptr conversion the
	// compiler would check: Go's nil checks pass and the store itself faults.
	p := *(**uint64)(unsafe.Pointer(&addr))
	*p = 1
	return nil, nil // unreachable
}
