package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/gateway"
)

// importsEnvFoo is a valid module that imports a function the host lacks.
var importsEnvFoo = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: func () -> ()
	0x02, 0x0b, 0x01, 0x03, 'e', 'n', 'v', 0x03, 'f', 'o', 'o', 0x00, 0x00, // import env.foo
}

func wantAPIError(t *testing.T, err error, status int, code string) *apiError {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want a %d %s answer", err, status, code)
	}
	if ae.Status != status || ae.Code != code || ae.Message == "" {
		t.Fatalf("got %d %q %q, want %d %q with a message", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

func TestDeployErrors(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)
	for _, tc := range []struct {
		name, wantIn string
		mod          []byte
		ann          map[string]string
	}{
		{"not-wasm", "", []byte("#!/bin/sh\necho hello\n"), nil},
		{"truncated", "", bundled(t, "hello")[:4096], nil},
		{"bad-import", "foo", importsEnvFoo, nil},
		{"bad-runtime", "lumos.runtime", bundled(t, "hello"), map[string]string{"lumos.runtime": "jvm"}},
		{"bad-abi", "lumos.abi", bundled(t, "hello"), map[string]string{"lumos.abi": "grpc"}},
		{"bad-timeout", "lumos.timeout", bundled(t, "hello"), map[string]string{"lumos.timeout": "soon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantAPIError(t, deploy(t, c, tc.name, tc.mod, "", tc.ann, nil), 400, "bad_request")
			if !strings.Contains(ae.Message, tc.wantIn) {
				t.Fatalf("message %q does not name %q", ae.Message, tc.wantIn)
			}
			if a := invoke(t, srv, tc.name, "", nil); a.status != 404 {
				t.Fatalf("a rejected deployment answers %d", a.status)
			}
		})
	}
	wantAPIError(t, deploy(t, c, "unknown-image", nil, "sha256:"+strings.Repeat("ab", 32), nil, nil), 400, "bad_request")
	wantAPIError(t, deploy(t, c, "Bad_Name", bundled(t, "hello"), "", nil, nil), 400, "bad_request")
	wantAPIError(t, deploy(t, c, "hello", bundled(t, "hello"), "", nil, nil), 409, "conflict")
	err := c.do(context.Background(), http.MethodPost, "/system/functions", strings.NewReader("{not json"), "application/json", nil)
	wantAPIError(t, err, 400, "bad_request")
	err = c.doJSON(context.Background(), http.MethodPut, "/system/functions", gateway.FunctionDeployment{Service: "nope", Image: "sha256:" + strings.Repeat("0", 64)}, nil)
	wantAPIError(t, err, 404, "not_found")
	err = c.doJSON(context.Background(), http.MethodDelete, "/system/functions", gateway.DeleteFunctionRequest{FunctionName: "nope"}, nil)
	wantAPIError(t, err, 404, "not_found")
}

func TestAuth(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"none", nil, 401},
		{"wrong-basic", map[string]string{"Authorization": "Basic YWRtaW46d3Jvbmc="}, 401},
		{"wrong-bearer", map[string]string{"Authorization": "Bearer wrong"}, 401},
		{"bearer", map[string]string{"Authorization": "Bearer " + testPassword}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, http.MethodGet, srv.url+"/system/functions", nil, tc.hdr)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d", a.status, tc.status)
			}
			if tc.status == 401 {
				if a.errorCode(t) != "unauthorized" || !strings.Contains(a.header.Get("WWW-Authenticate"), "Basic") {
					t.Fatalf("401 answer: %v %q", a.header, a.body)
				}
			}
		})
	}
	if err := adminClient(srv).doJSON(context.Background(), http.MethodGet, "/system/info", nil, nil); err != nil {
		t.Fatalf("basic auth: %v", err)
	}
	if a := do(t, http.MethodGet, srv.url+"/healthz", nil, nil); a.status != 200 {
		t.Fatalf("healthz without auth: %d", a.status)
	}
	if a := do(t, http.MethodGet, srv.url+"/function/hello", nil, nil); a.status != 200 {
		t.Fatalf("functions need no auth: %d", a.status)
	}
}

