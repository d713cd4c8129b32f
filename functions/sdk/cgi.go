package sdk

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lumos-edge/lumos/invoker/frame"
)

// serveCGI serves the one request the environment and stdin describe.
func serveCGI(h Handler, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	req, tooLarge, err := readCGIRequest(stdin, environ, frame.DefaultLimits().MaxBodyBytes)
	if err != nil {
		logError(stderr, "read cgi request", err)
		return ExitIO
	}
	var resp *Response
	if tooLarge {
		resp = Text(413, "request body too large\n")
	} else {
		resp = call(h, req, stderr)
	}
	if err := checkResponse(resp); err != nil {
		logError(stderr, "bad response", err)
		resp = Text(500, "invalid response: "+err.Error()+"\n")
	}
	bw := bufio.NewWriter(stdout)
	writeCGIResponse(bw, resp)
	if err := bw.Flush(); err != nil {
		logError(stderr, "write response", err)
		return ExitIO
	}
	return ExitOK
}

// readCGIRequest builds the request from CGI variables and stdin. tooLarge
// reports a body over maxBody, which is then not read.
func readCGIRequest(stdin io.Reader, environ []string, maxBody int64) (req *Request, tooLarge bool, err error) {
	req = &Request{Path: "/"}
	req.Method, _ = lookupEnv(environ, envRequestMethod)
	if req.Method == "" {
		req.Method = "GET"
	}
	if p, _ := lookupEnv(environ, "PATH_INFO"); p != "" {
		req.Path = p
	}
	req.Query, _ = lookupEnv(environ, "QUERY_STRING")
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case k == "CONTENT_TYPE" && v != "":
			req.Header = append(req.Header, Header{Name: "Content-Type", Value: v})
		case k == "CONTENT_LENGTH" && v != "":
			req.Header = append(req.Header, Header{Name: "Content-Length", Value: v})
		case strings.HasPrefix(k, "HTTP_") && len(k) > len("HTTP_"):
			req.Header = append(req.Header, Header{Name: headerName(k[len("HTTP_"):]), Value: v})
		}
	}
	// The environment has no order; sorting makes the request deterministic.
	slices.SortStableFunc(req.Header, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })

	limit := maxBody + 1 // one byte more tells "too large" from "at the limit"
	if cl, ok := lookupEnv(environ, "CONTENT_LENGTH"); ok && cl != "" {
		n, perr := strconv.ParseInt(cl, 10, 64)
		if perr == nil && n >= 0 {
			if n > maxBody {
				return req, true, nil
			}
			limit = n
		}
	}
	body, err := io.ReadAll(io.LimitReader(stdin, limit))
	if err != nil {
		return nil, false, &wrapError{msg: "body: " + err.Error(), err: err}
	}
	if int64(len(body)) > maxBody {
		return req, true, nil
	}
	if len(body) > 0 {
		req.Body = body
	}
	return req, false, nil
}

// headerName turns the CGI form X_FOO_BAR into X-Foo-Bar.
func headerName(cgi string) string {
	b := []byte(cgi)
	upper := true
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = false
	}
	return string(b)
}

// checkResponse applies the rules a loop response frame enforces, so both
// ABIs accept the same responses.
func checkResponse(r *Response) error {
	if r.Status < 100 || r.Status > 999 {
		return errors.New("status " + strconv.Itoa(r.Status))
	}
	for _, h := range r.Header {
		if h.Name == "" || strings.ContainsFunc(h.Name, func(c rune) bool {
			return c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c)
		}) {
			return errors.New("header name " + strconv.Quote(h.Name) + " is not an HTTP token")
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return errors.New("header " + strconv.Quote(h.Name) + ": value contains CR, LF or NUL")
		}
	}
	return nil
}

func writeCGIResponse(w *bufio.Writer, r *Response) {
	w.WriteString("Status: ")
	w.WriteString(strconv.Itoa(r.Status))
	w.WriteByte(' ')
	w.WriteString(statusText(r.Status))
	w.WriteString("\r\n")
	for _, h := range r.Header {
		w.WriteString(h.Name)
		w.WriteString(": ")
		w.WriteString(h.Value)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(r.Body)
}

// statusText covers the statuses functions commonly answer; net/http's table
// would add megabytes to a Wasm module.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 409:
		return "Conflict"
	case 413:
		return "Content Too Large"
	case 415:
		return "Unsupported Media Type"
	case 422:
		return "Unprocessable Content"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Unknown Status"
}
