package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// Errors the gateway returns, wrapped with detail. Each maps to one HTTP
// status in errorStatus, together with the runtime's and the pool's errors.
var (
	// ErrBadRequest: the request or the deployment is invalid. 400.
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized: admin credentials are missing or wrong. 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: no such function, route or artifact. 404.
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed: the route exists but not for this method. 405.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrConflict: the function already exists. 409.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge: a body is larger than the gateway accepts. 413.
	ErrTooLarge = errors.New("too large")
	// ErrHeadersTooLarge: a request carries more headers, or more header
	// bytes, than a function may be handed. 431.
	ErrHeadersTooLarge = errors.New("request headers too large")
	// ErrClosed: the gateway is shutting down. 503.
	ErrClosed = errors.New("gateway closed")
)

// Error codes carried in the "error" field of every error body.
const (
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeTooLarge         = "too_large"
	codeHeadersTooLarge  = "headers_too_large"
	codeQueueFull        = "queue_full"
	codeFunctionError    = "function_error"
	codeUnavailable      = "unavailable"
	codeTimeout          = "timeout"
	codeInternal         = "internal"
)

// errorStatus is the one mapping from an error to an HTTP status and code.
// Order matters: the more specific categories are tested first, so a pool
// queue timeout is a 429 although it is also a kind of timeout.
func errorStatus(err error) (int, string) {
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, pool.ErrQueueFull), errors.Is(err, pool.ErrQueueTimeout):
		return http.StatusTooManyRequests, codeQueueFull
	case errors.Is(err, ErrBadRequest), errors.Is(err, invoker.ErrInvalidArtifact),
		errors.Is(err, store.ErrBadDigest):
		return http.StatusBadRequest, codeBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, codeUnauthorized
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, codeNotFound
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, codeMethodNotAllowed
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, codeConflict
	case errors.Is(err, ErrTooLarge), errors.Is(err, store.ErrTooLarge),
		errors.Is(err, fasthttp.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, codeTooLarge
	case errors.Is(err, invoker.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, codeTimeout
	case errors.Is(err, ErrHeadersTooLarge):
		return http.StatusRequestHeaderFieldsTooLarge, codeHeadersTooLarge
	case errors.Is(err, invoker.ErrInstanceLost) && errors.Is(err, invoker.ErrUnavailable):
		// The instance was lost because its runtime went away (containerd
		// stopped): the function did nothing wrong.
		return http.StatusServiceUnavailable, codeUnavailable
	case errors.Is(err, invoker.ErrTrap), errors.Is(err, invoker.ErrExit),
		errors.Is(err, invoker.ErrProtocol), errors.Is(err, invoker.ErrOutOfMemory),
		errors.Is(err, invoker.ErrInstanceLost):
		return http.StatusBadGateway, codeFunctionError
	case errors.Is(err, invoker.ErrUnavailable), errors.Is(err, pool.ErrClosed),
		errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, codeUnavailable
	default:
		return http.StatusInternalServerError, codeInternal
	}
}

// errorBody is the JSON shape of every error the gateway answers.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// retryAfterSeconds is what a 429 asks the client to wait.
const retryAfterSeconds = "1"

// writeError answers err with its status and the JSON error body. It resets
// whatever the response held, so a half-written success never leaks out.
func writeError(ctx *fasthttp.RequestCtx, err error) int {
	status, code := errorStatus(err)
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType(contentTypeJSON)
	switch status {
	case http.StatusTooManyRequests:
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds)
	case http.StatusUnauthorized:
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="lumos"`)
	}
	body, merr := json.Marshal(errorBody{Error: code, Message: err.Error()})
	if merr != nil { // cannot happen for two strings; keep the shape anyway
		body = []byte(`{"error":"internal","message":"encode error"}`)
	}
	ctx.SetBody(body)
	return status
}

// logInternal logs errors that reach the client as a 500: the only errors
// the gateway logs on the request path, since they signal a bug.
func logInternal(logger *slog.Logger, status int, err error) {
	if status == http.StatusInternalServerError {
		logger.Error("internal error", logKeyErr, err)
	}
}
