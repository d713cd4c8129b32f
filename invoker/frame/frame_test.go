package frame

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/lumos-edge/lumos/invoker"
)

func manyHeaders(n int) []invoker.Header {
	hs := make([]invoker.Header, n)
	for i := range hs {
		hs[i] = invoker.Header{Name: fmt.Sprintf("X-H%d", i), Value: strings.Repeat("v", i)}
	}
	return hs
}

func binaryBody() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

var requests = []struct {
	name string
	req  invoker.Request
}{
	{"minimal", invoker.Request{Method: "GET", Path: "/"}},
	{"empty path and query", invoker.Request{Method: "GET"}},
	{"query and body", invoker.Request{Method: "POST", Path: "/a/b", Query: "n=20&x=%20", Body: []byte(`{"number":20}`)}},
	{"repeated headers keep order", invoker.Request{Method: "GET", Path: "/", Header: []invoker.Header{
		{Name: "Accept", Value: "a"}, {Name: "Cookie", Value: "x=1"}, {Name: "Accept", Value: "b"}, {Name: "Empty", Value: ""}}}},
	{"many headers", invoker.Request{Method: "PUT", Path: "/m", Header: manyHeaders(200)}},
	{"binary body", invoker.Request{Method: "POST", Path: "/bin", Body: binaryBody()}},
	{"utf8 path and value", invoker.Request{Method: "GET", Path: "/héllo", Header: []invoker.Header{{Name: "X-Name", Value: "Zoë ✓"}}}},
	{"long value", invoker.Request{Method: "GET", Path: "/", Header: []invoker.Header{{Name: "X-Big", Value: strings.Repeat("z", 70000)}}}},
}

var responses = []struct {
	name string
	resp invoker.Response
}{
	{"empty 204", invoker.Response{Status: 204}},
	{"text", invoker.Response{Status: 200, Header: []invoker.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("Hello, world!\n")}},
	{"many headers", invoker.Response{Status: 500, Header: manyHeaders(256)}},
	{"binary body", invoker.Response{Status: 299, Body: binaryBody()}},
	{"status bounds", invoker.Response{Status: 999}},
	{"status 100", invoker.Response{Status: 100}},
}

func TestRequestRoundTrip(t *testing.T) {
	for _, tc := range requests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendRequest([]byte("prefix"), &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatal("AppendRequest lost dst")
			}
			frame := b[len("prefix"):]
			n, ok, err := FrameLen(frame)
			if err != nil || !ok || n != len(frame) {
				t.Fatalf("FrameLen = %d, %v, %v; want %d", n, ok, err, len(frame))
			}
			got, err := DecodeRequest(frame, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.req)

			var buf bytes.Buffer
			if err := WriteRequest(&buf, &tc.req); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), frame) {
				t.Fatal("WriteRequest and AppendRequest differ")
			}
			got, err = ReadRequest(&buf, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, &tc.req)
			if _, err := ReadRequest(&buf, DefaultLimits()); err != io.EOF {
				t.Fatalf("after the only frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, tc := range responses {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := AppendResponse(nil, &tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeResponse(frame, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			assertResponse(t, got, &tc.resp)
			// A one-byte-at-a-time reader exercises partial reads.
			got, err = ReadResponse(iotest.OneByteReader(bytes.NewReader(frame)), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			assertResponse(t, got, &tc.resp)
		})
	}
}

