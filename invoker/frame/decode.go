package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"

	"github.com/lumos-edge/lumos/invoker"
)

// ReadRequest reads one request frame from r. It returns io.EOF, unwrapped,
// only when r ends before the first byte of a frame. It allocates the
// payload once, after checking its length against lim; the returned Body
// is a slice of that allocation and aliases nothing the caller holds.
func ReadRequest(r io.Reader, lim Limits) (*invoker.Request, error) {
	p, err := readPayload(r, KindRequest, lim)
	if err != nil {
		return nil, err
	}
	return parseRequest(p, lim, false)
}

// ReadRequestInto is ReadRequest reading the payload into buf's storage
// when it is large enough (a new allocation otherwise), for a reader of
// many frames that reuses one buffer: it returns the request and the
// buffer to pass to the next call. The request's Body aliases that buffer
// until then; its strings do not.
func ReadRequestInto(r io.Reader, lim Limits, buf []byte) (*invoker.Request, []byte, error) {
	p, err := readPayloadInto(r, KindRequest, lim, buf)
	if err != nil {
		return nil, buf, err
	}
	req, err := parseRequest(p, lim, false)
	return req, p[:0], err
}

// ReadResponse reads one response frame from r, as ReadRequest does.
func ReadResponse(r io.Reader, lim Limits) (*invoker.Response, error) {
	p, err := readPayload(r, KindResponse, lim)
	if err != nil {
		return nil, err
	}
	return parseResponse(p, lim, false)
}

// DecodeRequest decodes frame, which must be exactly one whole request
// frame (see FrameLen). The result does not alias frame.
func DecodeRequest(frame []byte, lim Limits) (*invoker.Request, error) {
	p, err := payloadOf(frame, KindRequest, lim)
	if err != nil {
		return nil, err
	}
	return parseRequest(p, lim, true)
}

// DecodeResponse decodes frame, which must be exactly one whole response
// frame (see FrameLen). The result does not alias frame.
func DecodeResponse(frame []byte, lim Limits) (*invoker.Response, error) {
	p, err := payloadOf(frame, KindResponse, lim)
	if err != nil {
		return nil, err
	}
	return parseResponse(p, lim, true)
}

// checkLen validates a frame header and returns its payload length, checked
// against the limits.
func checkLen(h []byte, kind byte, lim Limits) (int, error) {
	if err := checkPrefix(h, kind); err != nil {
		return 0, err
	}
	n := int64(binary.BigEndian.Uint32(h[4:8]))
	if max := lim.maxPayloadLen(kind); n > max {
		return 0, newError(ErrTooLarge, ": payload of ", n, " bytes, limit ", max)
	}
	return int(n), nil
}

func payloadOf(frame []byte, kind byte, lim Limits) ([]byte, error) {
	if len(frame) < HeaderLen {
		return nil, newError(ErrMalformed, ": ", len(frame), " bytes, short of a header")
	}
	n, err := checkLen(frame, kind, lim)
	if err != nil {
		return nil, err
	}
	if len(frame) != HeaderLen+n {
		return nil, newError(ErrMalformed, ": frame of ", len(frame), " bytes declares ", HeaderLen+n)
	}
	return frame[HeaderLen:], nil
}

func readPayload(r io.Reader, kind byte, lim Limits) ([]byte, error) {
	return readPayloadInto(r, kind, lim, nil)
}

// readPayloadInto reads a frame's payload into buf's storage when it fits.
func readPayloadInto(r io.Reader, kind byte, lim Limits, buf []byte) ([]byte, error) {
	var hdr [HeaderLen]byte
	var h []byte
	if br, ok := r.(*bufio.Reader); ok {
		// Peek avoids moving the header array to the heap.
		b, err := br.Peek(HeaderLen)
		if err != nil {
			return nil, readErr("header", len(b), err)
		}
		h = hdr[:copy(hdr[:], b)]
		if _, err := br.Discard(HeaderLen); err != nil {
			return nil, readErr("header", 0, err)
		}
	} else {
		h = hdr[:]
		if n, err := io.ReadFull(r, h); err != nil {
			return nil, readErr("header", n, err)
		}
	}
	n, err := checkLen(h, kind, lim)
	if err != nil {
		return nil, err
	}
	var p []byte
	if cap(buf) >= n {
		p = buf[:n]
	} else {
		p = make([]byte, n)
	}
	if m, err := io.ReadFull(r, p); err != nil {
		return nil, readErr("payload", m+1, err) // +1: never a clean EOF
	}
	return p, nil
}

// readErr maps a read error: a clean end before a frame is io.EOF; an end
// inside one is ErrMalformed and io.ErrUnexpectedEOF.
func readErr(what string, got int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if got == 0 {
			return io.EOF
		}
		return newError(ErrMalformed, ": truncated ", what, ": ", io.ErrUnexpectedEOF)
	}
	return newError("frame: read ", what, ": ", err)
}

// cursor walks a payload. The first error sticks; later reads return zeros.
type cursor struct {
	b    []byte
	off  int
	meta int // bytes of strings seen, for MaxMetaBytes
	err  error
}

