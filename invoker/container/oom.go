package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/lumos-edge/lumos/invoker"
)

// oomKills reads how many processes the kernel's OOM killer has killed in
// the cgroup whose memory usage file is usage (see memoryFiles): the
// oom_kill line of memory.oom_control with cgroup v1, of memory.events with
// v2. The kernel counts the kill before it sends SIGKILL, so the count is
// complete once the task's exit is known; the cgroup lives until the task
// is deleted.
func oomKills(usage string) (int64, error) {
	var name string
	switch filepath.Base(usage) {
	case "memory.usage_in_bytes":
		name = "memory.oom_control"
	case "memory.current":
		name = "memory.events"
	default:
		return 0, fmt.Errorf("no memory events beside %s", usage)
	}
	path := filepath.Join(filepath.Dir(usage), name)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseOOMKills(b)
}

// parseOOMKills returns the value of the "oom_kill N" line of a cgroup's
// memory.oom_control (v1) or memory.events (v2).
func parseOOMKills(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok || string(k) != "oom_kill" {
			continue
		}
		return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	}
	return 0, fmt.Errorf("no oom_kill line in %q", b)
}

// oomErr returns the error of a task that exited with code when the kernel
// killed it for exceeding its memory limit, or nil. It reads the task's
// cgroup's OOM kill count; when the cgroup cannot be read (the gateway is
// not on containerd's host), an exit by a SIGKILL that Lumos did not send
// (code 137) is taken for the OOM killer's, as it almost always is.
func (p *proc) oomErr(code uint32, when string) error {
	if p.memUsage != "" {
		n, err := oomKills(p.memUsage)
		if err == nil {
			if n == 0 {
				return nil
			}
			return fmt.Errorf("container %s: %w: killed by the kernel's OOM killer at its memory limit of %d MiB (exit code %d) %s; stderr: %q",
				p.id, invoker.ErrOutOfMemory, p.f.memory>>20, code, when, p.stderr.String())
		}
		p.r.log.Debug("read OOM kills", "id", p.id, "err", err)
	}
	if code == 128+uint32(syscall.SIGKILL) {
		return fmt.Errorf("container %s: %w: killed (SIGKILL, exit code %d) %s, likely out of memory (limit %d MiB); stderr: %q",
			p.id, invoker.ErrOutOfMemory, code, when, p.f.memory>>20, p.stderr.String())
	}
	return nil
}
