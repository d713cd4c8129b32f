package gateway

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
)

// Route prefixes.
const (
	prefixFunction = "/function/"
	prefixSystem   = "/system/"
	pathHealthz    = "/healthz"
	pathMetrics    = "/metrics"
)

// handle routes a request. It recovers any panic into a 500 JSON error, so
// no handler (and no function) can take the gateway down.
func (g *Gateway) handle(rc *fasthttp.RequestCtx) {
	defer g.recoverPanic(rc)
	path := rc.Path()
	if rest, ok := bytes.CutPrefix(path, []byte(prefixFunction)); ok {
		name, sub := rest, []byte(nil)
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			name, sub = rest[:i], rest[i:]
		}
		if len(name) == 0 {
			writeError(rc, fmt.Errorf("%w: no function named in the path", ErrNotFound))
			return
		}
		g.invoke(rc, name, sub)
		return
	}
	switch {
	case string(path) == pathHealthz:
		if !rc.IsGet() && !rc.IsHead() {
			methodNotAllowed(rc, "GET, HEAD")
			return
		}
		rc.SetContentType(contentTypeJSON)
		rc.SetBodyString(`{"status":"ok"}`)
	case string(path) == pathMetrics && g.metrics != nil:
		if !rc.IsGet() && !rc.IsHead() {
			methodNotAllowed(rc, "GET, HEAD")
			return
		}
		g.metrics(rc)
	case bytes.HasPrefix(path, []byte(prefixSystem)):
		if !g.authorized(rc) {
			writeError(rc, fmt.Errorf("%w: admin credentials required (HTTP Basic or Bearer)", ErrUnauthorized))
			return
		}
		g.admin(rc, string(path[len(prefixSystem):]))
	default:
		writeError(rc, fmt.Errorf("%w: no route %s", ErrNotFound, path))
	}
}

// recoverPanic turns a panic into a logged 500.
func (g *Gateway) recoverPanic(rc *fasthttp.RequestCtx) {
	r := recover()
	if r == nil {
		return
	}
	g.log.Error("handler panicked", logKeyPanic, fmt.Sprint(r), "path", string(rc.Path()))
	writeError(rc, fmt.Errorf("internal error: handler panicked: %v", r))
}

// methodNotAllowed answers 405 with the Allow header.
func methodNotAllowed(rc *fasthttp.RequestCtx, allow string) {
	writeError(rc, fmt.Errorf("%w: %s %s (allowed: %s)", ErrMethodNotAllowed, rc.Method(), rc.Path(), allow))
	rc.Response.Header.Set("Allow", allow)
}

// authorized checks HTTP Basic credentials or a Bearer token (the
// password) in constant time.
func (g *Gateway) authorized(rc *fasthttp.RequestCtx) bool {
	return g.authorizedHeader(&rc.Request.Header)
}

// authorizedHeader checks the Authorization header of h.
func (g *Gateway) authorizedHeader(h *fasthttp.RequestHeader) bool {
	auth := string(h.Peek(fasthttp.HeaderAuthorization))
	want := g.cfg.Credentials
	scheme, rest, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		u := subtle.ConstantTimeCompare([]byte(user), []byte(want.User))
		p := subtle.ConstantTimeCompare([]byte(pass), []byte(want.Password))
		return ok && u&p == 1
	case strings.EqualFold(scheme, "Bearer"):
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(rest)), []byte(want.Password)) == 1
	}
	return false
}
