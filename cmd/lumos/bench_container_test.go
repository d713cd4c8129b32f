package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/platforms"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// Rounds of BenchmarkContainerHello's latency comparison.
const (
	latencyRounds   = 5
	latencyRequests = 400
)

// BenchmarkContainerHello measures the bundled hello served warm by the
// container runtime with the loop ABI through the gateway, against the same
// image served by a bare round trip on a task's stdio (the containerd
// client, a request frame written to the task's stdin, the response frame
// read from its stdout: no gateway, no pool, no runtime), rounds
// interleaved. It reports both p50 latencies of sequential requests and the
// gateway's added latency (issue 3's target: under 150 us), then
// requests/s from 32 connections of hello on container and on wasm-aot,
// measured in the same run. It starts a private containerd (see
// containerdtest):
//
//	go test -run='^$' -bench=ContainerHello -benchtime=1x ./cmd/lumos/
func BenchmarkContainerHello(b *testing.B) {
	dir, err := os.MkdirTemp("", "lumos-bench-ctd-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := containerdtest.Start(dir)
	containerdtest.Require(b, err)
	defer d.Stop()
	img := benchContainerImage(b, "hello")

	o := serveOptions{
		addr: "127.0.0.1:0", dataDir: b.TempDir(), defaultRuntime: "wasm-aot", bundled: true,
		adminUser: "admin", adminPassword: "bench", maxBody: 16 << 20, maxArtifact: 128 << 20,
		defaultTimeout: 30 * time.Second, maxTimeout: time.Minute, logLevel: "error", containerd: d.Socket,
	}
	ctx := context.Background()
	srv, err := startServer(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close(ctx) // before d.Stop: instances are deleted while containerd is up
	digest, err := srv.gw.PutArtifact(img)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.gw.Deploy(ctx, gateway.FunctionDeployment{
		Service: "c-hello", Image: digest,
		Annotations: map[string]string{"lumos.runtime": "container", "lumos.abi": "loop"},
	}, false); err != nil {
		b.Fatal(err)
	}
	ctr, wasm := srv.url+"/function/c-hello", srv.url+"/function/hello"

	bare := startBareStdio(b, d.Socket, img)
	defer bare.close(b)
	latencies(b, ctr, 100, nil) // warm the instance and the connection
	bare.latencies(b, 100)
	var gw, raw []time.Duration
	for range latencyRounds {
		raw = append(raw, bare.latencies(b, latencyRequests)...)
		gw = append(gw, latencies(b, ctr, latencyRequests, nil)...)
	}
	slices.Sort(gw)
	slices.Sort(raw)
	gw50, raw50 := gw[len(gw)/2], raw[len(raw)/2]

	measureRPS(b, ctr, 500*time.Millisecond) // warm the pools and the connections
	measureRPS(b, wasm, 500*time.Millisecond)
	var ctrRPS, wasmRPS float64
	for range loadRounds {
		ctrRPS += measureRPS(b, ctr, loadDuration) / loadRounds
		wasmRPS += measureRPS(b, wasm, loadDuration) / loadRounds
	}

	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(gw50), "gateway-p50-us")
	b.ReportMetric(us(raw50), "bare-stdio-p50-us")
	b.ReportMetric(us(gw50-raw50), "added-p50-us")
	b.ReportMetric(us(gw[len(gw)*99/100]), "gateway-p99-us")
	b.ReportMetric(us(raw[len(raw)*99/100]), "bare-stdio-p99-us")
	b.ReportMetric(ctrRPS, "container-req/s")
	b.ReportMetric(wasmRPS, "wasm-aot-req/s")
}

// benchContainerImage builds the bundled function pkg as a static Linux
// binary and packages it as an image tarball.
func benchContainerImage(b *testing.B, pkg string) []byte {
	b.Helper()
	out := filepath.Join(b.TempDir(), "fn")
	cmd := exec.Command("go", "build", "-o", out, "../../functions/"+pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, o)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	img, err := container.BuildImage(bin)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// bareStdio is one task of an image started with nothing but containerd's
// client calls, served by writing request frames to its stdin and reading
// response frames from its stdout.
type bareStdio struct {
	ctx    context.Context
	client *containerd.Client
	img    containerd.Image
	c      containerd.Container
	task   containerd.Task
	stdin  *io.PipeWriter
	stdout *io.PipeReader
	req    []byte
}

// startBareStdio imports the image tarball into containerd's namespace
// "bench-bare" and starts one loop task of it.
func startBareStdio(b *testing.B, socket string, tarball []byte) *bareStdio {
	b.Helper()
	client, err := containerd.New(socket, containerd.WithDefaultNamespace("bench-bare"))
	if err != nil {
		b.Fatal(err)
	}
	s := &bareStdio{ctx: context.Background(), client: client}
	imgs, err := client.Import(s.ctx, bytes.NewReader(tarball),
		containerd.WithIndexName("bench-bare/hello:latest"),
		containerd.WithImportPlatform(platforms.Only(platforms.DefaultSpec())))
	if err != nil {
		b.Fatal(err)
	}
	for _, im := range imgs {
		if im.Name == "bench-bare/hello:latest" {
			s.img = containerd.NewImage(client, im)
		}
	}
	if s.img == nil {
		b.Fatal("no image imported")
	}
	if err := s.img.Unpack(s.ctx, container.DefaultSnapshotter); err != nil {
		b.Fatal(err)
	}
	s.c, err = client.NewContainer(s.ctx, "bare-hello",
		containerd.WithImage(s.img),
		containerd.WithSnapshotter(container.DefaultSnapshotter),
		containerd.WithNewSnapshot("bare-hello", s.img),
		containerd.WithNewSpec(oci.WithImageConfig(s.img), oci.WithEnv([]string{"LUMOS_ABI=loop"})))
	if err != nil {
		b.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	s.stdin, s.stdout = stdinW, stdoutR
	s.task, err = s.c.NewTask(s.ctx, cio.NewCreator(cio.WithStreams(stdinR, stdoutW, io.Discard)))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.task.Start(s.ctx); err != nil {
		b.Fatal(err)
	}
	if s.req, err = frame.AppendRequest(nil, &invoker.Request{Method: "GET", Path: "/"}); err != nil {
		b.Fatal(err)
	}
	return s
}

// latencies serves n requests one after another and returns their round trips.
func (s *bareStdio) latencies(b *testing.B, n int) []time.Duration {
	b.Helper()
	lim := frame.DefaultLimits()
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := s.stdin.Write(s.req); err != nil {
			b.Fatal(err)
		}
		resp, err := frame.ReadResponse(s.stdout, lim)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t0))
		if resp.Status != 200 {
			b.Fatalf("bare: status %d", resp.Status)
		}
	}
	return out
}

// close deletes the task, the container, its snapshot and the image.
func (s *bareStdio) close(b *testing.B) {
	s.stdin.Close()
	if _, err := s.task.Delete(s.ctx, containerd.WithProcessKill); err != nil {
		b.Error(err)
	}
	s.stdout.Close()
	if err := s.c.Delete(s.ctx, containerd.WithSnapshotCleanup); err != nil {
		b.Error(err)
	}
	if err := s.client.ImageService().Delete(s.ctx, s.img.Name()); err != nil {
		b.Error(err)
	}
	s.client.Close()
}
