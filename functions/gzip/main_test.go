package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestGzip(t *testing.T) {
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 1000))
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		want   []byte // the decompressed answer on 200
		msg    string // otherwise
	}{
		{"body", sdk.Request{Method: "POST", Path: "/", Body: text}, 200, text, ""},
		{"binary body", sdk.Request{Method: "POST", Path: "/", Body: []byte{0, 1, 2, 255}}, 200, []byte{0, 1, 2, 255}, ""},
		{"query size", sdk.Request{Method: "GET", Path: "/", Query: "size=1000"}, 200, generate(1000), ""},
		{"json size", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"size": 5000}`)}, 200, generate(5000), ""},
		{"other json is data", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"size": 5, "x": 1}`)}, 200, []byte(`{"size": 5, "x": 1}`), ""},
		{"empty", sdk.Request{Method: "POST", Path: "/"}, 400, nil, "nothing to compress"},
		{"bad size", sdk.Request{Method: "GET", Path: "/", Query: "size=0"}, 400, nil, `size="0"`},
		{"huge size", sdk.Request{Method: "GET", Path: "/", Query: "size=16777217"}, 400, nil, "not an integer in [1, 16777216]"},
		{"json bad size", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"size": 1.5}`)}, 400, nil, "not an integer"},
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
				if tc.status != 200 {
					if !strings.Contains(string(r.Body), tc.msg) {
						t.Fatalf("body %q, want it to hold %q", r.Body, tc.msg)
					}
					continue
				}
				zr, err := gzip.NewReader(bytes.NewReader(r.Body))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("round trip: %v, %d bytes, want %d", err, len(got), len(tc.want))
				}
				orig, _ := strconv.Atoi(sdktest.Get(r.Header, "X-Original-Bytes"))
				comp, _ := strconv.Atoi(sdktest.Get(r.Header, "X-Compressed-Bytes"))
				ratio, _ := strconv.ParseFloat(sdktest.Get(r.Header, "X-Compression-Ratio"), 64)
				if orig != len(tc.want) || comp != len(r.Body) || ratio <= 0 || sdktest.Get(r.Header, "Content-Type") != "application/gzip" {
					t.Fatalf("headers %v for %d -> %d bytes", r.Header, len(tc.want), len(r.Body))
				}
			}
		})
	}
}

func TestGenerateCompressesLikeText(t *testing.T) {
	g := generate(1 << 20)
	if len(g) != 1<<20 || !bytes.Equal(g, generate(1<<20)) {
		t.Fatal("generate is not exact or not deterministic")
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(g)
	zw.Close()
	if r := float64(len(g)) / float64(b.Len()); r < 2 || r > 6 {
		t.Fatalf("ratio %.2f, want text-like (2 to 6)", r)
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "gzip", handle) }

// FuzzHandle feeds arbitrary queries and bodies: every answer is a 200 or
// a 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	for _, s := range []struct {
		query string
		body  []byte
	}{{"", []byte("text")}, {"size=10", nil}, {"", []byte(`{"size": 3}`)}} {
		f.Add(s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		res, err := sdktest.Loop(handle, &sdk.Request{Method: "POST", Path: "/", Query: query, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if st := res.Responses[0].Status; st != 200 && st != 400 {
			t.Fatalf("status %d %q", st, res.Responses[0].Body)
		}
	})
}
