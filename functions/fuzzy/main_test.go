package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestLevenshteinKnown(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"saturday", "sunday", 3},
		{"abc", "", 3}, {"a", "abc", 2}, {"café", "cafe", 1}, {"gumbo", "gambol", 2}, {"same", "same", 0},
	} {
		t1 := []rune(tc.a)
		prev, cur := make([]int, len(t1)+1), make([]int, len(t1)+1)
		if got := levenshtein(t1, tc.b, prev, cur); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

func TestFuzzy(t *testing.T) {
	const text = "The kitten was Sitting; a mitten, then KITTEN again. Written in the kitchen."
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		want   string // JSON on 200, a substring otherwise
	}{
		{"raw body", sdk.Request{Method: "POST", Path: "/", Query: "search_term=kitten", Body: []byte(text)}, 200,
			`{"search_term":"kitten","words":13,"matches":[{"word":"kitten","distance":0,"offset":4,"count":2},{"word":"mitten","distance":1,"offset":26,"count":1},{"word":"written","distance":2,"offset":53,"count":1},{"word":"kitchen","distance":2,"offset":68,"count":1},{"word":"sitting","distance":3,"offset":15,"count":1},{"word":"then","distance":3,"offset":34,"count":1},{"word":"the","distance":4,"offset":0,"count":2},{"word":"in","distance":4,"offset":61,"count":1},{"word":"again","distance":5,"offset":46,"count":1},{"word":"was","distance":6,"offset":11,"count":1}]}`},
		{"json text", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"search_term":"Cafe","text":"un café, deux cafés"}`)}, 200,
			`{"search_term":"Cafe","words":4,"matches":[{"word":"café","distance":1,"offset":3,"count":1},{"word":"cafés","distance":2,"offset":15,"count":1},{"word":"un","distance":4,"offset":0,"count":1},{"word":"deux","distance":4,"offset":10,"count":1}]}`},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, "give ?search_term"},
		{"no text", sdk.Request{Method: "GET", Path: "/", Query: "search_term=x"}, 400, "no text"},
		{"empty term", sdk.Request{Method: "POST", Path: "/", Query: "search_term=", Body: []byte(text)}, 400, "0 code points"},
		{"long term", sdk.Request{Method: "POST", Path: "/", Query: "search_term=" + strings.Repeat("a", 65), Body: []byte(text)}, 400, "65 code points"},
		{"no term", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"text":"abc"}`)}, 400, `no "search_term"`},
		{"bad size", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"search_term":"a","size":0}`)}, 400, "size=0"},
		{"huge size", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"search_term":"a","size":16777217}`)}, 400, "not an integer in"},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`kitten`)}, 400, "bad JSON"},
		{"no words", sdk.Request{Method: "POST", Path: "/", Query: "search_term=x", Body: []byte(" ... ")}, 200, `{"search_term":"x","words":0,"matches":[]}`},
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
				if tc.status == 200 && (string(r.Body) != tc.want+"\n" || sdktest.Get(r.Header, "Content-Type") != "application/json") {
					t.Fatalf("body\n%s\nwant\n%s", r.Body, tc.want)
				}
				if !strings.Contains(string(r.Body), tc.want) {
					t.Fatalf("body %q, want it to hold %q", r.Body, tc.want)
				}
			}
		})
	}
}

func TestGenerated(t *testing.T) {
	for _, n := range []int{1, 1000, 1 << 20} {
		g := generate(n)
		if len(g) != n || g != generate(n) {
			t.Fatalf("generate(%d): %d bytes, or not deterministic", n, len(g))
		}
	}
	res, err := sdktest.Loop(handle, &sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"search_term":"kitten","size":4096}`)})
	if err != nil {
		t.Fatal(err)
	}
	var out output
	if err := json.Unmarshal(res.Responses[0].Body, &out); err != nil {
		t.Fatal(err)
	}
	// "kitten" is in the vocabulary, and 4 KB holds about 600 words.
	if out.Words < 400 || len(out.Matches) != 10 || out.Matches[0].Word != "kitten" || out.Matches[0].Distance != 0 {
		t.Fatalf("got %+v", out)
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "fuzzy", handle) }

// FuzzHandle feeds arbitrary queries and bodies: every answer is a 200 or
// a 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	for _, s := range []struct {
		query string
		body  []byte
	}{{"search_term=kitten", []byte("a kitten sat")}, {"", []byte(`{"search_term":"x","text":"y"}`)}, {"", []byte(`{"search_term":"x","size":100}`)}} {
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
