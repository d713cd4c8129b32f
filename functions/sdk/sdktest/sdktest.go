// Package sdktest drives an sdk.Handler through both ABIs in memory, the way
// a Lumos host would, so a function's logic is tested natively with the very
// code paths its Wasm build runs.
package sdktest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// Result is what a run of the handler left behind.
type Result struct {
	// Responses holds the decoded responses, in order.
	Responses []*sdk.Response
	// Code is Run's exit code.
	Code int
	// Stderr is everything written to stderr.
	Stderr string
}

// Loop serves reqs in sequence through the loop ABI (LUMOS_ABI=loop) and
// returns the responses read back from stdout. It fails only when a request
// cannot be framed or stdout holds something other than response frames.
func Loop(h sdk.Handler, reqs ...*sdk.Request) (Result, error) {
	var stdin bytes.Buffer
	for i, r := range reqs {
		if err := frame.WriteRequest(&stdin, r); err != nil {
			return Result{}, fmt.Errorf("request %d: %w", i, err)
		}
	}
	return LoopRaw(h, stdin.Bytes())
}

// LoopRaw is Loop with raw stdin bytes, for malformed input.
func LoopRaw(h sdk.Handler, stdin []byte) (Result, error) {
	var stdout, stderr bytes.Buffer
	res := Result{Code: sdk.Run(h, bytes.NewReader(stdin), &stdout, &stderr, []string{sdk.EnvABI + "=loop"})}
	res.Stderr = stderr.String()
	for {
		resp, err := frame.ReadResponse(&stdout, frame.DefaultLimits())
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("response %d: %w", len(res.Responses), err)
		}
		res.Responses = append(res.Responses, resp)
	}
}

// CGI serves req through the cgi ABI (LUMOS_ABI=cgi, the environment of
// Env, the body on stdin) and parses the CGI response from stdout.
func CGI(h sdk.Handler, req *sdk.Request) (Result, error) {
	return CGIEnv(h, Env(req), req.Body)
}

// CGIEnv serves with an explicit environment and stdin.
func CGIEnv(h sdk.Handler, environ []string, stdin []byte) (Result, error) {
	var stdout, stderr bytes.Buffer
	res := Result{Code: sdk.Run(h, bytes.NewReader(stdin), &stdout, &stderr, environ)}
	res.Stderr = stderr.String()
	resp, err := ParseCGI(stdout.Bytes())
	if err != nil {
		return res, err
	}
	res.Responses = []*sdk.Response{resp}
	return res, nil
}

// Env returns the CGI environment of req, as a host sets it: LUMOS_ABI=cgi,
// REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_LENGTH, and each header as
// CONTENT_TYPE or HTTP_NAME.
func Env(req *sdk.Request) []string {
	env := []string{
		sdk.EnvABI + "=cgi",
		"REQUEST_METHOD=" + req.Method,
		"PATH_INFO=" + req.Path,
		"QUERY_STRING=" + req.Query,
		"CONTENT_LENGTH=" + strconv.Itoa(len(req.Body)),
	}
	for _, h := range req.Header {
		name := strings.ToUpper(strings.ReplaceAll(h.Name, "-", "_"))
		switch name {
		case "CONTENT_LENGTH":
			continue
		case "CONTENT_TYPE":
		default:
			name = "HTTP_" + name
		}
		env = append(env, name+"="+h.Value)
	}
	return env
}

// ParseCGI parses a CGI response: header lines ended by CRLF or LF, a blank
// line, the body. "Status: 404 Not Found" sets the status (200 without it).
func ParseCGI(out []byte) (*sdk.Response, error) {
	resp := &sdk.Response{Status: 200}
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("cgi: headers not ended by a blank line: %q", line)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("cgi: header line %q has no colon", line)
		}
		value = strings.TrimSpace(value)
		if strings.EqualFold(name, "Status") {
			code, _, _ := strings.Cut(value, " ")
			n, err := strconv.Atoi(code)
			if err != nil {
				return nil, fmt.Errorf("cgi: status %q: %w", value, err)
			}
			resp.Status = n
			continue
		}
		resp.Header = append(resp.Header, sdk.Header{Name: name, Value: value})
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("cgi: body: %w", err)
	}
	if len(body) > 0 {
		resp.Body = body
	}
	return resp, nil
}

// Get returns the first value of header name in hs (case-insensitive), or "".
func Get(hs []sdk.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}
