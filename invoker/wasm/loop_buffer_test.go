package wasm

import (
	"bytes"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// A response frame holding a 1 MiB body (a little over 1 MiB) leaves its
// buffer to the next response: calls of 1 MiB do not allocate it anew.
func TestFrameOutKeepsOneMiBBuffer(t *testing.T) {
	f, err := frame.AppendResponse(nil, &invoker.Response{Status: 200, Body: bytes.Repeat([]byte("x"), 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	o := newFrameOut()
	for i := range 2 {
		if err := o.begin(); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Write(f); err != nil {
			t.Fatal(err)
		}
		resp, err := o.take()
		if err != nil || len(resp.Body) != 1<<20 {
			t.Fatalf("call %d: %v, %d bytes", i, err, len(resp.Body))
		}
		if cap(o.buf) < len(f) {
			t.Fatalf("call %d: the buffer was dropped (cap %d for a %d-byte frame)", i, cap(o.buf), len(f))
		}
	}
}
