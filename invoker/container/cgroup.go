package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where the host mounts its cgroup filesystems.
const cgroupRoot = "/sys/fs/cgroup"

// memoryFiles returns the files holding the memory usage and limit of the
// cgroup of process pid, as the gateway's host sees them: memory.usage_in_bytes
// and memory.limit_in_bytes with cgroup v1, memory.current and memory.max
// with v2. It reads /proc, so it works only when the gateway runs on the
// host containerd runs on (see RATIONALE.md).
func memoryFiles(pid uint32) (usage, limit string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", "", err
	}
	var v2 string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				dir := filepath.Join(cgroupRoot, "memory", parts[2])
				return filepath.Join(dir, "memory.usage_in_bytes"), filepath.Join(dir, "memory.limit_in_bytes"), nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	if v2 != "" {
		dir := filepath.Join(cgroupRoot, v2)
		if _, err := os.Stat(filepath.Join(dir, "memory.current")); err == nil {
			return filepath.Join(dir, "memory.current"), filepath.Join(dir, "memory.max"), nil
		}
	}
	return "", "", fmt.Errorf("no memory cgroup for pid %d", pid)
}

// readBytes reads a cgroup file holding a byte count.
func readBytes(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// memoryFilesAt returns the memory usage and limit files of the cgroup at
// path (as in an OCI spec's cgroupsPath), when it exists: for a task whose
// process is already gone, /proc no longer says where its cgroup is, but the
// cgroup itself lives until the task is deleted.
func memoryFilesAt(path string) (usage, limit string, err error) {
	v1 := filepath.Join(cgroupRoot, "memory", path)
	if _, err := os.Stat(filepath.Join(v1, "memory.usage_in_bytes")); err == nil {
		return filepath.Join(v1, "memory.usage_in_bytes"), filepath.Join(v1, "memory.limit_in_bytes"), nil
	}
	v2 := filepath.Join(cgroupRoot, path)
	if _, err := os.Stat(filepath.Join(v2, "memory.current")); err == nil {
		return filepath.Join(v2, "memory.current"), filepath.Join(v2, "memory.max"), nil
	}
	return "", "", fmt.Errorf("no memory cgroup at %s", path)
}
