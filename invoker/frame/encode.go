package frame

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/lumos-edge/lumos/invoker"
)

// AppendRequest appends the whole frame of r to dst and returns the
// extended slice. It fails with ErrTooLarge when a field exceeds what the
// format carries, and with ErrMalformed when the method or a header breaks
// the token and character rules; dst is then returned unchanged.
func AppendRequest(dst []byte, r *invoker.Request) ([]byte, error) {
	if r == nil {
		return dst, newError(ErrMalformed, ": nil request")
	}
	if err := checkToken("method", r.Method); err != nil {
		return dst, err
	}
	for _, f := range [...]struct{ what, s string }{{"method", r.Method}, {"path", r.Path}, {"query", r.Query}} {
		if len(f.s) > maxString {
			return dst, newError(ErrTooLarge, ": ", f.what, " of ", len(f.s), " bytes")
		}
	}
	hn, err := headersLen(r.Header)
	if err != nil {
		return dst, err
	}
	n := requestFixed + len(r.Method) + len(r.Path) + len(r.Query) + hn + len(r.Body)
	if uint64(n) > maxPayload {
		return dst, newError(ErrTooLarge, ": payload of ", n, " bytes")
	}
	b, out := grow(dst, HeaderLen+n)
	putHeader(b, KindRequest, uint32(n))
	b = b[HeaderLen:]
	b = putString16(b, r.Method)
	b = putString16(b, r.Path)
	b = putString16(b, r.Query)
	b = putHeaders(b, r.Header)
	copy(b, r.Body)
	return out, nil
}

// AppendResponse appends the whole frame of r to dst and returns the
// extended slice. The status must be within 100..999. Errors are as for
// AppendRequest.
func AppendResponse(dst []byte, r *invoker.Response) ([]byte, error) {
	if r == nil {
		return dst, newError(ErrMalformed, ": nil response")
	}
	if r.Status < 100 || r.Status > 999 {
		return dst, newError(ErrMalformed, ": status ", r.Status)
	}
	hn, err := headersLen(r.Header)
	if err != nil {
		return dst, err
	}
	n := responseFixed + hn + len(r.Body)
	if uint64(n) > maxPayload {
		return dst, newError(ErrTooLarge, ": payload of ", n, " bytes")
	}
	b, out := grow(dst, HeaderLen+n)
	putHeader(b, KindResponse, uint32(n))
	b = b[HeaderLen:]
	binary.BigEndian.PutUint16(b, uint16(r.Status))
	b = putHeaders(b[2:], r.Header)
	copy(b, r.Body)
	return out, nil
}

// WriteRequest writes the frame of r to w in one Write call.
func WriteRequest(w io.Writer, r *invoker.Request) error {
	b, err := AppendRequest(nil, r)
	if err != nil {
		return err
	}
	return write(w, b)
}

// WriteResponse writes the frame of r to w in one Write call.
func WriteResponse(w io.Writer, r *invoker.Response) error {
	b, err := AppendResponse(nil, r)
	if err != nil {
		return err
	}
	return write(w, b)
}

func write(w io.Writer, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return newError("frame: write: ", err)
	}
	return nil
}

// grow extends dst by n bytes and returns the new n bytes and the whole slice.
func grow(dst []byte, n int) (tail, whole []byte) {
	l := len(dst)
	if cap(dst)-l < n {
		nd := make([]byte, l, l+n)
		copy(nd, dst)
		dst = nd
	}
	whole = dst[:l+n]
	return whole[l:], whole
}

// headersLen validates hs and returns their encoded length, count excluded.
func headersLen(hs []invoker.Header) (int, error) {
	if len(hs) > maxHeaders {
		return 0, newError(ErrTooLarge, ": ", len(hs), " headers")
	}
	n := 0
	for i := range hs {
		h := &hs[i]
		if len(h.Name) > maxString {
			return 0, newError(ErrTooLarge, ": header name of ", len(h.Name), " bytes")
		}
		if err := checkToken("header name", h.Name); err != nil {
			return 0, err
		}
		if err := checkValue(h.Value); err != nil {
			return 0, newError("header ", quote(h.Name), ": ", err)
		}
		n += headerFixed + len(h.Name) + len(h.Value)
	}
	return n, nil
}

func putString16(b []byte, s string) []byte {
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return b[2+copy(b[2:], s):]
}

func putHeaders(b []byte, hs []invoker.Header) []byte {
	binary.BigEndian.PutUint16(b, uint16(len(hs)))
	b = b[2:]
	for i := range hs {
		b = putString16(b, hs[i].Name)
		binary.BigEndian.PutUint32(b, uint32(len(hs[i].Value)))
		b = b[4+copy(b[4:], hs[i].Value):]
	}
	return b
}

// errBadToken and errBadValue are wrapped with ErrMalformed by their callers' checks.
var (
	errBadToken = errors.New("not an HTTP token")
	errBadValue = errors.New("contains CR, LF or NUL")
)

// checkToken reports whether s is a non-empty RFC 9110 token.
func checkToken(what, s string) error {
	if s == "" {
		return newError(ErrMalformed, ": empty ", what)
	}
	for i := 0; i < len(s); i++ {
		if !isTChar(s[i]) {
			return newError(ErrMalformed, ": ", what, " ", quote(s), " ", errBadToken)
		}
	}
	return nil
}

// checkValue reports whether s is a safe header value: no CR, LF or NUL, so
// no writer of HTTP from it can be made to split a message.
func checkValue(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return newError(ErrMalformed, ": value ", errBadValue)
		}
	}
	return nil
}

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
