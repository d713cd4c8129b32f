package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lumos-edge/lumos/functions"
)

func bundled(t *testing.T, name string) []byte {
	t.Helper()
	b, err := functions.Wasm(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBundledFunctions deploys every sample function on both runtimes with
// both ABIs and checks each answer, through real HTTP.
func TestBundledFunctions(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)
	for _, rt := range []string{"wasm-aot", "wasm-interp"} {
		for _, abi := range []string{"loop", "cgi"} {
			t.Run(rt+"/"+abi, func(t *testing.T) {
				suffix := "-" + strings.TrimPrefix(rt, "wasm-") + "-" + abi
				ann := map[string]string{"lumos.runtime": rt, "lumos.abi": abi}
				for _, fn := range []string{"hello", "echo", "fib", "json"} {
					mustDeploy(t, c, fn+suffix, bundled(t, fn), ann, nil)
				}

				for i := range 3 { // cold, then warm or prewarmed
					a := invoke(t, srv, "hello"+suffix, "", nil)
					if a.status != 200 || string(a.body) != "Hello, world!\n" {
						t.Fatalf("hello #%d: %d %q", i, a.status, a.body)
					}
					if a.header.Get("X-Call-Id") == "" || a.header.Get("X-Lumos-Start") == "" {
						t.Fatalf("hello #%d: missing invocation headers: %v", i, a.header)
					}
				}

				a := do(t, http.MethodPut, srv.url+"/function/echo"+suffix+"/a/b?x=1&y=%20z", []byte("ping\x00pong"),
					map[string]string{"Content-Type": "application/octet-stream"})
				if a.status != 200 || !bytes.Equal(a.body, []byte("ping\x00pong")) {
					t.Fatalf("echo: %d %q", a.status, a.body)
				}
				if got := a.header.Get("X-Echo-Method") + " " + a.header.Get("X-Echo-Path") + " " + a.header.Get("X-Echo-Query"); got != "PUT /a/b x=1&y=%20z" {
					t.Fatalf("echo metadata = %q", got)
				}
				if ct := a.header.Get("Content-Type"); ct != "application/octet-stream" {
					t.Fatalf("echo content type = %q", ct)
				}

				a = invoke(t, srv, "fib"+suffix, "n=20", nil)
				var fib struct{ Number, Result int }
				if a.status != 200 || json.Unmarshal(a.body, &fib) != nil || fib.Result != 6765 {
					t.Fatalf("fib(20): %d %q", a.status, a.body)
				}
				a = invoke(t, srv, "fib"+suffix, "", []byte(`{"number": 10}`))
				if a.status != 200 || json.Unmarshal(a.body, &fib) != nil || fib.Result != 55 {
					t.Fatalf("fib(10) from JSON: %d %q", a.status, a.body)
				}
				a = invoke(t, srv, "fib"+suffix, "n=x", nil)
				if a.status != 400 {
					t.Fatalf("fib bad input: %d %q", a.status, a.body)
				}

				a = invoke(t, srv, "json"+suffix, "", []byte(`[{"b":"x","a":1}]`))
				if a.status != 200 || !json.Valid(a.body) {
					t.Fatalf("json: %d %q", a.status, a.body)
				}
				a = invoke(t, srv, "json"+suffix, "", []byte(`{"broken`))
				if a.status != 400 {
					t.Fatalf("json invalid input: %d %q", a.status, a.body)
				}
			})
		}
	}
}

// TestDefaultDeployments checks that a fresh gateway serves the bundled
// functions without any deploy step (the Quick start).
func TestDefaultDeployments(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	for _, b := range functions.List() {
		a := invoke(t, srv, b.Name, "", nil)
		if a.status/100 == 5 || a.status == 404 {
			t.Fatalf("bundled %s: %d %q", b.Name, a.status, a.body)
		}
	}
	if a := invoke(t, srv, "hello", "", nil); string(a.body) != "Hello, world!\n" {
		t.Fatalf("hello = %q", a.body)
	}
}

// TestConcurrentInvocations hammers functions of both ABIs from many clients.
func TestConcurrentInvocations(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)
	mustDeploy(t, c, "echo-cgi", bundled(t, "echo"), map[string]string{"lumos.abi": "cgi"}, map[string]string{"com.openfaas.scale.max": "3"})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				name := []string{"echo", "echo-cgi"}[(g+i)%2]
				body := []byte(fmt.Sprintf("g%d-i%d", g, i))
				a, err := tryDo(http.MethodPost, srv.url+"/function/"+name, body, nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				if a.status != 200 || !bytes.Equal(a.body, body) {
					errs <- fmt.Sprintf("%s: %d %q want %q", name, a.status, a.body, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