func (c *cursor) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *cursor) take(n int, what string) (start, end int) {
	if c.err != nil {
		return 0, 0
	}
	if n > len(c.b)-c.off {
		c.fail(newError(ErrMalformed, ": ", what, " needs ", n, " bytes, ", len(c.b)-c.off, " left"))
		return 0, 0
	}
	start = c.off
	c.off += n
	return start, c.off
}

func (c *cursor) u16(what string) int {
	s, e := c.take(2, what)
	if e == 0 {
		return 0
	}
	return int(binary.BigEndian.Uint16(c.b[s:e]))
}

func (c *cursor) u32(what string) int64 {
	s, e := c.take(4, what)
	if e == 0 {
		return 0
	}
	return int64(binary.BigEndian.Uint32(c.b[s:e]))
}

// span reads a string of length n and returns its bounds within c.b.
func (c *cursor) span(n int64, what string, lim Limits) (start, end int) {
	if c.err != nil {
		return 0, 0
	}
	c.meta += int(min(n, int64(len(c.b))+1))
	if c.meta > lim.MaxMetaBytes {
		c.fail(newError(ErrTooLarge, ": metadata over ", lim.MaxMetaBytes, " bytes"))
		return 0, 0
	}
	if n > int64(len(c.b)-c.off) {
		c.fail(newError(ErrMalformed, ": ", what, " of ", n, " bytes, ", len(c.b)-c.off, " left"))
		return 0, 0
	}
	return c.take(int(n), what)
}

type bounds struct{ s, e int }

// headerBounds reads the header block. It stores bounds in a stack array
// when the count is small.
func (c *cursor) headers(lim Limits, buf []bounds) []bounds {
	count := c.u16("header count")
	if c.err != nil {
		return nil
	}
	if count > lim.MaxHeaders {
		c.fail(newError(ErrTooLarge, ": ", count, " headers, limit ", lim.MaxHeaders))
		return nil
	}
	// Each header takes at least headerFixed bytes: bound the count by what is left.
	if count*headerFixed > len(c.b)-c.off {
		c.fail(newError(ErrMalformed, ": ", count, " headers in ", len(c.b)-c.off, " bytes"))
		return nil
	}
	out := buf[:0]
	for range count {
		ns, ne := c.span(int64(c.u16("header name length")), "header name", lim)
		vs, ve := c.span(c.u32("header value length"), "header value", lim)
		if c.err != nil {
			return nil
		}
		out = append(out, bounds{ns, ne}, bounds{vs, ve})
	}
	return out
}

// finish checks the body and builds the shared metadata string.
func (c *cursor) finish(lim Limits, copyBody bool) (meta string, body []byte) {
	if c.err != nil {
		return "", nil
	}
	if n := int64(len(c.b) - c.off); n > lim.MaxBodyBytes {
		c.fail(newError(ErrTooLarge, ": body of ", n, " bytes, limit ", lim.MaxBodyBytes))
		return "", nil
	}
	// One allocation for every string: they are substrings of meta.
	meta = string(c.b[:c.off])
	if rest := c.b[c.off:]; len(rest) > 0 {
		if copyBody {
			body = append([]byte(nil), rest...)
		} else {
			body = rest
		}
	}
	return meta, body
}

func buildHeaders(meta string, hb []bounds) ([]invoker.Header, error) {
	if len(hb) == 0 {
		return nil, nil
	}
	hs := make([]invoker.Header, len(hb)/2)
	for i := range hs {
		n, v := hb[2*i], hb[2*i+1]
		hs[i] = invoker.Header{Name: meta[n.s:n.e], Value: meta[v.s:v.e]}
		if err := checkToken("header name", hs[i].Name); err != nil {
			return nil, err
		}
		if err := checkValue(hs[i].Value); err != nil {
			return nil, newError("header ", quote(hs[i].Name), ": ", err)
		}
	}
	return hs, nil
}

func parseRequest(p []byte, lim Limits, copyBody bool) (*invoker.Request, error) {
	lim = lim.norm()
	c := cursor{b: p}
	ms, me := c.span(int64(c.u16("method length")), "method", lim)
	ps, pe := c.span(int64(c.u16("path length")), "path", lim)
	qs, qe := c.span(int64(c.u16("query length")), "query", lim)
	var buf [32]bounds
	hb := c.headers(lim, buf[:])
	meta, body := c.finish(lim, copyBody)
	if c.err != nil {
		return nil, c.err
	}
	r := &invoker.Request{Method: meta[ms:me], Path: meta[ps:pe], Query: meta[qs:qe], Body: body}
	if err := checkToken("method", r.Method); err != nil {
		return nil, err
	}
	var err error
	if r.Header, err = buildHeaders(meta, hb); err != nil {
		return nil, err
	}
	return r, nil
}

func parseResponse(p []byte, lim Limits, copyBody bool) (*invoker.Response, error) {
	lim = lim.norm()
	c := cursor{b: p}
	status := c.u16("status")
	if c.err == nil && (status < 100 || status > 999) {
		c.fail(newError(ErrMalformed, ": status ", status))
	}
	var buf [32]bounds
	hb := c.headers(lim, buf[:])
	meta, body := c.finish(lim, copyBody)
	if c.err != nil {
		return nil, c.err
	}
	r := &invoker.Response{Status: status, Body: body}
	var err error
	if r.Header, err = buildHeaders(meta, hb); err != nil {
		return nil, err
	}
	return r, nil
}
