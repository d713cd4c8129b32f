package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/invoker"
)

// TestLargeBodiesAreNotCopied: the gateway hands the request's body to the
// runtime and the runtime's response body to the client without a copy of
// its own (invoker.Instance's contract): the runtime sees fasthttp's bytes,
// the client gets the runtime's. At 1 MiB the copies were most of the
// gateway's garbage and made its cost grow faster than the body. (Bytes
// allocated per call, 1 MiB before, a few KiB after, are not asserted:
// under -race sync.Pool drops buffers at random, fasthttp's among them.)
func TestLargeBodiesAreNotCopied(t *testing.T) {
	const size = 1 << 20
	in := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	out := bytes.Repeat([]byte("fedcba9876543210"), size/16)
	resp := &invoker.Response{Status: 200, Body: out}
	var posted *byte // the first byte of the request body fasthttp holds
	rt := &fakeRuntime{load: func(context.Context, invoker.Spec) (invoker.Function, error) {
		return &fakeFunction{
			newInstance: func(context.Context, *invoker.Timeline) (invoker.Instance, error) {
				return &fakeInstance{id: "big", reusable: true,
					invoke: func(_ context.Context, req *invoker.Request, _ *invoker.Timeline) (*invoker.Response, error) {
						if !bytes.Equal(req.Body, in) || &req.Body[0] != posted {
							return nil, fmt.Errorf("%w: the runtime got a copy of the body, or another body", invoker.ErrProtocol)
						}
						return resp, nil
					},
				}, nil
			},
			close: func(context.Context) error { return nil },
		}, nil
	}}
	h := noopGateway(t, rt).Handler()
	var rc fasthttp.RequestCtx
	rc.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	call := func() {
		rc.Request.Reset()
		rc.Request.Header.SetMethod(fasthttp.MethodPost)
		rc.Request.SetRequestURI("/function/noop")
		rc.Request.SetBody(in) // into rc's buffer, reused from the second call on
		rc.Response.Reset()
		posted = &rc.PostBody()[0]
		h(&rc)
		if rc.Response.StatusCode() != 200 || !bytes.Equal(rc.Response.Body(), out) {
			t.Fatalf("status %d, %d bytes of body: %.100s", rc.Response.StatusCode(), len(rc.Response.Body()), rc.Response.Body())
		}
		if &rc.Response.Body()[0] != &out[0] {
			t.Fatal("the response body is a copy of the runtime's")
		}
	}
	for range 3 { // the first call starts the instance
		call()
	}
}
