package container

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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
