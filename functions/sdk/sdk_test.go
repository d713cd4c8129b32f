package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// describe answers with a summary of the request, exercising every field.
func describe(r *sdk.Request) (*sdk.Response, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s ?%s\n", r.Method, r.Path, r.Query)
	for _, h := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
	}
	fmt.Fprintf(&b, "body %q\n", r.Body)
	return sdk.Text(200, b.String()), nil
}

// byPath dispatches on the path so one handler covers every outcome.
func byPath(r *sdk.Request) (*sdk.Response, error) {
	switch r.Path {
	case "/error":
		return nil, errors.New("plain failure")
	case "/status":
		return nil, fmt.Errorf("wrapped: %w", sdk.Errorf(418, "short and stout"))
	case "/panic":
		panic("boom")
	case "/nil":
		return nil, nil
	case "/zero":
		return &sdk.Response{Body: []byte("zero")}, nil
	case "/badheader":
		return &sdk.Response{Status: 200, Header: []sdk.Header{{Name: "X-Evil", Value: "a\r\nSet-Cookie: x"}}}, nil
	case "/badname":
		return &sdk.Response{Status: 200, Header: []sdk.Header{{Name: "Bad Name", Value: "v"}}}, nil
	case "/badstatus":
		return &sdk.Response{Status: 1000}, nil
	}
	return describe(r)
}

type outcome struct {
	status   int
	body     string // prefix
	stderrIn string
}

var outcomes = []struct {
	path string
	want outcome
}{
	{"/error", outcome{500, "plain failure\n", ""}},
	{"/status", outcome{418, "wrapped: short and stout\n", ""}},
	{"/panic", outcome{500, "panic: boom\n", "handler panic: boom"}},
	{"/nil", outcome{200, "", ""}},
	{"/zero", outcome{200, "zero", ""}},
	{"/badheader", outcome{500, "invalid response", "bad response"}},
	{"/badname", outcome{500, "invalid response", "bad response"}},
	{"/badstatus", outcome{500, "invalid response", "bad response"}},
	{"/ok", outcome{200, "GET /ok ?", ""}},
}

func TestOutcomes(t *testing.T) {
	for _, abi := range []string{"loop", "cgi"} {
		for _, tc := range outcomes {
			t.Run(abi+tc.path, func(t *testing.T) {
				req := &sdk.Request{Method: "GET", Path: tc.path}
				var res sdktest.Result
				var err error
				if abi == "loop" {
					// The request after the outcome proves the loop keeps serving.
					res, err = sdktest.Loop(byPath, req, &sdk.Request{Method: "GET", Path: "/after"})
				} else {
					res, err = sdktest.CGI(byPath, req)
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != sdk.ExitOK {
					t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
				}
				wantN := map[string]int{"loop": 2, "cgi": 1}[abi]
				if len(res.Responses) != wantN {
					t.Fatalf("%d responses, want %d", len(res.Responses), wantN)
				}
				got := res.Responses[0]
				if got.Status != tc.want.status || !strings.HasPrefix(string(got.Body), tc.want.body) {
					t.Fatalf("got %d %q, want %d %q...", got.Status, got.Body, tc.want.status, tc.want.body)
				}
				if tc.want.body == "" && len(got.Body) != 0 {
					t.Fatalf("body %q, want empty", got.Body)
				}
				if !strings.Contains(res.Stderr, tc.want.stderrIn) || tc.want.stderrIn == "" && res.Stderr != "" {
					t.Fatalf("stderr %q, want it to hold %q", res.Stderr, tc.want.stderrIn)
				}
				if abi == "loop" && !strings.HasPrefix(string(res.Responses[1].Body), "GET /after") {
					t.Fatalf("second response %q", res.Responses[1].Body)
				}
			})
		}
	}
}

func TestLoopServesInOrder(t *testing.T) {
	var reqs []*sdk.Request
	for i := range 50 {
		reqs = append(reqs, &sdk.Request{
			Method: "POST", Path: fmt.Sprintf("/%d", i), Query: "q=1",
			Header: []sdk.Header{{Name: "X-I", Value: fmt.Sprint(i)}},
			Body:   bytes.Repeat([]byte{byte(i)}, i*1000),
		})
	}
	res, err := sdktest.Loop(describe, reqs...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != sdk.ExitOK || len(res.Responses) != len(reqs) {
		t.Fatalf("exit %d with %d responses, stderr %q", res.Code, len(res.Responses), res.Stderr)
	}
	for i, r := range reqs {
		want, _ := describe(r)
		if !reflect.DeepEqual(res.Responses[i], want) {
			t.Fatalf("response %d: %q, want %q", i, res.Responses[i].Body, want.Body)
		}
	}
}

func TestLoopBadInput(t *testing.T) {
	good, err := frame.AppendRequest(nil, &sdk.Request{Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		stdin     []byte
		wantCode  int
		wantResps int
		stderr    string
	}{
		{"empty stdin", nil, sdk.ExitOK, 0, ""},
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), sdk.ExitProtocol, 0, "malformed"},
		{"good then garbage", append(append([]byte(nil), good...), "junkjunk"...), sdk.ExitProtocol, 1, "malformed"},
		{"good then truncated", append(append([]byte(nil), good...), good[:len(good)-1]...), sdk.ExitProtocol, 1, "truncated"},
		{"other version", append([]byte("LF\x09Q"), good[4:]...), sdk.ExitProtocol, 0, "version"},
		{"over the limits", []byte("LF\x01Q\xff\xff\xff\xff"), sdk.ExitProtocol, 0, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdktest.LoopRaw(describe, tc.stdin)
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != tc.wantCode || len(res.Responses) != tc.wantResps || !strings.Contains(res.Stderr, tc.stderr) {
				t.Fatalf("exit %d, %d responses, stderr %q; want %d, %d, %q",
					res.Code, len(res.Responses), res.Stderr, tc.wantCode, tc.wantResps, tc.stderr)
			}
		})
	}
}