// TestStream reads many frames back to back, through the bufio fast path and without it.
func TestStream(t *testing.T) {
	var stream []byte
	for _, tc := range requests {
		var err error
		if stream, err = AppendRequest(stream, &tc.req); err != nil {
			t.Fatal(err)
		}
	}
	for _, mk := range []struct {
		name string
		r    func() io.Reader
	}{
		{"bufio", func() io.Reader { return bufio.NewReaderSize(bytes.NewReader(stream), 16) }},
		{"plain", func() io.Reader { return bytes.NewReader(stream) }},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) }},
	} {
		t.Run(mk.name, func(t *testing.T) {
			r := mk.r()
			for _, tc := range requests {
				got, err := ReadRequest(r, DefaultLimits())
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				assertRequest(t, got, &tc.req)
			}
			if _, err := ReadRequest(r, DefaultLimits()); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestReadBodyDoesNotAliasDecodeInput(t *testing.T) {
	frame, err := AppendResponse(nil, &invoker.Response{Status: 200, Body: []byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeResponse(frame, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 0
	}
	if string(got.Body) != "abc" {
		t.Fatalf("body changed with the frame: %q", got.Body)
	}
}

func TestTruncatedStream(t *testing.T) {
	frame, err := AppendRequest(nil, &invoker.Request{Method: "GET", Path: "/", Body: []byte("body")})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(frame); cut++ {
		for _, bufio_ := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(frame[:cut])
			if bufio_ {
				r = bufio.NewReader(r)
			}
			_, err := ReadRequest(r, DefaultLimits())
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d (bufio %v): %v, want ErrMalformed and io.ErrUnexpectedEOF", cut, bufio_, err)
			}
		}
	}
}

func TestReadPassesReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadRequest(iotest.ErrReader(boom), DefaultLimits())
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

// payload builds raw frames for malformed cases.
type raw struct{ b []byte }

func (r *raw) u16(v int) *raw    { r.b = binary.BigEndian.AppendUint16(r.b, uint16(v)); return r }
func (r *raw) u32(v int) *raw    { r.b = binary.BigEndian.AppendUint32(r.b, uint32(v)); return r }
func (r *raw) s16(s string) *raw { return r.u16(len(s)).bytes(s) }
func (r *raw) bytes(s string) *raw {
	r.b = append(r.b, s...)
	return r
}

func frameOf(kind byte, payload []byte) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(payload))
	putHeader(b, kind, uint32(len(payload)))
	return append(b, payload...)
}

func reqFrame(build func(*raw)) []byte {
	r := &raw{}
	build(r)
	return frameOf(KindRequest, r.b)
}

func TestDecodeRequestErrors(t *testing.T) {
	valid, err := AppendRequest(nil, &invoker.Request{Method: "GET", Path: "/", Header: []invoker.Header{{Name: "A", Value: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	small := Limits{MaxHeaders: 2, MaxMetaBytes: 16, MaxBodyBytes: 4}
	tests := []struct {
		name  string
		frame []byte
		lim   Limits
		want  error
	}{
		{"empty", nil, Limits{}, ErrMalformed},
		{"short header", valid[:5], Limits{}, ErrMalformed},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), Limits{}, ErrMalformed},
		{"bad magic second byte", mutate(func(b []byte) []byte { b[1] = 'X'; return b }), Limits{}, ErrMalformed},
		{"version 2", mutate(func(b []byte) []byte { b[2] = 2; return b }), Limits{}, ErrVersion},
		{"response kind", mutate(func(b []byte) []byte { b[3] = KindResponse; return b }), Limits{}, ErrMalformed},
		{"unknown kind", mutate(func(b []byte) []byte { b[3] = 'Z'; return b }), Limits{}, ErrMalformed},
		{"trailing byte", append(append([]byte(nil), valid...), 0), Limits{}, ErrMalformed},
		{"missing byte", valid[:len(valid)-1], Limits{}, ErrMalformed},
		{"empty payload", frameOf(KindRequest, nil), Limits{}, ErrMalformed},
		{"method past end", reqFrame(func(r *raw) { r.u16(10).bytes("GET") }), Limits{}, ErrMalformed},
		{"empty method", reqFrame(func(r *raw) { r.s16("").s16("/").s16("").u16(0) }), Limits{}, ErrMalformed},
		{"method not a token", reqFrame(func(r *raw) { r.s16("G T").s16("/").s16("").u16(0) }), Limits{}, ErrMalformed},
		{"no header count", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("") }), Limits{}, ErrMalformed},
		{"header count past end", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(3).s16("A").u32(0) }), Limits{}, ErrMalformed},
		{"value past end", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("A").u32(1 << 30).bytes("xxxx") }), Limits{}, ErrMalformed},
		{"header name not a token", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("A:B").u32(0) }), Limits{}, ErrMalformed},
		{"empty header name", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("").u32(0) }), Limits{}, ErrMalformed},
		{"value with LF", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("A").u32(3).bytes("a\nb") }), Limits{}, ErrMalformed},
		{"value with CR", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("A").u32(1).bytes("\r") }), Limits{}, ErrMalformed},
		{"value with NUL", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(1).s16("A").u32(1).bytes("\x00") }), Limits{}, ErrMalformed},
		{"too many headers", reqFrame(func(r *raw) {
			r.s16("GET").s16("/").s16("").u16(3)
			for range 3 {
				r.s16("A").u32(0)
			}
		}), small, ErrTooLarge},
		{"too much metadata", reqFrame(func(r *raw) { r.s16("GET").s16(strings.Repeat("/", 14)).s16("").u16(0) }), small, ErrTooLarge},
		{"body too large", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(0).bytes("12345") }), small, ErrTooLarge},
		{"declared payload over limits", frameOf(KindRequest, make([]byte, 8+2*6+16+4+1)), small, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRequest(tc.frame, tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeRequest: %v, want %v", err, tc.want)
			}
			if len(tc.frame) == 0 || tc.name == "trailing byte" {
				return // a stream has no notion of these
			}
			if _, err := ReadRequest(bytes.NewReader(tc.frame), tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("ReadRequest: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	resp := func(build func(*raw)) []byte {
		r := &raw{}
		build(r)
		return frameOf(KindResponse, r.b)
	}
	tests := []struct {
		name  string
		frame []byte
		lim   Limits
		want  error
	}{
		{"request kind", reqFrame(func(r *raw) { r.s16("GET").s16("/").s16("").u16(0) }), Limits{}, ErrMalformed},
		{"no status", resp(func(r *raw) {}), Limits{}, ErrMalformed},
		{"status 0", resp(func(r *raw) { r.u16(0).u16(0) }), Limits{}, ErrMalformed},
		{"status 99", resp(func(r *raw) { r.u16(99).u16(0) }), Limits{}, ErrMalformed},
		{"status 1000", resp(func(r *raw) { r.u16(1000).u16(0) }), Limits{}, ErrMalformed},
		{"no header count", resp(func(r *raw) { r.u16(200) }), Limits{}, ErrMalformed},
		{"name past end", resp(func(r *raw) { r.u16(200).u16(1).u16(200).u32(0) }), Limits{}, ErrMalformed},
		{"header split", resp(func(r *raw) { r.u16(200).u16(1).s16("Set-Cookie").u32(9).bytes("a\r\nX: evil") }), Limits{}, ErrMalformed},
		{"too many headers", resp(func(r *raw) { r.u16(200).u16(2).s16("A").u32(0).s16("B").u32(0) }), Limits{MaxHeaders: 1}, ErrTooLarge},
		{"body too large", resp(func(r *raw) { r.u16(200).u16(0).bytes("xx") }), Limits{MaxBodyBytes: 1}, ErrTooLarge},
		{"value over meta limit", resp(func(r *raw) { r.u16(200).u16(1).s16("A").u32(10).bytes("0123456789") }), Limits{MaxMetaBytes: 10}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeResponse(tc.frame, tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeResponse: %v, want %v", err, tc.want)
			}
			if _, err := ReadResponse(bytes.NewReader(tc.frame), tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("ReadResponse: %v, want %v", err, tc.want)
			}
		})
	}
}

