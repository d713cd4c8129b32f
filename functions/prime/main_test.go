package main

import (
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestPrime(t *testing.T) {
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		body   string // exact on 200, a substring otherwise
	}{
		{"query", sdk.Request{Method: "GET", Path: "/", Query: "limit=100"}, 200, `{"limit":100,"count":25,"last":97}` + "\n"},
		{"json body", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"limit": 1000000}`)}, 200, `{"limit":1000000,"count":78498,"last":999983}` + "\n"},
		{"query wins", sdk.Request{Method: "POST", Path: "/", Query: "limit=10", Body: []byte(`{"limit": 20}`)}, 200, `{"limit":10,"count":4,"last":7}` + "\n"},
		{"zero", sdk.Request{Method: "GET", Path: "/", Query: "limit=0"}, 200, `{"limit":0,"count":0,"last":0}` + "\n"},
		{"two", sdk.Request{Method: "GET", Path: "/", Query: "limit=2"}, 200, `{"limit":2,"count":1,"last":2}` + "\n"},
		{"prime limit", sdk.Request{Method: "GET", Path: "/", Query: "limit=7919"}, 200, `{"limit":7919,"count":1000,"last":7919}` + "\n"},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, "give the limit"},
		{"negative", sdk.Request{Method: "GET", Path: "/", Query: "limit=-1"}, 400, "outside [0, 100000000]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "limit=100000001"}, 400, "outside"},
		{"not a number", sdk.Request{Method: "GET", Path: "/", Query: "limit=many"}, 400, "not an integer"},
		{"float", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"limit": 2.5}`)}, 400, "not an integer"},
		{"no limit", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"n": 20}`)}, 400, `no "limit"`},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"limit":`)}, 400, "bad JSON"},
		{"bad query", sdk.Request{Method: "GET", Path: "/", Query: "limit=%zz"}, 400, "bad query"},
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

// TestSieveKnown checks pi(x) against published values (OEIS A006880) and
// every small limit against trial division.
func TestSieveKnown(t *testing.T) {
	for _, tc := range []struct{ limit, count, last int }{
		{10, 4, 7}, {100, 25, 97}, {1000, 168, 997}, {10000, 1229, 9973},
		{100000, 9592, 99991}, {1000000, 78498, 999983}, {10000000, 664579, 9999991},
	} {
		if c, l := sieve(tc.limit); c != tc.count || l != tc.last {
			t.Errorf("sieve(%d) = %d, %d; want %d, %d", tc.limit, c, l, tc.count, tc.last)
		}
	}
	count, last := 0, 0
	for n := 0; n <= 2000; n++ {
		if isPrime(n) {
			count, last = count+1, n
		}
		if c, l := sieve(n); c != count || l != last {
			t.Fatalf("sieve(%d) = %d, %d; want %d, %d", n, c, l, count, last)
		}
	}
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "prime", handle) }
