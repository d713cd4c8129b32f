package container

import (
	"bytes"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// FuzzParseCGI feeds a function's stdout to the CGI parser: it must never
// panic, and a response it accepts has a valid status.
func FuzzParseCGI(f *testing.F) {
	for _, s := range []string{
		"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope",
		"Location: /x\n\n",
		"plain body",
		"Status: abc\n\n",
		"\n\nbody",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		resp, err := parseCGI(out)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
	})
}

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
