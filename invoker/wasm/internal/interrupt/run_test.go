package interrupt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/lumos-edge/lumos/invoker"
)

// commandResult is what a command module did.
type commandResult struct {
	stdout, stderr string
	exitCode       uint32
	err            string
}

// runCommand instantiates a command module with no start function, binds a
// controller when instrumented and runs _start with it armed (quantum 50 us,
// so that yields really happen while it runs).
func runCommand(t *testing.T, r wazero.Runtime, bin []byte, instrumented bool, dir string) commandResult {
	t.Helper()
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithArgs("cat", "test.txt").
		WithEnv("GREETING", "hello").
		WithStdin(bytes.NewReader([]byte("from stdin\n"))).
		WithStdout(&stdout).WithStderr(&stderr).
		WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(dir, "/"))
	cm, err := r.CompileModule(ctx, bin)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	mod, err := r.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	defer mod.Close(ctx)
	if instrumented {
		c := NewController(50 * time.Microsecond)
		defer c.Stop()
		if err := c.Bind(mod); err != nil {
			t.Fatal(err)
		}
		ctx = WithController(ctx, c)
		c.Arm(time.Time{})
		defer c.Disarm()
	}
	var res commandResult
	_, err = mod.ExportedFunction("_start").Call(ctx)
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		res.exitCode = exit.ExitCode()
	case err != nil:
		res.err = err.Error()
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	return res
}

// TestThirdPartyModulesRunIdentically instruments modules built by other
// toolchains (Rust, Zig, C, TinyGo, hand-written WAT) and checks that they
// behave exactly like the originals on both engines.
func TestThirdPartyModulesRunIdentically(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.txt"), []byte("greetings from a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	modules := []struct {
		file       string
		wantStdout string
	}{
		{"cat-rust.wasm", "greetings from a file\n"},
		{"cat-zig.wasm", "greetings from a file\n"},
		{"cat-zig-cc.wasm", "greetings from a file\n"},
		{"cat-tinygo.wasm", "greetings from a file\n"},
		{"wasi_env.wasm", "GREETING=hello\x00"},
		{"wasi_arg.wasm", "cat\x00test.txt\x00"},
		{"wasi_random_get.wasm", ""},
	}
	for _, e := range engines {
		for _, m := range modules {
			t.Run(e.name+"/"+m.file, func(t *testing.T) {
				bin, err := os.ReadFile(filepath.Join("testdata", m.file))
				if err != nil {
					t.Fatal(err)
				}
				inst, err := Instrument(bin)
				if err != nil {
					t.Fatal(err)
				}
				r := newRuntime(t, e.cfg())
				want := runCommand(t, r, bin, false, dir)
				got := runCommand(t, r, inst, true, dir)
				if got != want {
					t.Fatalf("instrumented module behaves differently:\n got %+v\nwant %+v", got, want)
				}
				if m.wantStdout != "" && want.stdout != m.wantStdout {
					t.Fatalf("stdout %q, want %q (the test setup is wrong)", want.stdout, m.wantStdout)
				}
			})
		}
	}
}

// TestGoGuestResultsMatch calls the Go reactor's exports with and without
// instrumentation on both engines.
func TestGoGuestResultsMatch(t *testing.T) {
	calls := []struct {
		name string
		arg  uint64
		want uint64
	}{
		{"fib", 20, 6765},
		{"fib", 1, 1},
		{"count", 1000, 0}, // want filled from the uninstrumented run
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := newRuntime(t, e.cfg())
			plain := newReactor(t, r, false, 0)
			inst := newReactor(t, r, true, 20*time.Microsecond)
			ctx := context.Background()
			for _, c := range calls {
				want, err := plain.call(ctx, time.Time{}, c.name, c.arg)
				if err != nil {
					t.Fatalf("%s(%d) plain: %v", c.name, c.arg, err)
				}
				if c.want != 0 && want[0] != c.want {
					t.Fatalf("%s(%d) plain = %d, want %d", c.name, c.arg, want[0], c.want)
				}
				got, err := inst.call(ctx, time.Now().Add(time.Hour), c.name, c.arg)
				if err != nil {
					t.Fatalf("%s(%d) instrumented: %v", c.name, c.arg, err)
				}
				if got[0] != want[0] {
					t.Fatalf("%s(%d) instrumented = %d, plain = %d", c.name, c.arg, got[0], want[0])
				}
			}
		})
	}
}

// TestDeadlineStopsEndlessLoop runs endless loops (the Go guest's spin and a
// hand-written WAT loop) with a deadline: the call must return an error
// wrapping invoker.ErrTimeout.
func TestDeadlineStopsEndlessLoop(t *testing.T) {
	loopWasm, err := os.ReadFile("testdata/infinite_loop.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		t.Run(e.name+"/go-spin", func(t *testing.T) {
			r := newRuntime(t, e.cfg())
			rc := newReactor(t, r, true, 0)
			_, err := rc.call(context.Background(), time.Now().Add(30*time.Millisecond), "spin")
			assertTimeout(t, err)
		})
		t.Run(e.name+"/wat-loop", func(t *testing.T) {
			r := newRuntime(t, e.cfg())
			inst, err := Instrument(loopWasm)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			mod, err := r.InstantiateWithConfig(ctx, inst, wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(ctx)
			c := NewController(time.Millisecond)
			defer c.Stop()
			if err := c.Bind(mod); err != nil {
				t.Fatal(err)
			}
			c.Arm(time.Now().Add(30 * time.Millisecond))
			_, err = mod.ExportedFunction("_start").Call(WithController(ctx, c))
			c.Disarm()
			assertTimeout(t, err)
		})
	}
}

// TestKillStopsRunningCall kills a long call from another goroutine once the
// guest signalled it started.
func TestKillStopsRunningCall(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := newRuntime(t, e.cfg())
			rc := newReactor(t, r, true, 0)
			started := make(chan struct{})
			go func() {
				<-started
				rc.ctrl.Kill()
			}()
			ctx := context.WithValue(context.Background(), startedKey{}, started)
			_, err := rc.call(ctx, time.Time{}, "fib_signal", 60) // fib(60) would take years
			assertTimeout(t, err)
			// A killed controller stays killed: the next call stops at its first check.
			_, err = rc.call(context.Background(), time.Time{}, "fib", 30)
			assertTimeout(t, err)
		})
	}
}

func assertTimeout(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("call returned no error, want a timeout")
	}
	if !errors.Is(err, invoker.ErrTimeout) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %q does not wrap invoker.ErrTimeout and ErrInterrupted", err)
	}
}
