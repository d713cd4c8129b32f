package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/api/services/tasks/v1"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
)

// objects is what a gateway id labels in containerd's namespace, and the
// mounts under the daemon's directory (each task's rootfs is one).
type objects struct {
	containers map[string]bool
	tasks      int
	fifoDirs   int
	mounts     int
}

func (o objects) String() string {
	return fmt.Sprintf("%d containers, %d tasks, %d FIFO dirs, %d mounts", len(o.containers), o.tasks, o.fifoDirs, o.mounts)
}

// gatewayObjects counts the objects of the gateway id on d.
func gatewayObjects(t *testing.T, d *containerdtest.Daemon, id string) objects {
	t.Helper()
	client, err := containerd.New(d.Socket, containerd.WithDefaultNamespace(container.DefaultNamespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	cs, err := client.Containers(ctx, fmt.Sprintf("labels.%q==%q", container.LabelGateway, id))
	if err != nil {
		t.Fatal(err)
	}
	o := objects{containers: map[string]bool{}}
	for _, c := range cs {
		o.containers[c.ID()] = true
	}
	ts, err := client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range ts.Tasks {
		if o.containers[task.ID] {
			o.tasks++
		}
	}
	entries, err := os.ReadDir(filepath.Join(container.DefaultFIFODir, container.DefaultNamespace, id))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	o.fifoDirs = len(entries)
	o.mounts = mountsUnder(t, d.Dir)
	return o
}

// mountsUnder counts the mount points under dir.
func mountsUnder(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			n++
		}
	}
	return n
}

// reapAtEnd deletes what the gateway id left on d at the end of the test
// (a Runtime of that id reconciles when it starts), so that no task outlives it.
func reapAtEnd(t *testing.T, d *containerdtest.Daemon, id string) {
	t.Cleanup(func() {
		r, err := container.New(context.Background(), container.Config{Address: d.Socket, Gateway: id})
		if err == nil {
			r.Close(context.Background())
		}
	})
}

// settled reports whether every container of the gateway id belongs to an
// instance its pool holds: none is being created or destroyed. The test
// kills the gateway only then, because containerd 1.6 abandons a task
// delete whose client dies, leaving the task's shim process running with
// nothing for a reconcile to find (see invoker/container/RATIONALE.md).
func settled(t *testing.T, c *client, d *containerdtest.Daemon, id string) bool {
	t.Helper()
	client, err := containerd.New(d.Socket, containerd.WithDefaultNamespace(container.DefaultNamespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var fns []gateway.FunctionStatus
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/functions", nil, &fns); err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		cs, err := client.Containers(context.Background(), fmt.Sprintf("labels.%q==%q,labels.%q==%q",
			container.LabelGateway, id, container.LabelFunction, fn.Name))
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(cs)) != fn.AvailableReplicas || fn.Replicas != fn.AvailableReplicas {
			return false
		}
	}
	return true
}

// get calls a function at base and returns its answer.
func get(t *testing.T, base, name string, body []byte) answer {
	t.Helper()
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	return do(t, method, base+"/function/"+name, body, nil)
}