func TestABISelection(t *testing.T) {
	req := &sdk.Request{Method: "PUT", Path: "/x"}
	frameIn, err := frame.AppendRequest(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		environ []string
		stdin   []byte
		want    string // "loop", "cgi" or "error"
	}{
		{"explicit loop", []string{"LUMOS_ABI=loop", "REQUEST_METHOD=PUT"}, frameIn, "loop"},
		{"explicit cgi", []string{"LUMOS_ABI=cgi", "REQUEST_METHOD=PUT", "PATH_INFO=/x"}, nil, "cgi"},
		{"cgi implied by REQUEST_METHOD", []string{"REQUEST_METHOD=PUT", "PATH_INFO=/x"}, nil, "cgi"},
		{"loop by default", []string{"PATH=/bin"}, frameIn, "loop"},
		{"last assignment wins", []string{"LUMOS_ABI=cgi", "LUMOS_ABI=loop"}, frameIn, "loop"},
		{"unknown ABI", []string{"LUMOS_ABI=http"}, frameIn, "error"},
		{"empty ABI", []string{"LUMOS_ABI="}, frameIn, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := sdk.Run(describe, bytes.NewReader(tc.stdin), &stdout, &stderr, tc.environ)
			switch tc.want {
			case "error":
				if code != sdk.ExitProtocol || !strings.Contains(stderr.String(), "LUMOS_ABI") || stdout.Len() != 0 {
					t.Fatalf("exit %d, stderr %q, stdout %q", code, stderr.String(), stdout.String())
				}
			case "loop":
				resp, err := frame.ReadResponse(&stdout, frame.DefaultLimits())
				if err != nil || code != 0 || !strings.HasPrefix(string(resp.Body), "PUT /x") {
					t.Fatalf("exit %d, err %v, stderr %q", code, err, stderr.String())
				}
			case "cgi":
				resp, err := sdktest.ParseCGI(stdout.Bytes())
				if err != nil || code != 0 || !strings.HasPrefix(string(resp.Body), "PUT /x") {
					t.Fatalf("exit %d, err %v, stdout %q", code, err, stdout.String())
				}
			}
		})
	}
}

