package functions_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
	"github.com/lumos-edge/lumos/invoker/frame"
)

func readFile(dir, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, name+".wasm"))
}

// run is one run of an embedded module in wazero: a command module that
// reads stdin to its end (loop) or serves one request (cgi), then exits.
type run struct {
	stdout, stderr bytes.Buffer
	err            error
}

// runModule runs the embedded module name with env and stdin until it exits
// or ctx ends; ctx bounds the run only, not the compilation. The interpreter
// keeps compilation fast; these tests check behaviour, not speed.
func runModule(ctx context.Context, t *testing.T, name string, env []string, stdin []byte) *run {
	t.Helper()
	mod, err := functions.Wasm(name)
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	rt := wazero.NewRuntimeWithConfig(bg, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
	t.Cleanup(func() { rt.Close(bg) })
	wasi_snapshot_preview1.MustInstantiate(bg, rt)
	compiled, err := rt.CompileModule(bg, mod)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	r := &run{}
	cfg := wazero.NewModuleConfig().
		WithStdin(bytes.NewReader(stdin)).WithStdout(&r.stdout).WithStderr(&r.stderr).
		WithSysWalltime().WithSysNanotime().WithArgs(name)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}
	_, r.err = rt.InstantiateModule(ctx, compiled, cfg)
	return r
}

func exitCode(err error) (uint32, bool) {
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, false
}

// TestWasmLoop serves several requests with one instance of each sample
// function, through the loop ABI, as the Wasm runtime does.
func TestWasmLoop(t *testing.T) {
	tests := []struct {
		name string
		reqs []*sdk.Request
		want []string // bodies
	}{
		{"hello", []*sdk.Request{{Method: "GET", Path: "/"}, {Method: "GET", Path: "/"}}, []string{"Hello, world!\n", "Hello, world!\n"}},
		{"echo", []*sdk.Request{{Method: "POST", Path: "/", Body: []byte("one")}, {Method: "POST", Path: "/", Body: []byte("two")}}, []string{"one", "two"}},
		{"fib", []*sdk.Request{{Method: "GET", Path: "/", Query: "n=20"}, {Method: "POST", Path: "/", Body: []byte(`{"number": 10}`)}},
			[]string{`{"number":20,"result":6765}` + "\n", `{"number":10,"result":55}` + "\n"}},
		{"json", []*sdk.Request{{Method: "POST", Path: "/", Body: []byte(`{"b":"x","a":[1]}`)}},
			[]string{`{"stats":{"objects":1,"arrays":1,"keys":2,"strings":1,"numbers":1,"bools":0,"nulls":0,"max_depth":3},"result":{"a":[1],"b":"X"}}` + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdin []byte
			for _, r := range tc.reqs {
				var err error
				if stdin, err = frame.AppendRequest(stdin, r); err != nil {
					t.Fatal(err)
				}
			}
			r := runModule(context.Background(), t, tc.name, []string{"LUMOS_ABI=loop"}, stdin)
			if r.err != nil {
				t.Fatalf("exit: %v, stderr %q", r.err, r.stderr.String())
			}
			for i, want := range tc.want {
				resp, err := frame.ReadResponse(&r.stdout, frame.DefaultLimits())
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if resp.Status != 200 || string(resp.Body) != want {
					t.Fatalf("response %d: %d %q, want %q", i, resp.Status, resp.Body, want)
				}
			}
			if r.stdout.Len() != 0 {
				t.Fatalf("%d bytes after the responses", r.stdout.Len())
			}
		})
	}
}

func TestWasmCGI(t *testing.T) {
	req := &sdk.Request{Method: "PUT", Path: "/p", Query: "q=1", Header: []sdk.Header{{Name: "Content-Type", Value: "text/csv"}}, Body: []byte("a,b\n")}
	r := runModule(context.Background(), t, "echo", sdktest.Env(req), req.Body)
	if r.err != nil {
		t.Fatalf("exit: %v, stderr %q", r.err, r.stderr.String())
	}
	resp, err := sdktest.ParseCGI(r.stdout.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != "a,b\n" || sdktest.Get(resp.Header, "Content-Type") != "text/csv" ||
		sdktest.Get(resp.Header, "X-Echo-Path") != "/p" || sdktest.Get(resp.Header, "X-Echo-Query") != "q=1" {
		t.Fatalf("got %d %v %q", resp.Status, resp.Header, resp.Body)
	}
}

func TestWasmMalformedFrameExits2(t *testing.T) {
	r := runModule(context.Background(), t, "hello", []string{"LUMOS_ABI=loop"}, []byte("GET / HTTP/1.1\r\n\r\n"))
	if code, ok := exitCode(r.err); !ok || code != sdk.ExitProtocol || !strings.Contains(r.stderr.String(), "malformed") {
		t.Fatalf("err %v, stderr %q; want exit 2", r.err, r.stderr.String())
	}
}

// TestWasmTestFunctions checks that each test function fails the way its
// name says, when invoked and not before.
func TestWasmTestFunctions(t *testing.T) {
	stdin, err := frame.AppendRequest(nil, &sdk.Request{Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	loop := []string{"LUMOS_ABI=loop"}

	t.Run("idle instances exit cleanly", func(t *testing.T) {
		for _, b := range functions.TestFunctions() {
			if r := runModule(context.Background(), t, b.Name, loop, nil); r.err != nil {
				t.Fatalf("%s with no request: %v", b.Name, r.err)
			}
		}
	})
	t.Run("crash", func(t *testing.T) {
		r := runModule(context.Background(), t, "crash", loop, stdin)
		if code, ok := exitCode(r.err); !ok || code != 3 || !strings.Contains(r.stderr.String(), "crash: boom") {
			t.Fatalf("err %v, stderr %q; want exit 3 and crash: boom", r.err, r.stderr.String())
		}
	})
	t.Run("trap", func(t *testing.T) {
		r := runModule(context.Background(), t, "trap", loop, stdin)
		if _, isExit := exitCode(r.err); r.err == nil || isExit || !strings.Contains(r.err.Error(), "out of bounds memory access") {
			t.Fatalf("err %v; want an out-of-bounds trap", r.err)
		}
		if r.stdout.Len() != 0 {
			t.Fatalf("trap wrote %q", r.stdout.String())
		}
	})
	t.Run("spin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r := runModule(ctx, t, "spin", loop, stdin)
		if code, ok := exitCode(r.err); !ok || code != sys.ExitCodeDeadlineExceeded || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("err %v; want the deadline to stop it", r.err)
		}
		if r.stdout.Len() != 0 {
			t.Fatalf("spin answered %q", r.stdout.String())
		}
	})
}
