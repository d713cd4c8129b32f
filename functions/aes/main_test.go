package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

const key = "0123456789abcdef0123456789abcdef"

func call(t *testing.T, body string) (int, output, string) {
	t.Helper()
	var outs []output
	var status []int
	var raw string
	for _, run := range []func(sdk.Handler, *sdk.Request) (sdktest.Result, error){
		func(h sdk.Handler, r *sdk.Request) (sdktest.Result, error) { return sdktest.Loop(h, r) },
		sdktest.CGI,
	} {
		res, err := run(handle, &sdk.Request{Method: "POST", Path: "/", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Responses[0]
		raw = string(r.Body)
		status = append(status, r.Status)
		var o output
		if r.Status == 200 {
			if err := json.Unmarshal(r.Body, &o); err != nil {
				t.Fatal(err)
			}
		}
		outs = append(outs, o)
	}
	if status[0] != status[1] {
		t.Fatalf("loop answered %d, cgi %d", status[0], status[1])
	}
	return status[0], outs[0], raw
}

func req(k, msg, op string) string {
	b, _ := json.Marshal(map[string]string{"key": k, "message": msg, "op": op})
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	for _, msg := range []string{"", "hello", "ünïcödé ✓", strings.Repeat("x", 100000)} {
		st, enc, raw := call(t, req(key, msg, "encrypt"))
		if st != 200 || enc.Op != "encrypt" || enc.Ciphertext == nil {
			t.Fatalf("encrypt: %d %s", st, raw)
		}
		ct, err := base64.StdEncoding.DecodeString(*enc.Ciphertext)
		if err != nil || len(ct) != 12+len(msg)+16 {
			t.Fatalf("ciphertext of %d bytes (%v), want %d", len(ct), err, 12+len(msg)+16)
		}
		// Decrypt independently with the standard library...
		block, _ := aes.NewCipher([]byte(key))
		gcm, _ := cipher.NewGCM(block)
		pt, err := gcm.Open(nil, ct[:12], ct[12:], nil)
		if err != nil || string(pt) != msg {
			t.Fatalf("independent decrypt: %v", err)
		}
		// ...and through the function.
		st, dec, raw := call(t, req(key, *enc.Ciphertext, "decrypt"))
		if st != 200 || dec.Op != "decrypt" || dec.Plaintext == nil || *dec.Plaintext != msg {
			t.Fatalf("decrypt: %d %.100s", st, raw)
		}
		// A flipped bit in the tag, the nonce or the body fails authentication.
		for _, i := range []int{0, len(ct) / 2, len(ct) - 1} {
			bad := append([]byte(nil), ct...)
			bad[i] ^= 1
			st, _, raw := call(t, req(key, base64.StdEncoding.EncodeToString(bad), "decrypt"))
			if st != 400 || !strings.Contains(raw, "authentication failed") {
				t.Fatalf("tampered byte %d: %d %s", i, st, raw)
			}
		}
		st, _, raw = call(t, req(strings.ToUpper(key), *enc.Ciphertext, "decrypt"))
		if st != 400 || !strings.Contains(raw, "authentication failed") {
			t.Fatalf("wrong key: %d %s", st, raw)
		}
	}
	// Two encryptions of one message differ (fresh nonces).
	_, a, _ := call(t, req(key, "same", ""))
	_, b, _ := call(t, req(key, "same", ""))
	if *a.Ciphertext == *b.Ciphertext {
		t.Fatal("two encryptions gave the same ciphertext")
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ name, body, msg string }{
		{"empty", "", "give a JSON body"},
		{"not json", "hello", "bad JSON"},
		{"no key", `{"message":"m"}`, `needs "key" and "message"`},
		{"short key", req("short", "m", "encrypt"), "key is 5 bytes, want 32"},
		{"long key", req(key+"x", "m", "encrypt"), "key is 33 bytes"},
		{"bad op", req(key, "m", "sign"), `op="sign"`},
		{"bad base64", req(key, "!!!", "decrypt"), "not standard base64"},
		{"short ciphertext", req(key, "AAAA", "decrypt"), "shorter than nonce and tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, raw := call(t, tc.body)
			if st != 400 || !strings.Contains(raw, tc.msg) {
				t.Fatalf("%d %q, want 400 holding %q", st, raw, tc.msg)
			}
		})
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "aes", handle) }

// FuzzHandle feeds arbitrary queries and bodies: every answer is a 200 or
// a 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	for _, s := range []struct {
		query string
		body  []byte
	}{{"", []byte(`{"key":"0123456789abcdef0123456789abcdef","message":"m"}`)}, {"", []byte(`{"key":"0123456789abcdef0123456789abcdef","message":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","op":"decrypt"}`)}} {
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
