package container

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// TestFirstReady checks that a loop instance's cold start ends with the
// first_ready phase, after the task's start, and that by then the program
// really waits on its stdin; a cgi instance, whose task runs at Invoke,
// records none.
func TestFirstReady(t *testing.T) {
	r := newTestRuntime(t, Config{})
	for _, fn := range []string{"hello", "echo"} {
		t.Run(fn, func(t *testing.T) {
			var tl invoker.Timeline
			inst := newInstance(t, load(t, r, fn, invoker.ABILoop), &tl)
			want := []invoker.PhaseName{invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart, invoker.PhaseFirstReady}
			if got := phaseNames(&tl); !slices.Equal(got, want) {
				t.Fatalf("phases %v, want %v", got, want)
			}
			t.Logf("phases %v", tl.Phases())
			if tl.Get(invoker.PhaseFirstReady) <= 0 {
				t.Errorf("first_ready = %v", tl.Get(invoker.PhaseFirstReady))
			}
			p := inst.(*loopInstance).p
			if got, err := pollReadiness("/proc/" + strconv.FormatUint(uint64(p.task.Pid()), 10)); err != nil || got != readsStdin {
				t.Errorf("after NewInstance the program is %v (%v), want blocked reading stdin", got, err)
			}
			if _, err := invoke(inst, get("/", ""), 30*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("cgi", func(t *testing.T) {
		var tl invoker.Timeline
		inst := newInstance(t, load(t, r, "hello", invoker.ABICGI), &tl)
		if _, err := inst.Invoke(t.Context(), get("/", ""), &tl); err != nil {
			t.Fatal(err)
		}
		if d := tl.Get(invoker.PhaseFirstReady); d != 0 {
			t.Errorf("cgi first_ready = %v", d)
		}
	})
}

func phaseNames(tl *invoker.Timeline) []invoker.PhaseName {
	var names []invoker.PhaseName
	for _, p := range tl.Phases() {
		names = append(names, p.Name)
	}
	return names
}

func TestParseSyscall(t *testing.T) {
	for _, tc := range []struct {
		in    string
		nr    int
		arg   uint64
		valid bool
	}{
		{"0 0x0 0xc000100000 0x10000 0x0 0x0 0x0 0x7ffd3c1e8f28 0x4735ee\n", 0, 0, true},
		{"232 0x4 0x7ffc 0x80 0xffffffff 0x0 0x0 0x7ffc 0x7f\n", 232, 4, true},
		{"202 0x8c1f48 0x80 0x0 0x0 0x0 0x0 0x7ffe 0x46c1a3", 202, 0x8c1f48, true},
		{"running\n", 0, 0, false},
		{"-1 0x7ffd3c1e8f28 0x4735ee\n", 0, 0, false},
		{"", 0, 0, false},
		{"0", 0, 0, false},
		{"0 0xzz", 0, 0, false},
	} {
		nr, arg, ok := parseSyscall([]byte(tc.in))
		if ok != tc.valid || (ok && (nr != tc.nr || arg != tc.arg)) {
			t.Errorf("parseSyscall(%q) = %d, %#x, %v; want %d, %#x, %v", tc.in, nr, arg, ok, tc.nr, tc.arg, tc.valid)
		}
	}
}

// TestPollReadiness runs pollReadiness on fake /proc directories.
func TestPollReadiness(t *testing.T) {
	const (
		readStdin = "0 0x0 0xc000100000 0x10000 0x0 0x0 0x0 0x7ffd 0x4735ee\n"
		readFD3   = "0 0x3 0xc000100000 0x10000 0x0 0x0 0x0 0x7ffd 0x4735ee\n"
		epoll     = "232 0x4 0x7ffc 0x80 0xffffffff 0x0 0x0 0x7ffc 0x7f\n"
		futex     = "202 0x8c1f48 0x80 0x0 0x0 0x0 0x0 0x7ffe 0x46c1a3\n"
		nanosleep = "35 0x7ffc 0x0 0x0 0x0 0x0 0x0 0x7ffe 0x46c1a3\n"
		running   = "running\n"
		openat    = "257 0xffffff9c 0x4b2a10 0x80000 0x0 0x0 0x0 0x7ffe 0x46c1a3\n"
	)
	for _, tc := range []struct {
		name    string
		comm    string
		threads []string
		want    readiness
	}{
		{"runc init", "runc:[2:INIT]\n", []string{readStdin}, notReady},
		{"blocked on stdin", "fn\n", []string{futex, running, readStdin, nanosleep}, readsStdin},
		{"starting", "fn\n", []string{running, futex}, notReady},
		{"reading a file", "fn\n", []string{readFD3, futex}, notReady},
		{"event loop", "node\n", []string{epoll, futex, futex}, idle},
		{"event loop and a busy thread", "node\n", []string{epoll, running}, notReady},
		{"event loop and another call", "node\n", []string{epoll, openat}, notReady},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, s string) {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("comm", tc.comm)
			for i, sc := range tc.threads {
				write(filepath.Join("task", strconv.Itoa(100+i), "syscall"), sc)
			}
			got, err := pollReadiness(dir)
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := pollReadiness(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Error("no error for a process that is gone")
	}
}
