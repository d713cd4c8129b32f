package frame_test

import (
	"bytes"
	"fmt"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// A host collecting an instance's stdout learns from FrameLen when a whole
// response frame has arrived, then decodes exactly that frame.
func Example() {
	var stdin bytes.Buffer
	if err := frame.WriteRequest(&stdin, &invoker.Request{Method: "GET", Path: "/", Query: "n=10"}); err != nil {
		panic(err)
	}
	req, err := frame.ReadRequest(&stdin, frame.DefaultLimits())
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Method, req.Path, req.Query)

	out, err := frame.AppendResponse(nil, &invoker.Response{Status: 200, Body: []byte("55")})
	if err != nil {
		panic(err)
	}
	for i := range len(out) + 1 { // bytes arriving one at a time
		n, ok, err := frame.FrameLen(out[:i])
		if err != nil {
			panic(err)
		}
		if ok && i >= n {
			resp, err := frame.DecodeResponse(out[:n], frame.DefaultLimits())
			if err != nil {
				panic(err)
			}
			fmt.Println(resp.Status, string(resp.Body), "after", i, "bytes")
			break
		}
	}
	// Output:
	// GET / n=10
	// 200 55 after 14 bytes
}
