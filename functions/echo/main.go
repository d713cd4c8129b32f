// Command echo answers the request body as is, with the request's
// Content-Type and X-Echo-Method, X-Echo-Path and X-Echo-Query headers.
package main

import (
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	resp := &sdk.Response{Status: 200, Body: r.Body, Header: make([]sdk.Header, 0, 4)}
	for _, h := range r.Header {
		if strings.EqualFold(h.Name, "Content-Type") {
			resp.Header = append(resp.Header, sdk.Header{Name: "Content-Type", Value: h.Value})
			break
		}
	}
	resp.Header = append(resp.Header,
		sdk.Header{Name: "X-Echo-Method", Value: r.Method},
		sdk.Header{Name: "X-Echo-Path", Value: r.Path},
		sdk.Header{Name: "X-Echo-Query", Value: r.Query},
	)
	return resp, nil
}
