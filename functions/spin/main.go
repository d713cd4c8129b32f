// Command spin never answers: each request enters an endless loop, so the
// host's timeout must stop it (a test function).
package main

import (
	"os"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func main() { sdk.Serve(handle) }

func handle(*sdk.Request) (*sdk.Response, error) {
	// The counter's wrap-around has an observable effect, so the compiler
	// cannot delete the loop; at one increment per nanosecond it would take
	// centuries to print.
	var n uint64
	for {
		n++
		if n == 0 {
			os.Stderr.WriteString("spin: counter wrapped\n")
		}
	}
}
