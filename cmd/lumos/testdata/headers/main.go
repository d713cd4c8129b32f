// Command headers answers the request's headers, one "Name: value" line
// each, as the function received them: the trace test builds it (for
// wasip1 and as a static Linux binary) to see the trace context a function
// gets, in either ABI, since no bundled function shows its headers.
package main

import (
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func main() {
	sdk.Serve(func(r *sdk.Request) (*sdk.Response, error) {
		var b strings.Builder
		for _, h := range r.Header {
			b.WriteString(h.Name + ": " + h.Value + "\n")
		}
		return &sdk.Response{Status: 200, Body: []byte(b.String())}, nil
	})
}
