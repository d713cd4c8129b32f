package sdk

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// The loop reads every request into one reused buffer: an echo handler
// (its response aliasing the request's body) answers each of a sequence of
// shrinking and growing bodies with exactly its own, and a warm loop
// allocates far less than a payload per request.
func TestLoopReusesRequestBuffer(t *testing.T) {
	sizes := []int{300 << 10, 10, 1 << 20, 5000, 0, 1 << 20, 64 << 10}
	var stdin []byte
	var bodies [][]byte
	for i, n := range sizes {
		body := bytes.Repeat([]byte{byte('a' + i)}, n)
		bodies = append(bodies, body)
		var err error
		if stdin, err = frame.AppendRequest(stdin, &invoker.Request{Method: "POST", Path: "/", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	echo := func(r *Request) (*Response, error) { return &Response{Status: 200, Body: r.Body}, nil }
	var stdout, stderr bytes.Buffer
	if code := serveLoop(echo, bytes.NewReader(stdin), &stdout, &stderr); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	br := bufio.NewReader(&stdout)
	for i, want := range bodies {
		resp, err := frame.ReadResponse(br, frame.DefaultLimits())
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if !bytes.Equal(resp.Body, want) {
			t.Fatalf("response %d: %d bytes, want %d bytes of %q", i, len(resp.Body), len(want), want[:min(1, len(want))])
		}
	}

	// 20 echoes of 1 MiB: the request and response buffers are allocated
	// once, not per request.
	one, err := frame.AppendRequest(nil, &invoker.Request{Method: "POST", Path: "/", Body: make([]byte, 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	many := bytes.Repeat(one, 20)
	allocs := testing.AllocsPerRun(3, func() {
		serveLoop(echo, bytes.NewReader(many), io.Discard, io.Discard)
	})
	bytesPerRun := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serveLoop(echo, bytes.NewReader(many), io.Discard, io.Discard)
		}
	}).AllocedBytesPerOp()
	if bytesPerRun > 6<<20 {
		t.Errorf("20 requests of 1 MiB allocated %d bytes (%v allocations): the buffers are not reused", bytesPerRun, allocs)
	}
}