// A reader must refuse a huge declared length before reading or allocating it.
func TestReadRefusesHugeLengthBeforeReading(t *testing.T) {
	h := make([]byte, HeaderLen)
	putHeader(h, KindResponse, 1<<32-1)
	r := &countingReader{r: bytes.NewReader(h)}
	_, err := ReadResponse(r, DefaultLimits())
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if r.n != HeaderLen {
		t.Fatalf("read %d bytes, want only the header", r.n)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := ReadResponse(bytes.NewReader(h), DefaultLimits()); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("allocated %d bytes refusing 10 huge frames", n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("a", 1<<16)
	reqs := []struct {
		name string
		req  *invoker.Request
		want error
	}{
		{"nil", nil, ErrMalformed},
		{"empty method", &invoker.Request{Path: "/"}, ErrMalformed},
		{"method with space", &invoker.Request{Method: "GE T"}, ErrMalformed},
		{"long method", &invoker.Request{Method: long}, ErrTooLarge},
		{"long path", &invoker.Request{Method: "GET", Path: long}, ErrTooLarge},
		{"long query", &invoker.Request{Method: "GET", Query: long}, ErrTooLarge},
		{"long header name", &invoker.Request{Method: "GET", Header: []invoker.Header{{Name: long, Value: ""}}}, ErrTooLarge},
		{"bad header name", &invoker.Request{Method: "GET", Header: []invoker.Header{{Name: "A B", Value: ""}}}, ErrMalformed},
		{"header value with CRLF", &invoker.Request{Method: "GET", Header: []invoker.Header{{Name: "A", Value: "x\r\nB: y"}}}, ErrMalformed},
		{"too many headers", &invoker.Request{Method: "GET", Header: make([]invoker.Header, 1<<16)}, ErrTooLarge},
	}
	for _, tc := range reqs {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendRequest(dst, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst changed to %q", got)
			}
			if err := WriteRequest(io.Discard, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("WriteRequest: %v, want %v", err, tc.want)
			}
		})
	}
	resps := []struct {
		name string
		resp *invoker.Response
		want error
	}{
		{"nil", nil, ErrMalformed},
		{"status 0", &invoker.Response{}, ErrMalformed},
		{"status 1000", &invoker.Response{Status: 1000}, ErrMalformed},
		{"bad header", &invoker.Response{Status: 200, Header: []invoker.Header{{Name: "", Value: "x"}}}, ErrMalformed},
	}
	for _, tc := range resps {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AppendResponse(nil, tc.resp); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err := WriteResponse(io.Discard, tc.resp); !errors.Is(err, tc.want) {
				t.Fatalf("WriteResponse: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWritePassesWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	err := WriteResponse(errWriter{boom}, &invoker.Response{Status: 200})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestFrameLen(t *testing.T) {
	frame, err := AppendResponse(nil, &invoker.Response{Status: 200, Body: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < HeaderLen; i++ {
		if n, ok, err := FrameLen(frame[:i]); ok || err != nil || n != 0 {
			t.Fatalf("prefix %d: %d %v %v, want not ok", i, n, ok, err)
		}
	}
	for i := HeaderLen; i <= len(frame); i++ {
		if n, ok, err := FrameLen(frame[:i]); !ok || err != nil || n != len(frame) {
			t.Fatalf("prefix %d: %d %v %v, want %d", i, n, ok, err, len(frame))
		}
	}
	bad := []struct {
		b    []byte
		want error
	}{
		{[]byte("X"), ErrMalformed},
		{[]byte("LX"), ErrMalformed},
		{[]byte("LF\x02"), ErrVersion},
		{[]byte("LF\x01Z"), ErrMalformed},
		{[]byte("HTTP/1.1 200 OK\r\n"), ErrMalformed},
	}
	for _, tc := range bad {
		if _, _, err := FrameLen(tc.b); !errors.Is(err, tc.want) {
			t.Fatalf("FrameLen(%q): %v, want %v", tc.b, err, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	if got := (Limits{}).norm(); got != DefaultLimits() {
		t.Fatalf("zero limits normalise to %+v, want defaults", got)
	}
	lim := Limits{MaxHeaders: 2, MaxMetaBytes: 10, MaxBodyBytes: 5}
	if got, want := lim.MaxFrameLen(KindRequest), int64(HeaderLen+8+2*6+10+5); got != want {
		t.Fatalf("MaxFrameLen(request) = %d, want %d", got, want)
	}
	if got, want := lim.MaxFrameLen(KindResponse), int64(HeaderLen+4+2*6+10+5); got != want {
		t.Fatalf("MaxFrameLen(response) = %d, want %d", got, want)
	}
	huge := Limits{MaxHeaders: 1 << 30, MaxMetaBytes: math.MaxInt, MaxBodyBytes: 1 << 40}
	if got := huge.MaxFrameLen(KindRequest); got != int64(HeaderLen+maxPayload) {
		t.Fatalf("MaxFrameLen clamps to %d, want %d", got, int64(HeaderLen+maxPayload))
	}
	// Exactly at every limit is accepted.
	req := &invoker.Request{Method: "GET", Path: "/a", Query: "", Header: []invoker.Header{{Name: "A", Value: "bc"}, {Name: "D", Value: "e"}}, Body: []byte("12345")}
	frame, err := AppendRequest(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(frame)) != lim.MaxFrameLen(KindRequest) {
		t.Fatalf("frame of %d bytes, want exactly MaxFrameLen %d", len(frame), lim.MaxFrameLen(KindRequest))
	}
	got, err := DecodeRequest(frame, lim)
	if err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	assertRequest(t, got, req)
	// One past each limit is refused.
	for _, over := range []Limits{
		{MaxHeaders: 1, MaxMetaBytes: 10, MaxBodyBytes: 5},
		{MaxHeaders: 2, MaxMetaBytes: 9, MaxBodyBytes: 5},
		{MaxHeaders: 2, MaxMetaBytes: 10, MaxBodyBytes: 4},
	} {
		if _, err := DecodeRequest(frame, over); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("limits %+v: %v, want ErrTooLarge", over, err)
		}
	}
}

func assertRequest(t *testing.T, got, want *invoker.Request) {
	t.Helper()
	w := *want
	if len(w.Body) == 0 {
		w.Body = nil
	}
	if len(w.Header) == 0 {
		w.Header = nil
	}
	if !reflect.DeepEqual(got, &w) {
		t.Fatalf("got  %+v\nwant %+v", trunc(got), trunc(&w))
	}
}

func assertResponse(t *testing.T, got, want *invoker.Response) {
	t.Helper()
	w := *want
	if len(w.Body) == 0 {
		w.Body = nil
	}
	if len(w.Header) == 0 {
		w.Header = nil
	}
	if !reflect.DeepEqual(got, &w) {
		t.Fatalf("got  %+v\nwant %+v", trunc(got), trunc(&w))
	}
}

func trunc(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func TestErrorMessages(t *testing.T) {
	h := make([]byte, HeaderLen)
	putHeader(h, KindResponse, 1<<32-1)
	_, tooLarge := DecodeResponse(h, Limits{MaxHeaders: 1, MaxMetaBytes: 1, MaxBodyBytes: 1})
	_, _, version := FrameLen([]byte("LF\x07"))
	_, _, magic := FrameLen([]byte("XY"))
	_, kind := DecodeRequest([]byte("LF\x01Z\x00\x00\x00\x00"), Limits{})
	_, value := AppendRequest(nil, &invoker.Request{Method: "GET", Header: []invoker.Header{{Name: "A", Value: "\n"}}})
	_, truncated := ReadRequest(bytes.NewReader([]byte("LF\x01Q\x00\x00\x00\x05ab")), Limits{})
	_, readFail := ReadRequest(iotest.ErrReader(errors.New("boom")), Limits{})
	tests := []struct {
		err  error
		want string
	}{
		{tooLarge, "frame: too large: payload of 4294967295 bytes, limit 12"},
		{version, "frame: unsupported version: version 7, want 1"},
		{magic, `frame: malformed: bad magic "XY"`},
		{kind, `frame: malformed: kind "Z"`},
		{value, `header "A": frame: malformed: value contains CR, LF or NUL`},
		{truncated, "frame: malformed: truncated payload: unexpected EOF"},
		{readFail, "frame: read header: boom"},
	}
	for _, tc := range tests {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
}
