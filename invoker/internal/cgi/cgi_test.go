package cgi

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

func TestParseCGI(t *testing.T) {
	plain := []invoker.Header{{Name: "Content-Type", Value: plainText}}
	tests := []struct {
		name   string
		out    string
		status int
		header []invoker.Header
		body   string
		err    error
	}{
		{"empty", "", 200, plain, "", nil},
		{"no headers", "hello world\n", 200, plain, "hello world\n", nil},
		{"crlf headers", "Content-Type: text/html\r\nX-A: 1\r\n\r\n<p>", 200,
			[]invoker.Header{{Name: "Content-Type", Value: "text/html"}, {Name: "X-A", Value: "1"}}, "<p>", nil},
		{"lf headers", "Content-Type: a/b\n\nbody\n\nmore", 200, []invoker.Header{{Name: "Content-Type", Value: "a/b"}}, "body\n\nmore", nil},
		{"status", "Status: 404 Not Found\r\n\r\n", 404, nil, "", nil},
		{"status lower case, code only", "status: 201\n\ncreated", 201, nil, "created", nil},
		{"location redirects", "Location: /elsewhere\n\n", 302, []invoker.Header{{Name: "Location", Value: "/elsewhere"}}, "", nil},
		{"location with status", "Status: 301\nLocation: /x\n\n", 301, []invoker.Header{{Name: "Location", Value: "/x"}}, "", nil},
		{"bad status", "Status: abc\n\n", 0, nil, "", invoker.ErrProtocol},
		{"status too short", "Status: 99\n\n", 0, nil, "", invoker.ErrProtocol},
		{"header-like without blank line", "Content-Type: text/plain\n", 200, plain, "Content-Type: text/plain\n", nil},
		{"leading blank line", "\nContent-Type: x\n\n", 200, plain, "\nContent-Type: x\n\n", nil},
		{"not a token", "Hello world: yes\n\nbody", 200, plain, "Hello world: yes\n\nbody", nil},
		{"repeated headers kept", "Set-Cookie: a=1\nSet-Cookie: b=2\n\n", 200,
			[]invoker.Header{{Name: "Set-Cookie", Value: "a=1"}, {Name: "Set-Cookie", Value: "b=2"}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := Parse([]byte(tt.out))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || !slices.Equal(resp.Header, tt.header) || string(resp.Body) != tt.body {
				t.Errorf("got %d %v %q", resp.Status, resp.Header, resp.Body)
			}
		})
	}
}

func FuzzParseCGI(f *testing.F) {
	for _, s := range []string{"", "x", "Status: 200\r\n\r\nok", "A: b\n\n", "Location: /\n\n", "a\n\nb", "Status: 9999\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		resp, err := Parse(out)
		if err != nil {
			if !errors.Is(err, invoker.ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
		if !bytes.HasSuffix(out, resp.Body) {
			t.Fatalf("body %q is not a suffix of the output", resp.Body)
		}
		for _, h := range resp.Header {
			if !isToken([]byte(h.Name)) || strings.ContainsAny(h.Value, "\r\n\x00") {
				t.Fatalf("bad header %q", h)
			}
		}
	})
}

func TestHeaderEnvKey(t *testing.T) {
	tests := map[string]string{
		"X-Test": "HTTP_X_TEST", "accept": "HTTP_ACCEPT", "a_b": "", "X_Forwarded_For": "",
		"": "", "X Test": "", "X=1": "", "ü": "",
	}
	for in, want := range tests {
		if got := HeaderEnvKey(in); got != want {
			t.Errorf("HeaderEnvKey(%q) = %q, want %q", in, got, want)
		}
	}
}
