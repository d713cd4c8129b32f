package main

import (
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestFib(t *testing.T) {
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		body   string // exact on 200, a substring otherwise
	}{
		{"query", sdk.Request{Method: "GET", Path: "/", Query: "n=20"}, 200, `{"number":20,"result":6765}` + "\n"},
		{"json body", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"number": 20}`)}, 200, `{"number":20,"result":6765}` + "\n"},
		{"query wins", sdk.Request{Method: "POST", Path: "/", Query: "n=10", Body: []byte(`{"number": 20}`)}, 200, `{"number":10,"result":55}` + "\n"},
		{"zero", sdk.Request{Method: "GET", Path: "/", Query: "n=0"}, 200, `{"number":0,"result":0}` + "\n"},
		{"one", sdk.Request{Method: "GET", Path: "/", Query: "n=1"}, 200, `{"number":1,"result":1}` + "\n"},
		{"escaped query", sdk.Request{Method: "GET", Path: "/", Query: "x=1&n=%32%35"}, 200, `{"number":25,"result":75025}` + "\n"},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, "give n"},
		{"negative", sdk.Request{Method: "GET", Path: "/", Query: "n=-1"}, 400, "outside [0, 50]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "n=51"}, 400, "outside [0, 50]"},
		{"not a number", sdk.Request{Method: "GET", Path: "/", Query: "n=ten"}, 400, "not an integer"},
		{"bad query", sdk.Request{Method: "GET", Path: "/", Query: "n=%zz"}, 400, "bad query"},
		{"float", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"number": 2.5}`)}, 400, "not an integer"},
		{"numeric string accepted", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"number": "20"}`)}, 200, `{"number":20,"result":6765}` + "\n"},
		{"word string", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"number": "ten"}`)}, 400, "bad JSON"},
		{"no number", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"n": 20}`)}, 400, `no "number"`},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"number":`)}, 400, "bad JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, run := range []func(sdk.Handler, *sdk.Request) (sdktest.Result, error){
				func(h sdk.Handler, r *sdk.Request) (sdktest.Result, error) { return sdktest.Loop(h, r) },
				sdktest.CGI,
			} {
				res, err := run(handle, &tc.req)
				if err != nil {
					t.Fatal(err)
				}
				r := res.Responses[0]
				if r.Status != tc.status {
					t.Fatalf("status %d %q, want %d", r.Status, r.Body, tc.status)
				}
				if tc.status == 200 && (string(r.Body) != tc.body || sdktest.Get(r.Header, "Content-Type") != "application/json") {
					t.Fatalf("body %q, want %q", r.Body, tc.body)
				}
				if !strings.Contains(string(r.Body), tc.body) {
					t.Fatalf("body %q, want it to hold %q", r.Body, tc.body)
				}
			}
		})
	}
}

func TestFibValues(t *testing.T) {
	want := []int{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55}
	for n, w := range want {
		if got := fib(n); got != w {
			t.Errorf("fib(%d) = %d, want %d", n, got, w)
		}
	}
	if got := fib(30); got != 832040 {
		t.Errorf("fib(30) = %d, want 832040", got)
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "fib", handle) }
