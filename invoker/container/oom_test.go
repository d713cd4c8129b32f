package container

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// TestOutOfMemory runs a function that allocates past its memory limit:
// the kernel's OOM killer stops it, the invocation fails with
// ErrOutOfMemory read from the cgroup, and a new instance serves again.
func TestOutOfMemory(t *testing.T) {
	r := newTestRuntime(t, Config{})
	for _, abi := range abis {
		t.Run(string(abi), func(t *testing.T) {
			spec := specOf("probe", abi, tarballs["probe"])
			spec.MemoryLimit = 32 << 20
			f, err := r.Load(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close(context.Background()) })
			inst := newInstance(t, f, nil)
			_, err = invoke(inst, post("/", "op=alloc", "256"), 30*time.Second)
			if !errors.Is(err, invoker.ErrOutOfMemory) || !strings.Contains(err.Error(), "OOM killer") ||
				!strings.Contains(err.Error(), "32 MiB") {
				t.Fatalf("err = %v, want ErrOutOfMemory read from the cgroup", err)
			}
			inst.Close(context.Background())

			inst = newInstance(t, f, nil)
			resp, err := invoke(inst, post("/", "op=alloc", "4"), 30*time.Second)
			if err != nil || resp.Status != 200 {
				t.Fatalf("a new instance after the OOM: %v %v", resp, err)
			}
		})
	}
}

// TestKilledIsNotOOM kills a loop task with SIGKILL from outside: the exit
// is ErrExit, not ErrOutOfMemory, since the cgroup counted no OOM kill.
func TestKilledIsNotOOM(t *testing.T) {
	r := newTestRuntime(t, Config{})
	inst := newInstance(t, load(t, r, "hello", invoker.ABILoop), nil)
	p := inst.(*loopInstance).p
	if err := p.task.Kill(r.withNS(context.Background()), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	_, err := invoke(inst, get("/", ""), 30*time.Second)
	if !errors.Is(err, invoker.ErrExit) || errors.Is(err, invoker.ErrOutOfMemory) || !strings.Contains(err.Error(), "code 137") {
		t.Fatalf("err = %v, want ErrExit with code 137", err)
	}
}

func TestParseOOMKills(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2, true},                // v1 memory.oom_control
		{"low 0\nhigh 0\nmax 14\noom 1\noom_kill 1\noom_group_kill 0\n", 1, true}, // v2 memory.events
		{"oom_kill_disable 0\nunder_oom 0\n", 0, false},                           // kernel before 4.13
		{"oom_kill x\n", 0, false},
		{"", 0, false},
	} {
		got, err := parseOOMKills([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseOOMKills(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
