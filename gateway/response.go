package gateway

import (
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/invoker"
)

const contentTypeJSON = "application/json"

// hopByHop reports whether a function's response header must not be
// forwarded: connection management belongs to the gateway, and a
// Content-Length or Transfer-Encoding from the function could contradict the
// body the gateway actually sends.
func hopByHop(name string) bool {
	switch len(name) {
	case 2:
		return strings.EqualFold(name, "TE")
	case 7:
		return strings.EqualFold(name, "Upgrade") || strings.EqualFold(name, "Trailer")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 14:
		return strings.EqualFold(name, "Content-Length")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding")
	case 18:
		return strings.EqualFold(name, "Proxy-Authenticate")
	}
	return false
}

// validHeader rejects names and values that would break the response's
// framing (CR, LF, NUL; a name must be a non-empty token).
func validHeader(h invoker.Header) bool {
	if h.Name == "" {
		return false
	}
	for i := 0; i < len(h.Name); i++ {
		c := h.Name[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return strings.IndexAny(h.Value, "\r\n\x00") < 0
}

// writeResponse writes the function's answer and returns the status sent.
// call has checked the status (0 means 200).
func writeResponse(rc *fasthttp.RequestCtx, resp *invoker.Response) int {
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	rc.SetStatusCode(status)
	h := &rc.Response.Header
	for _, kv := range resp.Header {
		if hopByHop(kv.Name) || !validHeader(kv) {
			continue
		}
		h.Add(kv.Name, kv.Value)
	}
	// Not copied: a runtime hands over its response's body (invoker.Instance).
	rc.Response.SetBodyRaw(resp.Body)
	return status
}