// TestContainerCrashReconcile kills the gateway (SIGKILL) while it has warm
// containers: restarted, it removes them before serving and serves from new
// ones. Killed again and restarted while containerd is down, its container
// functions are pending (503, listed) until containerd is back; then the
// old containers are removed and the functions serve without a redeploy.
func TestContainerCrashReconcile(t *testing.T) {
	d := privateContainerd(t)
	dir := t.TempDir()
	const id = "gw-e2e-crash" // the data dir's id: lumos serve uses it as stored
	if err := os.WriteFile(filepath.Join(dir, gatewayIDFile), []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reapAtEnd(t, d, id)
	bin := buildLumos(t)
	flags := []string{"--containerd", d.Socket, "--bundled=false", "--runtime", "wasm-interp"}
	cmd, url := startProcess(t, bin, dir, flags...)
	c := &client{base: url, user: "admin", pass: testPassword, http: &http.Client{Timeout: time.Minute}}
	mustDeploy(t, c, "c-hello", containerImage(t, "hello"), map[string]string{"lumos.runtime": "container"},
		map[string]string{"com.openfaas.scale.min": "2"})
	mustDeploy(t, c, "c-echo", containerImage(t, "echo"), map[string]string{"lumos.runtime": "container", "lumos.abi": "cgi"}, nil)
	serves := func(url string) {
		t.Helper()
		if a := get(t, url, "c-hello", nil); a.status != 200 || string(a.body) != "Hello, world!\n" {
			t.Fatalf("c-hello: %d %q", a.status, a.body)
		}
		if a := get(t, url, "c-echo", []byte("ping")); a.status != 200 || string(a.body) != "ping" {
			t.Fatalf("c-echo: %d %q", a.status, a.body)
		}
	}
	serves(url)
	var old objects
	eventually(t, "2 warm loop tasks and a cgi spare", func() bool {
		old = gatewayObjects(t, d, id)
		return len(old.containers) >= 3 && old.tasks >= 2 && settled(t, c, d, id)
	})
	cmd.Process.Kill()
	cmd.Wait()
	left := gatewayObjects(t, d, id)
	t.Logf("killed with %v; left behind: %v", old, left)
	// A cgi container being replaced when the kill landed may be gone; the
	// warm loop tasks and a spare must be left for the restart to reap.
	if len(left.containers) < 3 || left.tasks < 2 {
		t.Fatalf("the killed gateway's objects went away by themselves: %v", left)
	}
	old = left

	// Restart with containerd up: reconciled before it serves.
	cmd, url = startProcess(t, bin, dir, flags...)
	c.base = url
	now := gatewayObjects(t, d, id)
	for cid := range old.containers {
		if now.containers[cid] {
			t.Errorf("container %s of the killed gateway is still there", cid)
		}
	}
	a := get(t, url, "c-hello", nil)
	if a.status != 200 || old.containers[a.header.Get("X-Lumos-Instance")] {
		t.Fatalf("c-hello after restart: %d from %s", a.status, a.header.Get("X-Lumos-Instance"))
	}
	serves(url)
	t.Logf("restarted: %v", gatewayObjects(t, d, id))

	// Killed again, restarted while containerd is down.
	eventually(t, "warm again", func() bool {
		old = gatewayObjects(t, d, id)
		return len(old.containers) >= 3 && old.tasks >= 2 && settled(t, c, d, id)
	})
	cmd.Process.Kill()
	cmd.Wait()
	d.Stop()
	cmd, url = startProcess(t, bin, dir, flags...)
	c.base = url
	a = get(t, url, "c-hello", nil)
	if a.status != 503 || a.errorCode(t) != "unavailable" || !strings.Contains(string(a.body), "not serving yet") {
		t.Fatalf("c-hello while containerd is down: %d %s", a.status, a.body)
	}
	if st := status(t, c, "c-hello"); st.Pending == "" {
		t.Errorf("c-hello is not listed as pending: %+v", st)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c-hello serves once containerd is back", func() bool { return get(t, url, "c-hello", nil).status == 200 })
	serves(url)
	eventually(t, "the killed gateway's containers removed", func() bool {
		now = gatewayObjects(t, d, id)
		for cid := range old.containers {
			if now.containers[cid] {
				return false
			}
		}
		return true
	})
	if st := status(t, c, "c-hello"); st.Pending != "" {
		t.Errorf("c-hello still pending: %s", st.Pending)
	}

	// A graceful stop deletes everything.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if o := gatewayObjects(t, d, id); len(o.containers) != 0 || o.tasks != 0 || o.fifoDirs != 0 {
		t.Errorf("after a graceful stop: %v", o)
	}
}

// result is one answer observed under traffic.
type result struct {
	status int
	code   string
	took   time.Duration
	at     time.Time
}

// TestContainerdRestartMidTraffic stops containerd while a container and a
// Wasm function are called in a loop: the container function answers 503
// (its instances lost) and the Wasm one keeps answering 200; containerd
// started again on the same directories, the container function serves
// again without a redeploy, and nothing of the lost instances is left.
func TestContainerdRestartMidTraffic(t *testing.T) {
	d := privateContainerd(t)
	dataDir := t.TempDir()
	srv := serveOnContainerd(t, d, dataDir)
	id, err := gatewayID(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := adminClient(srv)
	mustDeploy(t, c, "c-hello", containerImage(t, "hello"), map[string]string{"lumos.runtime": "container"}, nil)
	mustDeploy(t, c, "w-hello", bundled(t, "hello"), nil, nil)

	var mu sync.Mutex
	results := map[string][]result{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, name := range []string{"c-hello", "w-hello", "c-hello"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				begin := time.Now()
				a, err := tryDo(http.MethodGet, srv.url+"/function/"+name, nil, nil)
				r := result{status: a.status, took: time.Since(begin), at: begin}
				if err != nil {
					r.code = err.Error()
				} else if a.status != 200 {
					r.code = string(a.body)
				}
				mu.Lock()
				results[name] = append(results[name], r)
				mu.Unlock()
			}
		}()
	}
	count := func(name string, since time.Time, status int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results[name] {
			if r.status == status && !r.at.Before(since) {
				n++
			}
		}
		return n
	}
	begin := time.Now()
	eventually(t, "c-hello serves", func() bool { return count("c-hello", begin, 200) >= 5 })

	stopped := time.Now()
	d.Stop()
	eventually(t, "503s while containerd is down", func() bool { return count("c-hello", stopped, 503) >= 10 })
	restarted := time.Now()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "c-hello serves again", func() bool { return count("c-hello", restarted, 200) >= 5 })
	close(stop)
	wg.Wait()

	var slowest503 time.Duration
	var took503 []time.Duration
	firstBack := time.Duration(0)
	for _, r := range results["c-hello"] {
		switch {
		case r.status == 503 && strings.Contains(r.code, `"unavailable"`):
			slowest503 = max(slowest503, r.took)
			took503 = append(took503, r.took)
		case r.status == 200:
			if r.at.After(restarted) && firstBack == 0 {
				firstBack = r.at.Add(r.took).Sub(restarted)
			}
		default:
			t.Errorf("c-hello answered %d %s", r.status, r.code)
		}
	}
	for _, r := range results["w-hello"] {
		if r.status != 200 {
			t.Errorf("w-hello answered %d %s while containerd restarted", r.status, r.code)
		}
	}
	slices.Sort(took503)
	if len(took503) == 0 {
		t.Fatal("no 503 recorded")
	}
	t.Logf("c-hello: %d answers, %d 503s while containerd was down (p50 %v, slowest %v: a request that waits for the client's redial, bounded by its 1 s dial timeout); first 200 %v after containerd started again; w-hello: %d answers, all 200",
		len(results["c-hello"]), len(took503), took503[len(took503)/2], slowest503, firstBack, len(results["w-hello"]))

	// The lost instances could not be deleted while containerd was down:
	// once it is back they are reconciled, leaving only the live ones.
	eventually(t, "only live instances left", func() bool {
		st := status(t, c, "c-hello")
		n := gatewayObjects(t, d, id)
		return uint64(len(n.containers)) == st.AvailableReplicas && uint64(n.tasks) == st.AvailableReplicas &&
			uint64(n.fifoDirs) == st.AvailableReplicas
	})
}

