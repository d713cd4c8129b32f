package main

import (
	"bytes"
	"testing"

	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestEcho(t *testing.T) {
	binary := make([]byte, 300)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		name string
		req  sdk.Request
		ct   string
	}{
		{"json", sdk.Request{Method: "POST", Path: "/p", Query: "x=1&y=%20", Header: []sdk.Header{{Name: "content-type", Value: "application/json"}}, Body: []byte(`{"a":1}`)}, "application/json"},
		{"binary", sdk.Request{Method: "PUT", Path: "/", Body: binary}, ""},
		{"empty", sdk.Request{Method: "GET", Path: "/"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loop, err := sdktest.Loop(handle, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			cgi, err := sdktest.CGI(handle, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			for abi, res := range map[string]sdktest.Result{"loop": loop, "cgi": cgi} {
				if res.Code != 0 || len(res.Responses) != 1 {
					t.Fatalf("%s: exit %d, %d responses", abi, res.Code, len(res.Responses))
				}
				r := res.Responses[0]
				want := map[string]string{
					"Content-Type":  tc.ct,
					"X-Echo-Method": tc.req.Method,
					"X-Echo-Path":   tc.req.Path,
					"X-Echo-Query":  tc.req.Query,
				}
				for name, v := range want {
					if got := sdktest.Get(r.Header, name); got != v {
						t.Errorf("%s: %s = %q, want %q", abi, name, got, v)
					}
				}
				if r.Status != 200 || !bytes.Equal(r.Body, tc.req.Body) {
					t.Fatalf("%s: %d %q, want the body back", abi, r.Status, r.Body)
				}
			}
		})
	}
}
