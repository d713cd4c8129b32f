package container

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"time"
)

// How a new loop task is watched until it is ready (phase first_ready).
const (
	// readyTimeout bounds the wait: a program whose readiness cannot be
	// seen (see readiness) is given its first request after it anyway,
	// which the stdin FIFO buffers until the program reads it.
	readyTimeout = time.Second
	// readyPollFast is the poll interval for the first readyFastFor.
	readyPollFast = 100 * time.Microsecond
	readyFastFor  = 20 * time.Millisecond
	// readyPollSlow is the poll interval after it.
	readyPollSlow = time.Millisecond
)

// readiness is what a poll of a task's threads saw.
type readiness int

const (
	// notReady: the program is still starting (or /proc says nothing).
	notReady readiness = iota
	// readsStdin: a thread is blocked reading file descriptor 0, the
	// program's first read of a request frame (every blocking reader: the
	// Go SDK, C stdio, Rust's std).
	readsStdin
	// idle: a thread waits in poll, select or epoll and every other one is
	// parked (futex, a sleep), blocked in a read or in such a wait, as an
	// event loop that reads stdin without blocking is once started.
	idle
)

// x86-64 system call numbers seen in /proc/PID/task/TID/syscall.
const (
	sysRead, sysPread64, sysReadv, sysPreadv, sysPreadv2 = 0, 17, 19, 295, 327
	sysPoll, sysSelect, sysPselect6, sysPpoll            = 7, 23, 270, 271
	sysEpollWait, sysEpollPwait, sysEpollPwait2          = 232, 281, 441
	sysNanosleep, sysFutex, sysClockNanosleep            = 35, 202, 230
)

// waitReady polls the task's threads in /proc (the gateway runs on
// containerd's host, as for MemoryBytes) until the program blocks reading
// its stdin or sits idle in an event loop, and reports whether it saw that.
// It stops without seeing it (false, nil) when readyTimeout passes or /proc
// cannot be read: readiness is an observation, never a condition of
// serving, since the FIFO holds the first request until the program reads
// it. It fails when the task exits or ctx ends first.
func (p *proc) waitReady(ctx context.Context, pid uint32) (bool, error) {
	start := time.Now()
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	t := time.NewTimer(readyPollFast)
	defer t.Stop()
	for {
		r, err := pollReadiness(dir)
		if err != nil {
			// The process is gone (it exited) or /proc is not the host's.
			select {
			case <-p.exited:
				return false, p.exitErr("before serving")
			default:
				return false, nil
			}
		}
		if r != notReady {
			return true, nil
		}
		since := time.Since(start)
		if since > readyTimeout {
			return false, nil
		}
		d := readyPollFast
		if since > readyFastFor {
			d = readyPollSlow
		}
		t.Reset(d)
		select {
		case <-t.C:
		case <-p.exited:
			return false, p.exitErr("before serving")
		case <-ctx.Done():
			return false, p.timeout(ctx)
		}
	}
}

// pollReadiness reads the state of every thread of the process whose /proc
// directory is dir. Until the task's init has executed the function
// (its command is still runc's), it is not ready.
func pollReadiness(dir string) (readiness, error) {
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		return notReady, err
	}
	if bytes.HasPrefix(comm, []byte("runc:")) {
		return notReady, nil
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return notReady, err
	}
	polling, asleep := false, true
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/task/" + t.Name() + "/syscall")
		if err != nil {
			// The thread exited meanwhile; the others decide.
			continue
		}
		nr, fd, ok := parseSyscall(b)
		if !ok {
			asleep = false // running, or stopped outside a system call
			continue
		}
		switch nr {
		case sysRead, sysPread64, sysReadv, sysPreadv, sysPreadv2:
			if fd == 0 {
				return readsStdin, nil
			}
		case sysPoll, sysSelect, sysPselect6, sysPpoll, sysEpollWait, sysEpollPwait, sysEpollPwait2:
			polling = true
		case sysNanosleep, sysFutex, sysClockNanosleep:
		default:
			asleep = false
		}
	}
	if polling && asleep {
		return idle, nil
	}
	return notReady, nil
}

// parseSyscall parses /proc/PID/task/TID/syscall: "NR ARG1 ARG2 ... SP PC"
// for a thread blocked in system call NR, "running", or "-1 SP PC". It
// returns NR and the first argument; ok is false unless the thread is
// blocked in a system call.
func parseSyscall(b []byte) (nr int, arg1 uint64, ok bool) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, 0, false
	}
	n, err := strconv.Atoi(string(f[0]))
	if err != nil || n < 0 {
		return 0, 0, false
	}
	a, err := strconv.ParseUint(string(bytes.TrimPrefix(f[1], []byte("0x"))), 16, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, a, true
}
