package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/snapshots"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
)

// leftovers counts what a runtime's gateway name owns in its namespace
// (containers, tasks, snapshots), its FIFO directories, and the mounts
// under the daemon's directory (each task's rootfs is one).
type leftovers struct {
	Containers, Tasks, Snapshots, FIFODirs, Mounts int
}

func countLeftovers(t *testing.T, r *Runtime, daemonDir string) leftovers {
	t.Helper()
	client, err := r.conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := r.withNS(context.Background())
	filter := fmt.Sprintf("labels.%q==%q", LabelGateway, r.cfg.Gateway)
	var n leftovers
	cs, err := client.Containers(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	n.Containers = len(cs)
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.ID()] = true
	}
	// containerd deletes no container that has a task: a task of this
	// gateway belongs to one of its containers.
	ts, err := client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range ts.Tasks {
		if ids[task.ID] {
			n.Tasks++
		}
	}
	err = client.SnapshotService(r.cfg.Snapshotter).Walk(ctx, func(context.Context, snapshots.Info) error {
		n.Snapshots++
		return nil
	}, filter)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(r.fifoDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	n.FIFODirs = len(entries)
	n.Mounts = countMounts(t, daemonDir)
	return n
}

// countMounts counts the mount points under dir in /proc/self/mountinfo.
func countMounts(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint ...
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// abandon makes r stop as a killed gateway would: no instance is deleted,
// the connection is dropped.
func abandon(r *Runtime) {
	r.mu.Lock()
	r.closed = true
	client := r.client
	r.mu.Unlock()
	r.stop()
	<-r.monitorDone
	if client != nil {
		client.Close()
	}
}

// TestReconcileAfterCrash leaves running loop tasks, a cgi container and
// their FIFOs behind, as a killed gateway does, and starts a Runtime of the
// same gateway name: it removes them all. Another gateway's instance in
// the same namespace is untouched and keeps serving.
func TestReconcileAfterCrash(t *testing.T) {
	needContainerd(t)
	ns := fmt.Sprintf("crash%d", testNamespaces.Add(1))
	dir := filepath.Dir(daemonSocket)
	other := newTestRuntime(t, Config{Namespace: ns, Gateway: "gw-other"})
	otherInst := newInstance(t, load(t, other, "echo", invoker.ABILoop), nil)

	crashed, err := New(context.Background(), Config{Address: daemonSocket, Namespace: ns, Gateway: "gw-a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loop, err := crashed.Load(ctx, specOf("echo", invoker.ABILoop, tarballs["echo"]))
	if err != nil {
		t.Fatal(err)
	}
	cgi, err := crashed.Load(ctx, specOf("echo", invoker.ABICGI, tarballs["echo"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []invoker.Function{loop, loop, cgi} {
		inst, err := f.NewInstance(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if inst.Reusable() {
			if _, err := invoke(inst, post("/", "", "x"), 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := countLeftovers(t, crashed, dir)
	abandon(crashed)
	if before.Containers != 3 || before.Tasks != 2 || before.Snapshots != 3 || before.FIFODirs != 2 || before.Mounts < 2 {
		t.Fatalf("before the crash: %+v, want 3 containers, 2 tasks, 3 snapshots, 2 FIFO dirs, 2 mounts or more", before)
	}

	r := newTestRuntime(t, Config{Namespace: ns, Gateway: "gw-a"})
	after := countLeftovers(t, r, dir)
	t.Logf("gateway gw-a before its crash: %+v; after a new Runtime of the same name started: %+v", before, after)
	if after.Containers != 0 || after.Tasks != 0 || after.Snapshots != 0 || after.FIFODirs != 0 || after.Mounts != before.Mounts-2 {
		t.Errorf("after reconcile: %+v, want nothing of gw-a left (and 2 mounts fewer)", after)
	}
	if resp, err := invoke(otherInst, post("/", "", "still"), 30*time.Second); err != nil || string(resp.Body) != "still" {
		t.Fatalf("the other gateway's instance: %v %v", resp, err)
	}
	// The new Runtime serves; its image is the one the crashed one imported.
	inst := newInstance(t, load(t, r, "echo", invoker.ABILoop), nil)
	if resp, err := invoke(inst, post("/", "", "new"), 30*time.Second); err != nil || string(resp.Body) != "new" {
		t.Fatalf("new instance: %v %v", resp, err)
	}
}

// TestGatewayName refuses names that cannot label or name a directory.
func TestGatewayName(t *testing.T) {
	for _, name := range []string{"../x", "a/b", "-x", strings.Repeat("a", 129), "a b"} {
		if _, err := New(context.Background(), Config{Address: "/nonexistent", Gateway: name}); err == nil {
			t.Errorf("gateway name %q accepted", name)
		}
	}
}

// TestContainerdRestart stops containerd under a warm instance: invoking
// it fails with ErrUnavailable instead of hanging, so does a new instance;
// once containerd is back on the same directories, new instances serve
// without a new Load, and what could not be deleted meanwhile is reaped.
func TestContainerdRestart(t *testing.T) {
	needContainerd(t)
	dir, err := os.MkdirTemp("", "lumos-rst-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := containerdtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	r, err := New(context.Background(), Config{Address: d.Socket, Gateway: "gw-rst", HealthInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	f, err := r.Load(context.Background(), specOf("echo", invoker.ABILoop, tarballs["echo"]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	warm, err := f.NewInstance(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(warm, post("/", "", "a"), 30*time.Second); err != nil {
		t.Fatal(err)
	}

	d.Stop()
	_, err = invoke(warm, post("/", "", "b"), time.Minute)
	if !errors.Is(err, invoker.ErrUnavailable) {
		t.Fatalf("warm instance while containerd is down: %v, want ErrUnavailable", err)
	}
	if _, err := invoke(warm, post("/", "", "c"), time.Minute); err == nil {
		t.Fatal("an instance that lost containerd served again")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.NewInstance(ctx, nil); !errors.Is(err, invoker.ErrUnavailable) {
		t.Fatalf("NewInstance while containerd is down: %v, want ErrUnavailable", err)
	}
	if err := warm.Close(context.Background()); err == nil {
		t.Fatal("closing an instance without containerd succeeded")
	}

	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var inst invoker.Instance
	deadline := time.Now().Add(time.Minute)
	for inst == nil {
		inst, err = f.NewInstance(context.Background(), nil)
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("no new instance after containerd came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer inst.Close(context.Background())
	if resp, err := invoke(inst, post("/", "", "back"), 30*time.Second); err != nil || string(resp.Body) != "back" {
		t.Fatalf("after containerd came back: %v %v", resp, err)
	}
	// The instance that could not be deleted is reaped: only the new one is left.
	for {
		n := countLeftovers(t, r, dir)
		if n.Containers == 1 && n.Tasks == 1 && n.Snapshots == 1 && n.FIFODirs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leftovers after containerd came back: %+v, want only the new instance", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLeakCounts runs many cold starts and scale-to-zero cycles (every
// instance of both ABIs closed) and counts containers, tasks, snapshots,
// FIFO directories, mounts and goroutines: all back to their baseline.
func TestLeakCounts(t *testing.T) {
	const cycles = 50
	r := newTestRuntime(t, Config{Gateway: "gw-leak"})
	dir := filepath.Dir(daemonSocket)
	loop := load(t, r, "echo", invoker.ABILoop)
	cgi := load(t, r, "echo", invoker.ABICGI)
	cycle := func(i int) {
		var insts []invoker.Instance
		for _, f := range []invoker.Function{loop, loop, cgi} {
			inst, err := f.NewInstance(context.Background(), nil)
			if err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			insts = append(insts, inst)
			body := fmt.Sprintf("c%d", i)
			if resp, err := invoke(inst, post("/", "", body), 30*time.Second); err != nil || string(resp.Body) != body {
				t.Fatalf("cycle %d: %v %v", i, resp, err)
			}
		}
		for _, inst := range insts { // scale to zero
			if err := inst.Close(context.Background()); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
	}
	cycle(-1) // connections and lazily started goroutines settle
	base := countLeftovers(t, r, dir)
	baseG := runtime.NumGoroutine()
	for i := range cycles {
		cycle(i)
	}
	after := countLeftovers(t, r, dir)
	// Goroutines of closed tasks (containerd's copies) end shortly after
	// the task is deleted: wait for them, a leak never goes.
	afterG := runtime.NumGoroutine()
	for deadline := time.Now().Add(30 * time.Second); afterG > baseG && time.Now().Before(deadline); afterG = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after %d cycles of 3 cold starts (2 loop, 1 cgi) and scale to zero: %+v, goroutines %d; baseline %+v, goroutines %d",
		cycles, after, afterG, base, baseG)
	if after != base || after.Containers != 0 || after.Tasks != 0 || after.Snapshots != 0 || after.FIFODirs != 0 {
		t.Errorf("leftovers %+v, baseline %+v", after, base)
	}
	if afterG > baseG {
		t.Errorf("%d goroutines, baseline %d", afterG, baseG)
	}
}