func TestCGIRequest(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		stdin   string
		want    string
	}{
		{
			"everything",
			[]string{"LUMOS_ABI=cgi", "REQUEST_METHOD=POST", "PATH_INFO=/a/b", "QUERY_STRING=n=1&m=2",
				"CONTENT_TYPE=application/json", "CONTENT_LENGTH=4", "HTTP_X_FORWARDED_FOR=1.2.3.4",
				"HTTP_ACCEPT=*/*", "HTTP_user_agent=curl", "OTHER=ignored", "HTTP_=skipped", "NOEQUALS"},
			"bodyEXTRA",
			"POST /a/b ?n=1&m=2\nAccept: */*\nContent-Length: 4\nContent-Type: application/json\n" +
				"User-Agent: curl\nX-Forwarded-For: 1.2.3.4\nbody \"body\"\n",
		},
		{"defaults", []string{"LUMOS_ABI=cgi"}, "", "GET / ?\nbody \"\"\n"},
		{"body to EOF without CONTENT_LENGTH", []string{"REQUEST_METHOD=PUT"}, "all of it", "PUT / ?\nbody \"all of it\"\n"},
		{"bad CONTENT_LENGTH reads to EOF", []string{"REQUEST_METHOD=PUT", "CONTENT_LENGTH=x"}, "abc",
			"PUT / ?\nContent-Length: x\nbody \"abc\"\n"},
		{"short body", []string{"REQUEST_METHOD=PUT", "CONTENT_LENGTH=10"}, "abc",
			"PUT / ?\nContent-Length: 10\nbody \"abc\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdktest.CGIEnv(describe, tc.environ, []byte(tc.stdin))
			if err != nil {
				t.Fatal(err)
			}
			if res.Code != 0 || string(res.Responses[0].Body) != tc.want {
				t.Fatalf("exit %d, body:\n%s\nwant:\n%s", res.Code, res.Responses[0].Body, tc.want)
			}
		})
	}
}

func TestCGIResponseBytes(t *testing.T) {
	h := func(*sdk.Request) (*sdk.Response, error) {
		return &sdk.Response{Status: 404, Header: []sdk.Header{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}}, Body: []byte("nope")}, nil
	}
	var stdout, stderr bytes.Buffer
	code := sdk.Run(h, strings.NewReader(""), &stdout, &stderr, []string{"LUMOS_ABI=cgi"})
	want := "Status: 404 Not Found\r\nA: 1\r\nA: 2\r\n\r\nnope"
	if code != 0 || stdout.String() != want {
		t.Fatalf("exit %d, stdout %q, want %q", code, stdout.String(), want)
	}
}

func TestCGITooLarge(t *testing.T) {
	called := false
	h := func(*sdk.Request) (*sdk.Response, error) { called = true; return nil, nil }
	res, err := sdktest.CGIEnv(h, []string{"LUMOS_ABI=cgi", fmt.Sprintf("CONTENT_LENGTH=%d", frame.DefaultMaxBodyBytes+1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if called || res.Responses[0].Status != 413 {
		t.Fatalf("called %v, status %d", called, res.Responses[0].Status)
	}
}

func TestIOErrors(t *testing.T) {
	boom := errors.New("boom")
	in, err := frame.AppendRequest(nil, &sdk.Request{Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		environ []string
		stdin   io.Reader
		stdout  io.Writer
	}{
		{"loop stdout", []string{"LUMOS_ABI=loop"}, bytes.NewReader(in), failWriter{boom}},
		{"loop stdin", []string{"LUMOS_ABI=loop"}, failReader{boom}, io.Discard},
		{"cgi stdout", []string{"LUMOS_ABI=cgi"}, strings.NewReader(""), failWriter{boom}},
		{"cgi stdin", []string{"LUMOS_ABI=cgi"}, failReader{boom}, io.Discard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := sdk.Run(describe, tc.stdin, tc.stdout, &stderr, tc.environ)
			if code != sdk.ExitIO || !strings.Contains(stderr.String(), "boom") {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
		})
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

// BenchmarkLoop measures the SDK's per-request cost in loop mode (framing,
// dispatch, response encoding) with a trivial handler.
func BenchmarkLoop(b *testing.B) {
	req, err := frame.AppendRequest(nil, &sdk.Request{Method: "GET", Path: "/", Header: []sdk.Header{{Name: "Accept", Value: "*/*"}}})
	if err != nil {
		b.Fatal(err)
	}
	stdin := bytes.Repeat(req, b.N)
	resp := sdk.Text(200, "Hello, world!\n")
	h := func(*sdk.Request) (*sdk.Response, error) { return resp, nil }
	b.ReportAllocs()
	b.ResetTimer()
	if code := sdk.Run(h, bytes.NewReader(stdin), io.Discard, io.Discard, []string{"LUMOS_ABI=loop"}); code != 0 {
		b.Fatalf("exit %d", code)
	}
}
