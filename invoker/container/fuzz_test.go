package container

import (
	"bytes"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// FuzzFrameOut writes a function's stdout to a loop instance's frame
// collector in two chunks: it must never panic, and a well-formed response
// frame comes back intact.
func FuzzFrameOut(f *testing.F) {
	good, err := frame.AppendResponse(nil, &invoker.Response{Status: 201,
		Header: []invoker.Header{{Name: "X-A", Value: "b"}}, Body: []byte("hello")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, 3)
	f.Add(good, 0)
	f.Add([]byte("LF\x01R\xff\xff\xff\xff"), 4)
	f.Add([]byte("hello world"), 2)
	f.Fuzz(func(t *testing.T, out []byte, split int) {
		if split < 0 || split > len(out) {
			split = len(out) / 2
		}
		o := newFrameOut()
		for _, chunk := range [][]byte{out[:split], out[split:]} {
			if n, err := o.Write(chunk); n != len(chunk) || err != nil {
				t.Fatalf("Write = %d, %v: the copy from the task must never stop", n, err)
			}
		}
		select {
		case <-o.ready:
		default:
			return
		}
		resp, err := o.take()
		if bytes.Equal(out, good) {
			if err != nil || resp.Status != 201 || string(resp.Body) != "hello" {
				t.Fatalf("good frame: %v, %v", resp, err)
			}
		}
	})
}
