//go:build linux

package interrupt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/lumos-edge/lumos/invoker"
)

// benchVariant is one way of running the Go guest on the compiler engine.
type benchVariant struct {
	name string
	// newCall instantiates the guest and returns a function calling export
	// name with one argument the way this variant does it.
	newCall func(b *testing.B, name string) func(arg uint64) error
}

// benchVariants: (1) no interruption at all, (2) WithCloseOnContextDone and
// a deadline context, (3) Instrument's budget checks with an armed
// controller, and for reference (4) flag-only checks (the cheapest possible
// check; unusable alone, see RATIONALE.md) with nothing setting the
// flag.
func benchVariants() []benchVariant {
	plainCall := func(closeOnDone bool) func(b *testing.B, name string) func(uint64) error {
		return func(b *testing.B, name string) func(uint64) error {
			cfg := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(closeOnDone)
			rc := newReactor(b, newRuntime(b, cfg), false, 0)
			fn := rc.mod.ExportedFunction(name)
			return func(arg uint64) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err := fn.Call(ctx, arg)
				return err
			}
		}
	}
	return []benchVariant{
		{"none", plainCall(false)},
		{"closeOnDone", plainCall(true)},
		{"budget", func(b *testing.B, name string) func(uint64) error {
			rc := newReactor(b, newRuntime(b, wazero.NewRuntimeConfigCompiler()), true, 0)
			fn := rc.mod.ExportedFunction(name)
			return func(arg uint64) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				rc.ctrl.Arm(time.Now().Add(time.Minute))
				defer rc.ctrl.Disarm()
				_, err := fn.Call(WithController(ctx, rc.ctrl), arg)
				return err
			}
		}},
		{"flagOnly", func(b *testing.B, name string) func(uint64) error {
			bin, err := instrument(guestWasm, checkFlag)
			if err != nil {
				b.Fatal(err)
			}
			mod := instantiateReactor(b, newRuntime(b, wazero.NewRuntimeConfigCompiler()), bin)
			fn := mod.ExportedFunction(name)
			return func(arg uint64) error {
				_, err := fn.Call(context.Background(), arg)
				return err
			}
		}},
	}
}

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is RUSAGE_THREAD (Linux).
const rusageThread = 1

func instantiateReactor(b *testing.B, r wazero.Runtime, bin []byte) api.Module {
	ctx := context.Background()
	mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName("").
		WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mod.Close(ctx) })
	return mod
}

// BenchmarkOverhead measures requirement (c): warm calls into one
// pre-instantiated Go reactor on the compiler engine, per variant.
func BenchmarkOverhead(b *testing.B) {
	workloads := []struct {
		export string
		arg    uint64
	}{
		{"fib", 25},
		{"fib", 30},
		{"count", 10_000_000}, // tight loop: the worst case for loop-header checks
	}
	for _, w := range workloads {
		for _, v := range benchVariants() {
			b.Run(fmt.Sprintf("%s%d/%s", w.export, w.arg, v.name), func(b *testing.B) {
				call := v.newCall(b, w.export)
				if err := call(w.arg); err != nil { // warm up
					b.Fatal(err)
				}
				// The machine is shared: besides wall time, report the CPU
				// time of this thread (the call never leaves it).
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU(b)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := call(w.arg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkLiveness measures requirement (b): GOMAXPROCS goroutines run
// long compiled calls (fib(32) back to back, each on its own instance) while
// another goroutine allocates (so the GC runs) and a probe goroutine sleeps
// 1 ms at a time. It reports the probe's lateness: p50, p99 and max, in ms.
// Each b.N iteration is a one-second window.
func BenchmarkLiveness(b *testing.B) {
	for _, v := range []struct {
		name         string
		instrumented bool
		workers      int
	}{
		{"noWasm", false, 0}, // baseline: the machine's own scheduling noise
		{"none", false, runtime.GOMAXPROCS(0)},
		{"budget", true, runtime.GOMAXPROCS(0)},
	} {
		name, instrumented, workers := v.name, v.instrumented, v.workers
		b.Run(name, func(b *testing.B) {
			r := newRuntime(b, wazero.NewRuntimeConfigCompiler())
			reactors := make([]*reactor, workers)
			for i := range reactors {
				reactors[i] = newReactor(b, r, instrumented, 0)
			}
			var late []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				late = append(late, livenessWindow(b, reactors, time.Second)...)
			}
			b.StopTimer()
			slices.Sort(late)
			pct := func(p float64) float64 {
				return float64(late[int(p*float64(len(late)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-late-ms")
			b.ReportMetric(pct(0.99), "p99-late-ms")
			b.ReportMetric(pct(1), "max-late-ms")
			b.ReportMetric(float64(len(late))/float64(b.N), "probes/window")
		})
	}
}

// livenessWindow runs one window and returns the probe's lateness samples.
func livenessWindow(b *testing.B, reactors []*reactor, window time.Duration) []time.Duration {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, rc := range reactors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := rc.call(context.Background(), time.Now().Add(time.Minute), "fib", 32); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // garbage, so that the GC has work and must stop the world
		defer wg.Done()
		var keep [][]byte
		for !stop.Load() {
			keep = append(keep, make([]byte, 64<<10))
			if len(keep) > 256 {
				keep = keep[:0]
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var late []time.Duration
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, time.Since(t0)-time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	return late
}

// BenchmarkInstrument measures the deploy-time rewrite of the Go guest.
func BenchmarkInstrument(b *testing.B) {
	b.SetBytes(int64(len(guestWasm)))
	for i := 0; i < b.N; i++ {
		if _, err := Instrument(guestWasm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeadlineOvershoot measures requirement (a): how long after its
// deadline an endless compiled call returns its timeout error (spin: a tight
// loop; fib60: deep recursion that would take years). Every iteration uses a
// fresh instance, since an interrupted instance must be discarded.
func BenchmarkDeadlineOvershoot(b *testing.B) {
	for _, w := range []struct {
		export string
		arg    []uint64
	}{{"spin", nil}, {"fib", []uint64{60}}} {
		b.Run(w.export, func(b *testing.B) {
			r := newRuntime(b, wazero.NewRuntimeConfigCompiler())
			var over []time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rc := newReactor(b, r, true, 0)
				b.StartTimer()
				deadline := time.Now().Add(20 * time.Millisecond)
				_, err := rc.call(context.Background(), deadline, w.export, w.arg...)
				over = append(over, time.Since(deadline))
				if !errors.Is(err, invoker.ErrTimeout) {
					b.Fatalf("err = %v, want a timeout", err)
				}
				_ = rc.mod.Close(context.Background())
			}
			slices.Sort(over)
			b.ReportMetric(float64(over[len(over)/2])/float64(time.Millisecond), "p50-over-ms")
			b.ReportMetric(float64(over[len(over)-1])/float64(time.Millisecond), "max-over-ms")
		})
	}
}
