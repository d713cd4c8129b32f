// Package cgi is the part of the cgi ABI that every runtime shares: the
// CGI/1.1 environment a request becomes, and the parser of the response a
// program writes to stdout. Keeping one copy keeps the runtimes' contracts,
// and their defences against header smuggling, the same.
package cgi

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/lumos-edge/lumos/invoker"
)

// Default content type of a response without a CGI header block.
const plainText = "text/plain; charset=utf-8"

// Parse parses a CGI response (RFC 3875 section 6): a header block of
// "Name: value" lines ended by an empty line ("\r\n\r\n" or "\n\n"), then
// the body. A "Status: 404 Not Found" header sets the status (default 200,
// or 302 with a Location header); the other headers pass through. Output
// that does not start with a header block is entirely body, served 200 as
// text/plain: any WASI command works unchanged. The body aliases out.
func Parse(out []byte) (*invoker.Response, error) {
	hdrs, body, ok := splitHeaderBlock(out)
	if !ok {
		return &invoker.Response{
			Status: 200,
			Header: []invoker.Header{{Name: "Content-Type", Value: plainText}},
			Body:   out,
		}, nil
	}
	resp := &invoker.Response{Status: 200, Body: body}
	statusSet, location := false, false
	for _, h := range hdrs {
		switch {
		case strings.EqualFold(h.Name, "Status"):
			code, err := parseStatus(h.Value)
			if err != nil {
				return nil, err
			}
			resp.Status, statusSet = code, true
		case strings.EqualFold(h.Name, "Location"):
			location = true
			resp.Header = append(resp.Header, h)
		default:
			resp.Header = append(resp.Header, h)
		}
	}
	if location && !statusSet {
		resp.Status = 302
	}
	return resp, nil
}

// parseStatus parses a Status header value: a 3-digit code and an
// optional reason phrase.
func parseStatus(v string) (int, error) {
	code, _, _ := strings.Cut(v, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return 0, fmt.Errorf("%w: bad CGI Status %q", invoker.ErrProtocol, v)
	}
	return n, nil
}

// splitHeaderBlock returns the header lines and the body if out starts
// with a well-formed header block; ok is false otherwise.
func splitHeaderBlock(out []byte) (hdrs []invoker.Header, body []byte, ok bool) {
	rest := out
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, nil, false // no blank line: not a header block
		}
		line := rest[:i]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		rest = rest[i+1:]
		if len(line) == 0 {
			if len(hdrs) == 0 {
				return nil, nil, false // output starts with a blank line: body
			}
			return hdrs, rest, true
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		if !found || !isToken(name) || bytes.ContainsAny(value, "\r\x00") {
			return nil, nil, false
		}
		hdrs = append(hdrs, invoker.Header{
			Name:  string(name),
			Value: string(bytes.TrimSpace(value)),
		})
	}
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
