package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

// Guest binaries built by TestMain (read-only after it).
var (
	loopWasm []byte
	cgiWasm  []byte
)

// TestMain builds the Go test guests (testdata/guests) for wasip1.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lumos-wasm-guests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./testdata/guests/loop", "./testdata/guests/cgi")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build guests: %v\n%s", err, out)
			return 1
		}
		if loopWasm, err = os.ReadFile(filepath.Join(dir, "loop")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if cgiWasm, err = os.ReadFile(filepath.Join(dir, "cgi")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

var engines = []Engine{Interpreter, Compiler}

// newTestRuntime returns a Runtime closed at the end of the test.
func newTestRuntime(tb testing.TB, cfg Config) *Runtime {
	tb.Helper()
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

// specOf returns a Spec serving bin.
func specOf(name string, abi invoker.ABI, bin []byte) invoker.Spec {
	sum := sha256.Sum256(bin)
	return invoker.Spec{
		Name:     name,
		ABI:      abi,
		Digest:   "sha256:" + hex.EncodeToString(sum[:]),
		Artifact: func(context.Context) ([]byte, error) { return bin, nil },
	}
}

// load loads spec, failing the test on error; the Function is closed at the end.
func load(tb testing.TB, r *Runtime, spec invoker.Spec) invoker.Function {
	tb.Helper()
	f, err := r.Load(context.Background(), spec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close(context.Background()) })
	return f
}

// instance creates an instance, closed at the end of the test.
func instance(tb testing.TB, f invoker.Function, tl *invoker.Timeline) invoker.Instance {
	tb.Helper()
	inst, err := f.NewInstance(context.Background(), tl)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = inst.Close(context.Background()) })
	return inst
}

// phases lists the names of tl's phases.
func phases(tl *invoker.Timeline) []invoker.PhaseName {
	var out []invoker.PhaseName
	for _, p := range tl.Phases() {
		out = append(out, p.Name)
	}
	return out
}

// guestOf returns the guest behind an instance of this package.
func guestOf(inst invoker.Instance) *guest {
	switch i := inst.(type) {
	case *loopInstance:
		return i.g
	case *cgiInstance:
		return i.g
	}
	panic(fmt.Sprintf("not a wasm instance: %T", inst))
}
