package model

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Environment is the machine and software a model was learned on.
type Environment struct {
	CPUModel    string `json:"cpu_model"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	GoVersion   string `json:"go_version"`
	Wazero      string `json:"wazero,omitempty"`
	Containerd  string `json:"containerd,omitempty"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
}

// Module paths whose versions the environment records.
const (
	wazeroModule     = "github.com/tetratelabs/wazero"
	containerdModule = "github.com/containerd/containerd"
)

// CurrentEnvironment describes this machine and process: CPU model and
// memory from /proc (empty or 0 where unreadable), cores, Go, wazero and
// containerd client versions, OS and architecture.
func CurrentEnvironment() Environment {
	env := Environment{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		env.CPUModel = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseInt(strings.TrimSuffix(procField(b, "MemTotal"), " kB"), 10, 64); err == nil {
			env.MemoryBytes = kb * 1024
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			switch d.Path {
			case wazeroModule:
				env.Wazero = v
			case containerdModule:
				env.Containerd = v
			}
		}
	}
	return env
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(b []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