func TestInvokeErrors(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)

	if a := invoke(t, srv, "nope", "", nil); a.status != 404 || a.errorCode(t) != "not_found" {
		t.Fatalf("unknown function: %d %q", a.status, a.body)
	}
	// The body is declared, not sent: the gateway refuses it from the
	// headers and closes, and a client still writing 2 MiB may see the
	// reset before the answer.
	over := rawRequest(t, srv, "POST /function/echo HTTP/1.1\r\nHost: lumos\r\nContent-Length: "+fmt.Sprint(2<<20)+"\r\n\r\n")
	if over.status != 413 || over.errorCode(t) != "too_large" {
		t.Fatalf("body over the limit: %d %q", over.status, over.body)
	}
	// An upload that declares more than the limit is refused before its body is read.
	big := rawRequest(t, srv, "POST /system/artifacts HTTP/1.1\r\nHost: lumos\r\nAuthorization: Bearer "+testPassword+
		"\r\nContent-Type: application/wasm\r\nContent-Length: "+fmt.Sprint(33<<20)+"\r\n\r\n")
	if big.status != 413 || big.errorCode(t) != "too_large" {
		t.Fatalf("artifact over the limit: %d %q", big.status, big.body)
	}

	for _, abi := range []string{"loop", "cgi"} {
		t.Run(abi, func(t *testing.T) {
			ann := map[string]string{"lumos.abi": abi, "lumos.timeout": "300ms"}
			mustDeploy(t, c, "trap-"+abi, bundled(t, "trap"), ann, nil)
			mustDeploy(t, c, "crash-"+abi, bundled(t, "crash"), ann, nil)
			mustDeploy(t, c, "spin-"+abi, bundled(t, "spin"), ann, nil)

			a := invoke(t, srv, "trap-"+abi, "", nil)
			if a.status != 502 || a.errorCode(t) != "function_error" {
				t.Fatalf("trap: %d %q", a.status, a.body)
			}
			a = invoke(t, srv, "crash-"+abi, "", nil)
			if a.status != 502 || a.errorCode(t) != "function_error" || !strings.Contains(string(a.body), "boom") {
				t.Fatalf("crash: %d %q (want the stderr tail)", a.status, a.body)
			}
			for i := range 2 {
				t0 := time.Now()
				a = invoke(t, srv, "spin-"+abi, "", nil)
				if a.status != 504 || a.errorCode(t) != "timeout" {
					t.Fatalf("spin #%d: %d %q", i, a.status, a.body)
				}
				if el := time.Since(t0); el < 300*time.Millisecond {
					t.Fatalf("spin answered 504 after %v, before its timeout", el)
				}
				// The timed-out instance was destroyed: the next call starts cold.
				if i == 1 && a.header.Get("X-Lumos-Start") == "warm" {
					t.Fatalf("a timed-out instance was reused")
				}
			}
			if a := invoke(t, srv, "hello", "", nil); a.status != 200 {
				t.Fatalf("gateway after failures: %d %q", a.status, a.body)
			}
		})
	}

	// A caller may shorten the timeout, never lengthen it past the maximum.
	a := do(t, http.MethodGet, srv.url+"/function/spin-loop", nil, map[string]string{"X-Timeout": "50ms"})
	if a.status != 504 {
		t.Fatalf("X-Timeout: %d %q", a.status, a.body)
	}
}

// TestQueueFull sends three concurrent calls to a one-instance function
// whose calls outlast the queue timeout: one runs (and times out), the others
// are refused with 429, whatever order they arrive in.
func TestQueueFull(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)
	mustDeploy(t, c, "spin", bundled(t, "spin"),
		map[string]string{"lumos.timeout": "3s", "lumos.queue_size": "1", "lumos.queue_timeout": "200ms"},
		map[string]string{"com.openfaas.scale.max": "1"})
	answers := make(chan answer, 3)
	for range 3 {
		go func() {
			a, err := tryDo(http.MethodGet, srv.url+"/function/spin", nil, nil)
			if err != nil {
				a.body = []byte(err.Error())
			}
			answers <- a
		}()
	}
	counts := map[int]int{}
	for range 3 {
		a := <-answers
		counts[a.status]++
		if a.status == 429 && (a.errorCode(t) != "queue_full" || a.header.Get("Retry-After") == "") {
			t.Fatalf("429 answer: %v %q", a.header, a.body)
		}
	}
	if counts[504] != 1 || counts[429] != 2 {
		t.Fatalf("statuses %v, want one 504 and two 429", counts)
	}
}

// rawRequest writes head on a fresh connection and reads one answer.
func rawRequest(t *testing.T, srv *server, head string) answer {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}
