// Command crash exits the process with status 3 when invoked, after writing
// "crash: boom" to stderr, outside the SDK's panic recovery: the host must
// report that the function exited non-zero (a test function).
package main

import (
	"os"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func main() { sdk.Serve(handle) }

func handle(*sdk.Request) (*sdk.Response, error) {
	os.Stderr.WriteString("crash: boom\n")
	os.Exit(3)
	return nil, nil // unreachable
}
