// Command hello answers "Hello, world!\n" whatever the request: the noop
// function that measures the platform's own overhead.
package main

import "github.com/lumos-edge/lumos/functions/sdk"

func main() { sdk.Serve(handle) }

func handle(*sdk.Request) (*sdk.Response, error) {
	return sdk.Text(200, "Hello, world!\n"), nil
}