// TestContainerScaleToZeroAndBack scales a warm container function to zero
// and calls it again, ten times: each time its container, task, FIFOs and
// rootfs mount go, and the call after is a cold start that serves.
func TestContainerScaleToZeroAndBack(t *testing.T) {
	d := privateContainerd(t)
	dataDir := t.TempDir()
	srv := serveOnContainerd(t, d, dataDir)
	id, err := gatewayID(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := adminClient(srv)
	mustDeploy(t, c, "c-echo", containerImage(t, "echo"), map[string]string{"lumos.runtime": "container"},
		map[string]string{"com.openfaas.scale.min": "1"})
	// Wait until the pool holds it, so that each cycle starts from one
	// settled warm instance.
	eventually(t, "one prewarmed instance", func() bool {
		n := gatewayObjects(t, d, id)
		return len(n.containers) == 1 && n.tasks == 1 && status(t, c, "c-echo").AvailableReplicas == 1
	})
	scale := func(replicas uint64) {
		t.Helper()
		if err := c.doJSON(context.Background(), http.MethodPost, "/system/scale-function/c-echo",
			gateway.ScaleServiceRequest{ServiceName: "c-echo", Replicas: replicas}, nil); err != nil {
			t.Fatal(err)
		}
	}
	warm := gatewayObjects(t, d, id)
	for i := range 10 {
		scale(0)
		waitFor(t, fmt.Sprintf("cycle %d: scaled to zero", i), func() (bool, string) {
			n := gatewayObjects(t, d, id)
			return len(n.containers) == 0 && n.tasks == 0 && n.fifoDirs == 0 && n.mounts == 0, n.String()
		})
		body := fmt.Sprintf("cycle %d", i)
		a := get(t, srv.url, "c-echo", []byte(body))
		if a.status != 200 || string(a.body) != body || a.header.Get("X-Lumos-Start") != "cold" {
			t.Fatalf("after scale to zero: %d %q start=%q", a.status, a.body, a.header.Get("X-Lumos-Start"))
		}
	}
	scale(2)
	var back objects
	eventually(t, "scaled to 2", func() bool {
		back = gatewayObjects(t, d, id)
		return len(back.containers) == 2 && back.tasks == 2 && back.fifoDirs == 2 && back.mounts == 2
	})
	t.Logf("warm: %v; after 10 scale-to-zero cycles, scaled to 2: %v", warm, back)
}

// waitFor polls cond until it holds, failing with the last state it saw
// after a minute.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s; last seen: %s", what, state)
		}
	}
}
