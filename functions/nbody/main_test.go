package main

import (
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

// The Benchmarks Game's published outputs: -0.169075164 before, and after
// 1000 steps (its sample input) -0.169087605; after 50,000,000 steps
// -0.169059907 (too slow for a test).
func TestNBody(t *testing.T) {
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		body   string // exact on 200, a substring otherwise
	}{
		{"benchmarks game sample", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"n": 1000}`)}, 200,
			`{"n":1000,"energy_before":-0.169075164,"energy_after":-0.169087605}` + "\n"},
		{"query", sdk.Request{Method: "GET", Path: "/", Query: "n=0"}, 200,
			`{"n":0,"energy_before":-0.169075164,"energy_after":-0.169075164}` + "\n"},
		{"query wins", sdk.Request{Method: "POST", Path: "/", Query: "n=1000", Body: []byte(`{"n": 5}`)}, 200,
			`{"n":1000,"energy_before":-0.169075164,"energy_after":-0.169087605}` + "\n"},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, "give the number of steps"},
		{"negative", sdk.Request{Method: "GET", Path: "/", Query: "n=-1"}, 400, "outside [0, 100000000]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "n=100000001"}, 400, "outside"},
		{"not a number", sdk.Request{Method: "GET", Path: "/", Query: "n=x"}, 400, "not an integer"},
		{"no n", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"steps": 20}`)}, 400, `no "n"`},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`[`)}, 400, "bad JSON"},
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

func TestWorkload(t *testing.T) { suitetest.Check(t, "nbody", handle) }
