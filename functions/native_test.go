//go:build linux

package functions_test

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/functions/internal/wasmbuild"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// TestNativeStaticBuild builds every function as the static Linux binary a
// container function ships, and serves requests with the processes through
// pipes, as the container runtime does.
func TestNativeStaticBuild(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"build", "-trimpath", "-o", dir + "/"}, prefixed(wasmbuild.Names())...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range wasmbuild.Names() {
		f, err := elf.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", name)
			}
		}
		f.Close()
	}

	stdin, err := frame.AppendRequest(nil, &sdk.Request{Method: "GET", Path: "/", Query: "n=15"})
	if err != nil {
		t.Fatal(err)
	}
	stdin = append(stdin, stdin...) // two requests, one process

	t.Run("fib loop", func(t *testing.T) {
		stdout, stderr, err := runNative(filepath.Join(dir, "fib"), []string{"LUMOS_ABI=loop"}, stdin)
		if err != nil {
			t.Fatalf("%v, stderr %q", err, stderr)
		}
		r := bytes.NewReader(stdout)
		for i := range 2 {
			resp, err := frame.ReadResponse(r, frame.DefaultLimits())
			if err != nil || resp.Status != 200 || string(resp.Body) != `{"number":15,"result":610}`+"\n" {
				t.Fatalf("response %d: %v %+v", i, err, resp)
			}
		}
	})
	t.Run("echo cgi", func(t *testing.T) {
		req := &sdk.Request{Method: "POST", Path: "/e", Header: []sdk.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("native")}
		stdout, stderr, err := runNative(filepath.Join(dir, "echo"), sdktest.Env(req), req.Body)
		if err != nil {
			t.Fatalf("%v, stderr %q", err, stderr)
		}
		resp, err := sdktest.ParseCGI(stdout)
		if err != nil || resp.Status != 200 || string(resp.Body) != "native" || sdktest.Get(resp.Header, "X-Echo-Method") != "POST" {
			t.Fatalf("%v %+v", err, resp)
		}
	})
	t.Run("crash", func(t *testing.T) {
		_, stderr, err := runNative(filepath.Join(dir, "crash"), []string{"LUMOS_ABI=loop"}, stdin)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr, "crash: boom") {
			t.Fatalf("%v, stderr %q", err, stderr)
		}
	})
	t.Run("spin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "spin"))
		cmd.Env = []string{"LUMOS_ABI=loop"}
		cmd.Stdin = bytes.NewReader(stdin)
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 || ctx.Err() == nil {
			t.Fatalf("%v: want spin still running when killed at the deadline", err)
		}
	})
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "./" + n
	}
	return out
}

// runNative runs a function binary with exactly env, feeding stdin and
// closing it, as a container's task sees its stdio.
func runNative(path string, env []string, stdin []byte) (stdout []byte, stderr string, err error) {
	cmd := exec.CommandContext(context.Background(), path)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.String(), err
}
