package frame

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

// ReadRequestInto reads each payload into the buffer it was given when it
// fits (no allocation per frame), allocates when it does not, and returns
// the buffer to reuse; the requests are those ReadRequest reads.
func TestReadRequestIntoReusesTheBuffer(t *testing.T) {
	reqs := []*invoker.Request{
		{Method: "POST", Path: "/a", Query: "n=1", Body: bytes.Repeat([]byte("a"), 1000)},
		{Method: "POST", Path: "/b", Body: bytes.Repeat([]byte("b"), 10)},
		{Method: "PUT", Path: "/c", Header: []invoker.Header{{Name: "X-K", Value: "v"}}, Body: bytes.Repeat([]byte("c"), 5000)},
		{Method: "GET", Path: "/d"},
	}
	var stream []byte
	for _, r := range reqs {
		var err error
		if stream, err = AppendRequest(stream, r); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReaderSize(bytes.NewReader(stream), 64)
	buf := make([]byte, 0, 2000)
	for i, want := range reqs {
		before := buf[:cap(buf)]
		got, next, err := ReadRequestInto(br, DefaultLimits(), buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Method != want.Method || got.Path != want.Path || got.Query != want.Query ||
			!bytes.Equal(got.Body, want.Body) || len(got.Header) != len(want.Header) {
			t.Fatalf("frame %d: got %+v, want %+v", i, got, want)
		}
		fits := cap(before) >= requestFrameLen(t, want)-HeaderLen
		if same := len(next) == 0 && &next[:1][0] == &before[0]; same != fits {
			t.Errorf("frame %d: buffer reused %v, payload fits %v", i, same, fits)
		}
		if len(got.Body) > 0 && fits && &got.Body[0] != &before[payloadOffset(t, want)] {
			t.Errorf("frame %d: the body does not alias the buffer", i)
		}
		buf = next
	}
	if _, _, err := ReadRequestInto(br, DefaultLimits(), buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// requestFrameLen returns the length of r's frame.
func requestFrameLen(t *testing.T, r *invoker.Request) int {
	t.Helper()
	f, err := AppendRequest(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return len(f)
}

// payloadOffset returns where r's body starts in its payload.
func payloadOffset(t *testing.T, r *invoker.Request) int {
	t.Helper()
	return requestFrameLen(t, r) - HeaderLen - len(r.Body)
}

func BenchmarkReadRequestInto(b *testing.B) {
	f, err := AppendRequest(nil, &invoker.Request{Method: "POST", Path: "/", Body: make([]byte, 1<<20)})
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(f)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(f)
		if _, buf, err = ReadRequestInto(r, DefaultLimits(), buf); err != nil {
			b.Fatal(err)
		}
	}
}
