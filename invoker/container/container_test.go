package container

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestInvoke(t *testing.T) {
	r := newTestRuntime(t, Config{})
	tests := []struct {
		fn       string
		req      *invoker.Request
		wantBody string
		wantHdr  invoker.Header
	}{
		{"hello", get("/", ""), "Hello, world!\n", invoker.Header{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
		{"echo", post("/a/b", "x=1", "ping"), "ping", invoker.Header{Name: "X-Echo-Path", Value: "/a/b"}},
		{"echo", post("/", "q=2", ""), "", invoker.Header{Name: "X-Echo-Query", Value: "q=2"}},
		{"fib", get("/", "n=20"), `{"number":20,"result":6765}` + "\n", invoker.Header{Name: "Content-Type", Value: "application/json"}},
	}
	for _, abi := range abis {
		for _, tc := range tests {
			t.Run(string(abi)+"/"+tc.fn, func(t *testing.T) {
				f := load(t, r, tc.fn, abi)
				var tl invoker.Timeline
				inst := newInstance(t, f, &tl)
				if tl.Get(invoker.PhaseContainerCreate) == 0 {
					t.Errorf("no container_create phase: %v", tl.Phases())
				}
				if abi == invoker.ABILoop && tl.Get(invoker.PhaseTaskStart) == 0 {
					t.Errorf("no task_start phase: %v", tl.Phases())
				}
				resp, err := invoke(inst, tc.req, 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != 200 || string(resp.Body) != tc.wantBody {
					t.Fatalf("got %d %q, want 200 %q", resp.Status, resp.Body, tc.wantBody)
				}
				if !hasHeader(resp, tc.wantHdr) {
					t.Errorf("header %v missing in %v", tc.wantHdr, resp.Header)
				}
				if got := inst.Reusable(); got != (abi == invoker.ABILoop) {
					t.Errorf("Reusable() = %v", got)
				}
			})
		}
	}
}

func hasHeader(resp *invoker.Response, want invoker.Header) bool {
	for _, h := range resp.Header {
		if strings.EqualFold(h.Name, want.Name) && h.Value == want.Value {
			return true
		}
	}
	return false
}

// TestLoopReuse serves many requests from one loop task, including bodies
// larger than a pipe buffer.
func TestLoopReuse(t *testing.T) {
	r := newTestRuntime(t, Config{})
	inst := newInstance(t, load(t, r, "echo", invoker.ABILoop), nil)
	for i, size := range []int{0, 1, 100, 70 << 10, 1 << 20, 3} {
		body := strings.Repeat(string(rune('a'+i)), size)
		var tl invoker.Timeline
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := inst.Invoke(ctx, post("/", "", body), &tl)
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(resp.Body) != body {
			t.Fatalf("request %d: got %d bytes, want %d", i, len(resp.Body), size)
		}
		for _, ph := range []invoker.PhaseName{invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead} {
			if !hasPhase(&tl, ph) {
				t.Errorf("request %d: no %s phase in %v", i, ph, tl.Phases())
			}
		}
	}
}

func hasPhase(tl *invoker.Timeline, name invoker.PhaseName) bool {
	for _, p := range tl.Phases() {
		if p.Name == name {
			return true
		}
	}
	return false
}

func TestCGIServesOnce(t *testing.T) {
	r := newTestRuntime(t, Config{})
	inst := newInstance(t, load(t, r, "hello", invoker.ABICGI), nil)
	if _, err := invoke(inst, get("/", ""), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(inst, get("/", ""), 30*time.Second); err == nil {
		t.Fatal("a cgi instance served twice")
	}
}

func TestTimeout(t *testing.T) {
	r := newTestRuntime(t, Config{})
	for _, abi := range abis {
		// 500ms: the function runs into it; 1ms: it passes while the
		// request is still being handed over (a cgi task is not even created).
		for _, d := range []time.Duration{500 * time.Millisecond, time.Millisecond} {
			t.Run(string(abi)+"/"+d.String(), func(t *testing.T) {
				inst := newInstance(t, load(t, r, "spin", abi), nil)
				_, err := invoke(inst, get("/", ""), d)
				if !errors.Is(err, invoker.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("got %v, want ErrTimeout", err)
				}
			})
		}
	}
}

func TestCrash(t *testing.T) {
	r := newTestRuntime(t, Config{})
	for _, abi := range abis {
		t.Run(string(abi), func(t *testing.T) {
			inst := newInstance(t, load(t, r, "crash", abi), nil)
			_, err := invoke(inst, get("/", ""), 30*time.Second)
			if !errors.Is(err, invoker.ErrExit) || !strings.Contains(err.Error(), "crash: boom") ||
				!strings.Contains(err.Error(), "code 3") {
				t.Fatalf("got %v, want ErrExit with code 3 and the stderr tail", err)
			}
			if abi == invoker.ABILoop {
				if _, err := invoke(inst, get("/", ""), 30*time.Second); err == nil {
					t.Fatal("a crashed instance served again")
				}
			}
		})
	}
}
