// Package sdk lets one Go handler serve Lumos requests through either ABI,
// compiled unchanged for GOOS=wasip1 GOARCH=wasm (a Wasm function) or as a
// static Linux binary (a container function):
//
//	func main() { sdk.Serve(handle) }
//
//	func handle(r *sdk.Request) (*sdk.Response, error) {
//		return sdk.Text(200, "Hello, world!\n"), nil
//	}
//
// Serve picks the ABI when the process starts, from LUMOS_ABI ("loop" or
// "cgi"), which the Lumos host always sets. Without it, the process speaks
// cgi when REQUEST_METHOD is set and loop otherwise.
//
//   - cgi (WAGI/CGI): one request per process. The request comes from
//     REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH and
//     HTTP_* variables (HTTP_X_FOO becomes header X-Foo), the body from stdin
//     (CONTENT_LENGTH bytes, or to EOF when it is absent). The response goes to
//     stdout as "Status: 200 OK", header lines, a blank line and the body, with
//     CRLF line ends. The process then exits 0.
//   - loop: many requests in sequence as frames of package invoker/frame:
//     request frames on stdin, one response frame per request on stdout. The
//     process exits 0 when stdin ends between frames, and 2, after a message on
//     stderr, when it reads a frame it cannot decode.
//
// A handler's error becomes a text/plain response: its status comes from a
// *StatusError (see Errorf), 500 otherwise. A handler panic is recovered into
// a 500 response, and in loop mode the process keeps serving. A response
// with Status 0 is sent as 200; a nil response with a nil error as an empty 200.
//
// Handlers run one at a time; the Request and its Body belong to the handler
// until it returns, and the SDK does not modify the Response it is given.
package sdk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/lumos-edge/lumos/invoker"
)

// Request is one invocation as the function sees it.
type Request = invoker.Request

// Response is what the function answers.
type Response = invoker.Response

// Header is one header field; order and repetition are preserved.
type Header = invoker.Header

// Handler serves one request. A returned error becomes an error response
// (see the package documentation); the returned Response is then ignored.
type Handler func(*Request) (*Response, error)

// The environment variables Serve reads to pick an ABI.
const (
	// EnvABI names the ABI: "loop" or "cgi" (invoker.ABILoop, invoker.ABICGI).
	EnvABI = "LUMOS_ABI"
	// envRequestMethod is the CGI variable whose presence implies cgi when EnvABI is unset.
	envRequestMethod = "REQUEST_METHOD"
)

// Exit codes of Run.
const (
	// ExitOK: clean end (cgi response written, or loop stdin at EOF).
	ExitOK = 0
	// ExitIO: stdout (or stdin in cgi mode) failed.
	ExitIO = 1
	// ExitProtocol: an unknown ABI or a malformed request frame.
	ExitProtocol = 2
)

// Serve runs h on the process's stdin, stdout, stderr and environment, and
// exits the process with Run's exit code. It never returns.
func Serve(h Handler) {
	os.Exit(Run(h, os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// Run serves like Serve on the given streams and environment ("KEY=value"
// strings, the form of os.Environ) and returns the exit code instead of
// exiting. Tests and embedders use it.
func Run(h Handler, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	abi, err := selectABI(environ)
	if err != nil {
		logError(stderr, "abi", err)
		return ExitProtocol
	}
	if abi == invoker.ABICGI {
		return serveCGI(h, stdin, stdout, stderr, environ)
	}
	return serveLoop(h, stdin, stdout, stderr)
}

// selectABI applies the ABI rule of the package documentation.
func selectABI(environ []string) (invoker.ABI, error) {
	if v, ok := lookupEnv(environ, EnvABI); ok {
		abi := invoker.ABI(v)
		if !abi.Valid() {
			return "", errors.New(EnvABI + "=" + strconv.Quote(v) + `: want "loop" or "cgi"`)
		}
		return abi, nil
	}
	if _, ok := lookupEnv(environ, envRequestMethod); ok {
		return invoker.ABICGI, nil
	}
	return invoker.ABILoop, nil
}

// lookupEnv finds key in environ; the last assignment wins, as in a shell.
func lookupEnv(environ []string, key string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		kv := environ[i]
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// StatusError is an error with the HTTP status its response carries.
type StatusError struct {
	Status int
	Msg    string
}

// Error returns the message.
func (e *StatusError) Error() string { return e.Msg }

// Errorf returns a *StatusError with the status and a formatted message:
// return nil, sdk.Errorf(400, "n must be within [0, %d]", max).
func Errorf(status int, format string, args ...any) error {
	return &StatusError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Text returns a text/plain response.
func Text(status int, body string) *Response {
	return &Response{
		Status: status,
		Header: []Header{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
		Body:   []byte(body),
	}
}

// call runs h, turning errors and panics into responses.
func call(h Handler, r *Request, stderr io.Writer) (resp *Response) {
	defer func() {
		if p := recover(); p != nil {
			msg := panicText(p)
			logLine(stderr, "handler panic: "+msg)
			resp = Text(500, "panic: "+msg+"\n")
		}
	}()
	resp, err := h(r)
	if err != nil {
		return errorResponse(err)
	}
	if resp == nil {
		return &Response{Status: 200}
	}
	if resp.Status == 0 {
		c := *resp
		c.Status = 200
		return &c
	}
	return resp
}

func errorResponse(err error) *Response {
	status := 500
	var se *StatusError
	if errors.As(err, &se) && se.Status >= 100 && se.Status <= 999 {
		status = se.Status
	}
	return Text(status, err.Error()+"\n")
}
