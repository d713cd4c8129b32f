package main

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

// The expected bitmaps come from the Benchmarks Game's plain C program
// (mandelbrot.gcc #1, compiled with gcc -O2), not from this code.
func TestMandelbrot(t *testing.T) {
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		body   string // exact on 200, a substring otherwise
	}{
		{"8x8", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"image_size": 8}`)}, 200,
			"P4\n8 8\n\x02\x00\x0f\x2f\xff\x2f\x0f\x00"},
		{"10x10 padded rows", sdk.Request{Method: "GET", Path: "/", Query: "image_size=10"}, 200,
			"P4\n10 10\n\x00\x00\x01\x00\x07\x80\x07\xc0\x3f\xc0\xff\x80\x3f\xc0\x07\xc0\x07\x80\x01\x00"},
		{"one pixel", sdk.Request{Method: "GET", Path: "/", Query: "image_size=1"}, 200, "P4\n1 1\n\x00"},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, "give the size"},
		{"zero", sdk.Request{Method: "GET", Path: "/", Query: "image_size=0"}, 400, "outside [1, 16384]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "image_size=16385"}, 400, "outside"},
		{"not a number", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"image_size": "big"}`)}, 400, "bad JSON"},
		{"float", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"image_size": 8.5}`)}, 400, "not an integer"},
		{"no size", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"size": 8}`)}, 400, `no "image_size"`},
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
				if tc.status == 200 && (string(r.Body) != tc.body || sdktest.Get(r.Header, "Content-Type") != "image/x-portable-bitmap") {
					t.Fatalf("body %q, want %q", r.Body, tc.body)
				}
				if !strings.Contains(string(r.Body), tc.body) {
					t.Fatalf("body %q, want it to hold %q", r.Body, tc.body)
				}
			}
		})
	}
}

func TestMandelbrotLarge(t *testing.T) {
	for _, tc := range []struct {
		n   int
		md5 string
	}{{200, "cc65e64bd553ed18896de1dfe7fae3e5"}, {1000, "9beadc69396d01081a98cf5dc057ce89"}} {
		sum := md5.Sum(render(tc.n))
		if got := hex.EncodeToString(sum[:]); got != tc.md5 {
			t.Errorf("md5 of %dx%d = %s, want %s", tc.n, tc.n, got, tc.md5)
		}
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "mandelbrot", handle) }
