package interrupt

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/lumos-edge/lumos/invoker"
)

// livenessFib is long enough (about a second compiled) that a GC cycle fits
// many times into the call when the guest yields.
const livenessFib = 38

// gcDuringCall starts a long compiled call and runs runtime.GC() once the
// guest is inside it. It reports whether the GC finished while the call was
// still in flight.
func gcDuringCall(t *testing.T, instrumented bool) bool {
	t.Helper()
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	rc := newReactor(t, r, instrumented, 0)
	started := make(chan struct{})
	var callDone atomic.Bool
	errc := make(chan error, 1)
	go func() {
		ctx := context.WithValue(context.Background(), startedKey{}, started)
		_, err := rc.call(ctx, time.Time{}, "fib_signal", livenessFib)
		callDone.Store(true)
		errc <- err
	}()
	<-started
	runtime.GC()
	gcFirst := !callDone.Load()
	if err := <-errc; err != nil {
		t.Fatalf("call: %v", err)
	}
	return gcFirst
}

// TestGCProceedsDuringLongCall is requirement (b): while an instrumented
// compiled guest runs a long call, the rest of the process, GC included,
// keeps going. The uninstrumented half documents the problem: the GC cannot
// stop the world until the Wasm call returns.
func TestGCProceedsDuringLongCall(t *testing.T) {
	t.Run("instrumented", func(t *testing.T) {
		if !gcDuringCall(t, true) {
			t.Fatal("runtime.GC() returned only after the instrumented call ended: the guest never yielded")
		}
	})
	t.Run("plain", func(t *testing.T) {
		if gcDuringCall(t, false) {
			t.Fatal("runtime.GC() finished during an uninstrumented compiled call: " +
				"wazero now preempts compiled code, revisit RATIONALE.md")
		}
	})
}

// TestControllerHammer pounds one controller from many goroutines while its
// guest runs, under -race: Arm, Disarm, yield and, at the end, Kill, which
// must stop the running guest. Calling yield off the guest's goroutine is a
// test-only liberty that exercises the mutex-protected state; it runs on the
// compiler engine, whose native budget accesses the race detector cannot see
// (on the interpreter it would be a real race with the guest).
func TestControllerHammer(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	rc := newReactor(t, r, true, 50*time.Microsecond)
	c := rc.ctrl

	guestErr := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		ctx := WithController(context.Background(), c)
		var err error
		for i := 0; err == nil; i++ {
			if i == 0 {
				close(started)
			}
			_, err = rc.mod.ExportedFunction("count").Call(ctx, 1<<20)
		}
		guestErr <- err
	}()
	<-started

	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				switch i % 3 {
				case 0:
					c.Arm(time.Now().Add(time.Hour))
				case 1:
					c.Disarm()
				default:
					if err := c.yield(); err != nil {
						t.Errorf("yield before Kill: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	c.Kill()
	if err := <-guestErr; !errors.Is(err, invoker.ErrTimeout) {
		t.Fatalf("guest after Kill: %v, want invoker.ErrTimeout", err)
	}
	if err := c.yield(); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("yield after Kill: %v, want ErrInterrupted", err)
	}
}

// TestControllerTable covers the controller's decisions without a guest.
func TestControllerTable(t *testing.T) {
	past := time.Now().Add(-time.Second)
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name    string
		setup   func(c *Controller)
		wantErr bool
	}{
		{"idle", func(c *Controller) {}, false},
		{"armed, no deadline", func(c *Controller) { c.Arm(time.Time{}) }, false},
		{"armed, future deadline", func(c *Controller) { c.Arm(future) }, false},
		{"armed, past deadline", func(c *Controller) { c.Arm(past) }, true},
		{"past deadline then disarmed", func(c *Controller) { c.Arm(past); c.Disarm() }, false},
		{"disarmed, within the idle grace", func(c *Controller) { c.Arm(future); c.Disarm() }, false},
		{"disarmed, computing past the idle grace", func(c *Controller) {
			c.Arm(future)
			c.Disarm()
			c.idleSince = time.Now().Add(-2 * IdleGrace)
		}, true},
		{"re-armed after idling long", func(c *Controller) {
			c.Disarm()
			c.idleSince = time.Now().Add(-2 * IdleGrace)
			c.Arm(future)
		}, false},
		{"killed", func(c *Controller) { c.Kill() }, true},
		{"killed, disarmed", func(c *Controller) { c.Kill(); c.Disarm() }, true},
		{"stopped", func(c *Controller) { c.Stop() }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewController(0)
			tc.setup(c)
			err := c.yield()
			if (err != nil) != tc.wantErr {
				t.Fatalf("yield() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, invoker.ErrTimeout) {
				t.Fatalf("yield() = %v, does not wrap invoker.ErrTimeout", err)
			}
		})
	}
}
