package container

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// BenchmarkLoopInvoke measures a warm round trip through one loop task's
// stdio (cio FIFOs) with the echo function, by body size.
func BenchmarkLoopInvoke(b *testing.B) {
	r := newTestRuntime(b, Config{})
	inst := newInstance(b, load(b, r, "echo", invoker.ABILoop), nil)
	for _, size := range []int{16, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			req := post("/", "", strings.Repeat("x", size))
			var tl invoker.Timeline
			b.SetBytes(int64(size))
			for b.Loop() {
				tl.Reset()
				resp, err := inst.Invoke(context.Background(), req, &tl)
				if err != nil {
					b.Fatal(err)
				}
				if len(resp.Body) != size {
					b.Fatalf("got %d bytes", len(resp.Body))
				}
			}
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkColdStart measures the cold-start phases of a loop instance up
// to its first answer, and its teardown, by snapshotter.
func BenchmarkColdStart(b *testing.B) {
	for _, sn := range []string{"overlayfs", "native"} {
		b.Run(sn, func(b *testing.B) {
			r := newTestRuntime(b, Config{Snapshotter: sn})
			f := load(b, r, "hello", invoker.ABILoop)
			var sum struct{ create, taskCreate, taskStart, first, close time.Duration }
			for b.Loop() {
				var tl invoker.Timeline
				inst, err := f.NewInstance(context.Background(), &tl)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if _, err := inst.Invoke(context.Background(), get("/", ""), &tl); err != nil {
					b.Fatal(err)
				}
				sum.first += time.Since(start)
				start = time.Now()
				if err := inst.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				sum.close += time.Since(start)
				sum.create += tl.Get(invoker.PhaseContainerCreate)
				sum.taskCreate += tl.Get(invoker.PhaseTaskCreate)
				sum.taskStart += tl.Get(invoker.PhaseTaskStart)
			}
			n := float64(b.N) * float64(time.Millisecond)
			b.ReportMetric(float64(sum.create)/n, "create-ms")
			b.ReportMetric(float64(sum.taskCreate)/n, "task-create-ms")
			b.ReportMetric(float64(sum.taskStart)/n, "task-start-ms")
			b.ReportMetric(float64(sum.first)/n, "first-answer-ms")
			b.ReportMetric(float64(sum.close)/n, "close-ms")
		})
	}
}

// BenchmarkCGIInvoke measures a cgi invocation on a container created
// ahead of demand: spec update, task create and start, run, exit.
func BenchmarkCGIInvoke(b *testing.B) {
	r := newTestRuntime(b, Config{})
	f := load(b, r, "hello", invoker.ABICGI)
	for b.Loop() {
		b.StopTimer()
		inst, err := f.NewInstance(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := inst.Invoke(context.Background(), get("/", ""), nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := inst.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSocketInvoke is BenchmarkLoopInvoke's alternative: the same
// echo served over HTTP on a unix socket in a directory bind-mounted
// read-write into the container (see RATIONALE.md).
func BenchmarkSocketInvoke(b *testing.B) {
	r := newTestRuntime(b, Config{})
	f := load(b, r, "sockecho", invoker.ABILoop).(*function)
	dir, err := os.MkdirTemp("", "lumos-sock-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil { // the function runs as 65534
		b.Fatal(err)
	}
	client, err := r.conn()
	if err != nil {
		b.Fatal(err)
	}
	ctx := r.withNS(context.Background())
	id := r.newID()
	opts := append(f.specOpts(nil),
		oci.WithProcessArgs(BinaryPath, "/sock/fn.sock"),
		oci.WithMounts([]specs.Mount{{Type: "bind", Source: dir, Destination: "/sock", Options: []string{"rbind", "rw"}}}))
	c, err := client.NewContainer(ctx, id,
		containerd.WithImage(f.img),
		containerd.WithSnapshotter(r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, f.img),
		containerd.WithNewSpec(opts...))
	if err != nil {
		b.Fatal(err)
	}
	p := &proc{r: r, f: f, id: id, c: c, exited: make(chan struct{})}
	defer p.close(context.Background())
	if err := p.startTask(ctx, nil, io.Discard, nil); err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "fn.sock")
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-p.exited:
			b.Fatal(p.exitErr("before listening"))
		case <-time.After(time.Millisecond):
		}
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	for _, size := range []int{16, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			body := strings.Repeat("x", size)
			b.SetBytes(int64(size))
			for b.Loop() {
				resp, err := hc.Post("http://fn/", "text/plain", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(got) != size {
					b.Fatalf("got %d bytes, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkColdStartVsBare compares a cold start through the runtime
// (NewInstance, then the first Invoke: container create, task create and
// start, first_ready, first answer) with a bare baseline doing only the
// containerd client calls with the same image and OCI spec (create
// container, create task, start, write a request frame, read the response
// frame), iterations interleaved so both see the same machine. It reports
// the medians, their ratio (issue 3's target: at most 1.15), the means, the phases of
// the runtime's cold start and both teardowns (delete task, container and
// snapshot).
//
//	go test -run '^$' -bench ColdStartVsBare -benchtime 40x ./invoker/container/
func BenchmarkColdStartVsBare(b *testing.B) {
	r := newTestRuntime(b, Config{})
	f := load(b, r, "hello", invoker.ABILoop).(*function)
	client, err := r.conn()
	if err != nil {
		b.Fatal(err)
	}
	ctx := r.withNS(context.Background())
	req := get("/", "")
	var lumos, bare, lumosClose, bareClose []time.Duration
	var bareSteps [4]time.Duration                  // sums
	phases := map[invoker.PhaseName]time.Duration{} // sums
	lumosFirst := true
	for b.Loop() {
		// Alternate which goes first, so that neither always follows the
		// other's teardown (containerd and the kernel finish some of it
		// after the calls return).
		lumosFirst = !lumosFirst
		if !lumosFirst {
			first, teardown, steps := bareColdStart(b, ctx, client, f, req)
			bare = append(bare, first)
			bareClose = append(bareClose, teardown)
			for i, d := range steps {
				bareSteps[i] += d
			}
		}

		var tl invoker.Timeline
		start := time.Now()
		inst, err := f.NewInstance(ctx, &tl)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.Invoke(ctx, req, &tl); err != nil {
			b.Fatal(err)
		}
		lumos = append(lumos, time.Since(start))
		start = time.Now()
		if err := inst.Close(ctx); err != nil {
			b.Fatal(err)
		}
		lumosClose = append(lumosClose, time.Since(start))
		for _, ph := range tl.Phases() {
			phases[ph.Name] += ph.Duration
		}

		if lumosFirst {
			first, teardown, steps := bareColdStart(b, ctx, client, f, req)
			bare = append(bare, first)
			bareClose = append(bareClose, teardown)
			for i, d := range steps {
				bareSteps[i] += d
			}
		}
	}
	l, bb := median(lumos), median(bare)
	b.ReportMetric(msOf(l), "lumos-p50-ms")
	b.ReportMetric(msOf(bb), "bare-p50-ms")
	b.ReportMetric(float64(l)/float64(bb), "ratio")
	b.ReportMetric(msOf(mean(lumos)), "lumos-mean-ms")
	b.ReportMetric(msOf(mean(bare)), "bare-mean-ms")
	b.ReportMetric(msOf(median(lumosClose)), "lumos-teardown-p50-ms")
	b.ReportMetric(msOf(median(bareClose)), "bare-teardown-p50-ms")
	n := float64(len(lumos))
	for _, ph := range []invoker.PhaseName{invoker.PhaseContainerCreate, invoker.PhaseTaskCreate, invoker.PhaseTaskStart,
		invoker.PhaseFirstReady, invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead} {
		b.ReportMetric(msOf(phases[ph])/n, string(ph)+"-mean-ms")
	}
	for i, name := range []string{"container_create", "task_create", "task_start", "first_answer"} {
		b.ReportMetric(msOf(bareSteps[i])/n, "bare-"+name+"-mean-ms")
	}
}

// bareColdStart starts f's image with only containerd's client calls and
// the function's own OCI spec, serves req once over the task's stdio and
// deletes everything. It returns the time to the first answer and the
// teardown's.
func bareColdStart(b *testing.B, ctx context.Context, client *containerd.Client, f *function, req *invoker.Request) (first, teardown time.Duration, steps [4]time.Duration) {
	id := f.r.newID()
	env := []string{envABI + "=" + string(invoker.ABILoop)}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	start := time.Now()
	c, err := client.NewContainer(ctx, id,
		containerd.WithImage(f.img),
		containerd.WithSnapshotter(f.r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, f.img),
		containerd.WithNewSpec(f.specOpts(env)...))
	if err != nil {
		b.Fatal(err)
	}
	steps[0] = time.Since(start)
	task, err := c.NewTask(ctx, cio.NewCreator(cio.WithStreams(stdinR, stdoutW, io.Discard)))
	if err != nil {
		b.Fatal(err)
	}
	steps[1] = time.Since(start) - steps[0]
	if err := task.Start(ctx); err != nil {
		b.Fatal(err)
	}
	steps[2] = time.Since(start) - steps[0] - steps[1]
	if err := frame.WriteRequest(stdinW, req); err != nil {
		b.Fatal(err)
	}
	resp, err := frame.ReadResponse(stdoutR, frame.DefaultLimits())
	if err != nil || resp.Status != 200 {
		b.Fatalf("bare: %v %v", resp, err)
	}
	first = time.Since(start)
	steps[3] = first - steps[0] - steps[1] - steps[2]
	start = time.Now()
	stdinW.Close()
	if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil {
		b.Fatal(err)
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
		b.Fatal(err)
	}
	teardown = time.Since(start)
	stdoutW.Close()
	return first, teardown, steps
}

// BenchmarkFootprint reports the hello image's size (tarball, content in
// containerd, unpacked snapshot) and the memory of one warm loop instance
// after b.N requests: the resident set of the task's processes
// (/proc/PID/status VmRSS) and its cgroup's count (page cache included).
//
//	go test -run '^$' -bench Footprint -benchtime 1000x ./invoker/container/
func BenchmarkFootprint(b *testing.B) {
	r := newTestRuntime(b, Config{})
	f := load(b, r, "hello", invoker.ABILoop).(*function)
	ctx := r.withNS(context.Background())
	inst := newInstance(b, f, nil)
	for b.Loop() {
		if _, err := inst.Invoke(ctx, get("/", ""), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	p := inst.(*loopInstance).p
	pids, err := p.task.Pids(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var rss int64
	for _, pi := range pids {
		st, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pi.Pid), 10) + "/status")
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				rss += kib << 10
			}
		}
	}
	content, err := f.img.Size(ctx)
	if err != nil {
		b.Fatal(err)
	}
	unpacked, err := f.img.Usage(ctx, containerd.WithSnapshotUsage())
	if err != nil {
		b.Fatal(err)
	}
	const mib = 1 << 20
	b.ReportMetric(float64(len(tarballs["hello"]))/mib, "tarball-MiB")
	b.ReportMetric(float64(content)/mib, "content-MiB")
	b.ReportMetric(float64(unpacked-content)/mib, "snapshot-MiB")
	b.ReportMetric(float64(rss)/mib, "rss-MiB")
	b.ReportMetric(float64(inst.MemoryBytes())/mib, "cgroup-MiB")
	b.ReportMetric(float64(len(pids)), "processes")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
