package main

import (
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestHello(t *testing.T) {
	reqs := []*sdk.Request{
		{Method: "GET", Path: "/"},
		{Method: "POST", Path: "/x", Query: "a=b", Body: []byte("ignored")},
	}
	res, err := sdktest.Loop(handle, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 0 || len(res.Responses) != len(reqs) {
		t.Fatalf("exit %d, %d responses", res.Code, len(res.Responses))
	}
	cgi, err := sdktest.CGI(handle, reqs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(res.Responses, cgi.Responses...) {
		if r.Status != 200 || string(r.Body) != "Hello, world!\n" || sdktest.Get(r.Header, "Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("got %d %q %v", r.Status, r.Body, r.Header)
		}
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "hello", handle) }
