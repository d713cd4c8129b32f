package container

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lumos-edge/lumos/invoker"
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
