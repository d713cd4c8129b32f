package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
)

// Set by TestMain, read-only after it.
var (
	// tarballs holds the image tarballs of the test functions by name.
	tarballs = map[string][]byte{}
	// daemonSocket is the private containerd's socket; daemonErr says why
	// there is none.
	daemonSocket string
	daemonErr    error
)

// testFunctions are the bundled SDK functions and the test's own, built as
// static Linux binaries and packaged with BuildImage.
var testFunctions = map[string]string{
	"hello": "../../functions/hello",
	"echo":  "../../functions/echo",
	"fib":   "../../functions/fib",
	"spin":  "../../functions/spin",
	"crash": "../../functions/crash",
	"probe": "./testdata/probe",
	// sockecho serves HTTP on a unix socket (BenchmarkSocketInvoke).
	"sockecho": "./testdata/sockecho",
}

// TestMain builds the test functions' images and starts a private
// containerd (own root, state and socket under a temporary directory),
// stopped at the end.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lumos-ctr-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := buildImages(filepath.Join(dir, "bin")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		d, err := containerdtest.Start(filepath.Join(dir, "ctd"))
		if err != nil {
			daemonErr = err
		} else {
			daemonSocket = d.Socket
			defer d.Stop()
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildImages builds every test function for linux/amd64 without cgo and
// packages it.
func buildImages(dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, pkg := range testFunctions {
		args = append(args, pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build test functions: %v\n%s", err, out)
	}
	for name, pkg := range testFunctions {
		bin, err := os.ReadFile(filepath.Join(dir, filepath.Base(pkg)))
		if err != nil {
			return err
		}
		if tarballs[name], err = BuildImage(bin); err != nil {
			return err
		}
	}
	return nil
}

// needContainerd skips the test when no containerd could be started, or
// fails it under CI=true.
func needContainerd(tb testing.TB) {
	tb.Helper()
	containerdtest.Require(tb, daemonErr)
}

var testNamespaces atomic.Uint64

// newTestRuntime returns a Runtime on the private containerd in a
// namespace of its own, closed at the end of the test.
func newTestRuntime(tb testing.TB, cfg Config) *Runtime {
	tb.Helper()
	needContainerd(tb)
	if cfg.Address == "" {
		cfg.Address = daemonSocket
	}
	if cfg.Namespace == "" {
		cfg.Namespace = fmt.Sprintf("test%d", testNamespaces.Add(1))
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return r
}

// specOf returns a Spec serving the tarball.
func specOf(name string, abi invoker.ABI, tarball []byte) invoker.Spec {
	sum := sha256.Sum256(tarball)
	return invoker.Spec{
		Name:     name,
		ABI:      abi,
		Digest:   "sha256:" + hex.EncodeToString(sum[:]),
		Artifact: func(context.Context) ([]byte, error) { return tarball, nil },
	}
}

// load loads the named test function; the Function is closed at the end.
func load(tb testing.TB, r *Runtime, name string, abi invoker.ABI) invoker.Function {
	tb.Helper()
	f, err := r.Load(context.Background(), specOf(name, abi, tarballs[name]))
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return f
}

// newInstance starts an instance, closed at the end of the test.
func newInstance(tb testing.TB, f invoker.Function, tl *invoker.Timeline) invoker.Instance {
	tb.Helper()
	inst, err := f.NewInstance(context.Background(), tl)
	if err != nil {
		tb.Fatalf("new instance: %v", err)
	}
	tb.Cleanup(func() {
		if err := inst.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return inst
}

// invoke serves req with a deadline of d.
func invoke(inst invoker.Instance, req *invoker.Request, d time.Duration) (*invoker.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return inst.Invoke(ctx, req, &invoker.Timeline{})
}

// get returns a GET request for path?query.
func get(path, query string) *invoker.Request {
	return &invoker.Request{Method: "GET", Path: path, Query: query}
}

// post returns a POST request with body.
func post(path, query, body string) *invoker.Request {
	return &invoker.Request{Method: "POST", Path: path, Query: query,
		Header: []invoker.Header{{Name: "Content-Type", Value: "text/plain"}},
		Body:   []byte(body)}
}

var abis = []invoker.ABI{invoker.ABILoop, invoker.ABICGI}
