// Package containerdtest starts a private containerd for tests, as
// net/http/httptest starts servers: its own root, state and socket under a
// directory the caller owns, so tests never touch a system containerd.
package containerdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
)

// Config disables the plugins tests do not need (CRI wants CNI and would
// log errors; the other snapshotters probe the filesystem).
const Config = `version = 2
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
`

// startTimeout bounds the wait for a new daemon to answer.
const startTimeout = 20 * time.Second

// Daemon is a private containerd. Stop and Start stop it and start it
// again on the same root, state and socket, as a restarted system daemon
// would be; tasks keep running in their shims meanwhile.
type Daemon struct {
	// Dir holds the daemon's root ("root"), state ("state"), socket and log.
	Dir string
	// Socket is the daemon's gRPC socket.
	Socket string
	// Log is the daemon's log file.
	Log string

	bin, cfg, path string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan error // capacity 1; the process's end, put back by whoever reads it
	running bool
}

// Start starts containerd with its root, state, socket and log under dir
// (keep dir short: a unix socket path has at most 107 bytes) and waits
// until it answers. It fails when containerd or runc is missing or the
// process is not root. runc is looked up in PATH and in /usr/sbin and
// /sbin, where Debian installs it.
func Start(dir string) (*Daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("containerd not installed: %w", err)
	}
	path := os.Getenv("PATH") + string(os.PathListSeparator) + "/usr/sbin:/sbin"
	if !inPath(path, "runc") {
		return nil, errors.New("runc not installed")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("containerd needs root")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(Config), 0o600); err != nil {
		return nil, err
	}
	d := &Daemon{
		Dir:    dir,
		Socket: filepath.Join(dir, "containerd.sock"),
		Log:    filepath.Join(dir, "containerd.log"),
		bin:    bin, cfg: cfg, path: path,
	}
	if err := d.Start(); err != nil {
		return nil, err
	}
	return d, nil
}

// Start starts the daemon again after Stop, on the same directories, and
// waits until it answers. It does nothing while the daemon runs.
func (d *Daemon) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return nil
	}
	logf, err := os.OpenFile(d.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(d.bin, "--config", d.cfg, "--root", filepath.Join(d.Dir, "root"),
		"--state", filepath.Join(d.Dir, "state"), "--address", d.Socket, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH="+d.path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d.cmd, d.exited, d.running = cmd, exited, true

	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(d.Socket)
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			d.running = false
			exited <- werr
			return fmt.Errorf("containerd exited: %v\n%s", werr, d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			d.stopLocked()
			return fmt.Errorf("containerd did not answer in %v: %v\n%s", startTimeout, err, d.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping asks the daemon at sock for its version.
func ping(sock string) error {
	c, err := containerd.New(sock, containerd.WithTimeout(time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Version(context.Background())
	return err
}

// logTail returns the end of the daemon's log.
func (d *Daemon) logTail() string {
	b, err := os.ReadFile(d.Log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 10 s) and waits for it.
// Shims of tasks still running outlive it; tests delete their tasks first,
// or Start the daemon again, which reconnects to them. Stopping a stopped
// daemon does nothing.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *Daemon) stopLocked() {
	if !d.running {
		return
	}
	d.running = false
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		d.exited <- <-d.exited
	}
}

// Require skips the test when startErr says no daemon could be started,
// or fails it under CI=true, where containerd must work.
func Require(tb testing.TB, startErr error) {
	tb.Helper()
	if startErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("containerd is required under CI=true: %v", startErr)
	}
	tb.Skipf("containerd unavailable (%v); to run: apt-get install containerd runc, run the tests as root (CI=true makes this a failure)", startErr)
}

// inPath reports whether an executable named name is in one of path's directories.
func inPath(path, name string) bool {
	for _, dir := range filepath.SplitList(path) {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}
