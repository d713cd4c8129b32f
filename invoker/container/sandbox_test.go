package container

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/container/containerdtest"
)

// probe asks the probe function to do op with body, on a loop instance.
func probe(t *testing.T, inst invoker.Instance, op, body string) string {
	t.Helper()
	resp, err := invoke(inst, post("/", "op="+op, body), 30*time.Second)
	if err != nil {
		t.Fatalf("probe %s: %v", op, err)
	}
	return string(resp.Body)
}

func TestIsolation(t *testing.T) {
	r := newTestRuntime(t, Config{})
	spec := specOf("probe", invoker.ABILoop, tarballs["probe"])
	spec.MemoryLimit = 64 << 20
	f, err := r.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	inst := newInstance(t, f, nil)

	// A listener on the host's loopback: the function must not reach it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	tests := []struct {
		op, body string
		check    func(string) bool
		want     string
	}{
		{"ifaces", "", func(s string) bool { return s == "lo" }, "only lo"},
		{"dial", ln.Addr().String(), func(s string) bool { return strings.HasPrefix(s, "error: ") }, "an error"},
		{"dial", "1.1.1.1:53", func(s string) bool { return strings.Contains(s, "network is unreachable") }, "network is unreachable"},
		{"write", "/fn-copy", func(s string) bool { return strings.Contains(s, "read-only file system") }, "read-only file system"},
		{"write", "/tmp-file", func(s string) bool { return strings.HasPrefix(s, "error: ") }, "an error"},
		{"id", "", func(s string) bool { return s == "uid=65534 gid=65534" }, "uid=65534 gid=65534"},
		{"status", "", func(s string) bool {
			for _, k := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"} {
				if !strings.Contains(s, k+" 0000000000000000") {
					return false
				}
			}
			return strings.Contains(s, "NoNewPrivs: 1") && strings.Contains(s, "Seccomp: 2")
		}, "no capabilities, NoNewPrivs 1, Seccomp 2 (filter)"},
	}
	for _, tc := range tests {
		t.Run(tc.op+"/"+tc.body, func(t *testing.T) {
			got := probe(t, inst, tc.op, tc.body)
			t.Logf("%s %q: %q", tc.op, tc.body, got)
			if !tc.check(got) {
				t.Errorf("probe %s %q = %q, want %s", tc.op, tc.body, got, tc.want)
			}
		})
	}
}

// TestMemoryLimitApplied reads the limit back from containerd's record of
// the container (whatever the cgroup version).
func TestMemoryLimitApplied(t *testing.T) {
	r := newTestRuntime(t, Config{})
	for _, tc := range []struct {
		limit, want int64
	}{{0, DefaultMemoryLimit}, {32 << 20, 32 << 20}} {
		spec := specOf("hello", invoker.ABICGI, tarballs["hello"])
		spec.MemoryLimit = tc.limit
		spec.CPULimit = (tc.limit >> 20) * 10 // none, then 320 thousandths of a core
		f, err := r.Load(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		inst := newInstance(t, f, nil)
		c := inst.(*cgiInstance).p.c
		s, err := c.Spec(r.withNS(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		if got := *s.Linux.Resources.Memory.Limit; got != tc.want {
			t.Errorf("limit %d: spec has %d, want %d", tc.limit, got, tc.want)
		}
		cpu := s.Linux.Resources.CPU
		switch {
		case spec.CPULimit == 0 && cpu != nil && cpu.Quota != nil && *cpu.Quota > 0:
			t.Errorf("no CPU limit asked, spec has quota %d", *cpu.Quota)
		case spec.CPULimit > 0 && (cpu == nil || cpu.Quota == nil || cpu.Period == nil ||
			*cpu.Quota != spec.CPULimit*100 || *cpu.Period != 100_000):
			t.Errorf("CPU limit %d: spec has %+v, want quota %d per 100000 us", spec.CPULimit, cpu, spec.CPULimit*100)
		}
		if got := *s.Linux.Resources.Pids; got.Limit != DefaultPidsLimit {
			t.Errorf("pids limit %d", got.Limit)
		}
		if !s.Root.Readonly {
			t.Error("rootfs writable")
		}
		if err := f.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCgroupLimits reads a running task's limits and use from its cgroup,
// as the host sees it.
func TestCgroupLimits(t *testing.T) {
	r := newTestRuntime(t, Config{})
	spec := specOf("echo", invoker.ABILoop, tarballs["echo"])
	spec.MemoryLimit = 48 << 20
	f, err := r.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	inst := newInstance(t, f, nil)
	if _, err := invoke(inst, post("/", "", "x"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	p := inst.(*loopInstance).p
	usage, limit, err := memoryFiles(p.task.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := readBytes(limit); err != nil || n != 48<<20 {
		t.Errorf("%s: %d, %v; want %d", limit, n, err, 48<<20)
	}
	if usage != p.memUsage {
		t.Errorf("instance reads %q, want %q", p.memUsage, usage)
	}
	if n := inst.MemoryBytes(); n <= 0 || n >= 48<<20 {
		t.Errorf("MemoryBytes() = %d, want the use under the limit", n)
	}
}

// countObjects counts the containers, images, snapshots and content blobs
// in the runtime's namespace.
func countObjects(t *testing.T, r *Runtime) (n map[string]int) {
	t.Helper()
	client, err := r.conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), r.cfg.Namespace)
	n = map[string]int{}
	cs, err := client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n["containers"] = len(cs)
	ims, err := client.ImageService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n["images"] = len(ims)
	err = client.SnapshotService(r.cfg.Snapshotter).Walk(ctx, func(context.Context, snapshots.Info) error {
		n["snapshots"]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = client.ContentStore().Walk(ctx, func(content.Info) error {
		n["blobs"]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCloseCleansUp checks that closing instances and functions leaves
// nothing in the namespace, and that labels name the gateway.
func TestCloseCleansUp(t *testing.T) {
	r := newTestRuntime(t, Config{Gateway: "gw-test"})
	ctx := context.Background()
	var fs []invoker.Function
	var insts []invoker.Instance
	for _, abi := range abis {
		for _, name := range []string{"hello", "echo"} {
			f, err := r.Load(ctx, specOf(name, abi, tarballs[name]))
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, f)
			for range 2 {
				inst, err := f.NewInstance(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				insts = append(insts, inst)
			}
		}
	}
	// Serve with half of them, leave the others idle.
	for _, inst := range evenOf(insts) {
		if _, err := invoke(inst, get("/", ""), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	client, _ := r.conn()
	nsctx := r.withNS(ctx)
	cs, err := client.Containers(nsctx, fmt.Sprintf("labels.%q==gw-test", LabelGateway))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(insts) {
		t.Errorf("%d containers labelled with the gateway, want %d", len(cs), len(insts))
	}
	if n := countObjects(t, r); n["snapshots"] == 0 || n["images"] != 2 {
		t.Errorf("while running: %v", n)
	}
	for _, inst := range insts {
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	for _, f := range fs {
		if err := f.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range countObjects(t, r) {
		if v != 0 {
			t.Errorf("%d %s left after Close", v, k)
		}
	}
}

// TestRuntimeCloseDestroysInstances closes the runtime with instances alive.
func TestRuntimeCloseDestroysInstances(t *testing.T) {
	needContainerd(t)
	ns := fmt.Sprintf("test%d", testNamespaces.Add(1))
	r, err := New(context.Background(), Config{Address: daemonSocket, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Load(context.Background(), specOf("hello", invoker.ABILoop, tarballs["hello"]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewInstance(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewInstance(context.Background(), nil); err == nil {
		t.Fatal("NewInstance after Close succeeded")
	}
	check := newTestRuntime(t, Config{Namespace: ns})
	if n := countObjects(t, check); n["containers"] != 0 {
		t.Fatalf("containers left: %v", n)
	}
}

// tarOf returns a tar archive of the files.
func tarOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ociLayout returns an OCI image layout tarball holding the hello image.
func ociLayout(t *testing.T) []byte {
	t.Helper()
	img, err := tarball.Image(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarballs["hello"])), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tarOf(t, files)
}

func TestOCILayout(t *testing.T) {
	r := newTestRuntime(t, Config{})
	f, err := r.Load(context.Background(), specOf("hello-oci", invoker.ABILoop, ociLayout(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	inst := newInstance(t, f, nil)
	resp, err := invoke(inst, get("/", ""), 30*time.Second)
	if err != nil || string(resp.Body) != "Hello, world!\n" {
		t.Fatalf("got %v, %v", resp, err)
	}
}

func TestInvalidArtifact(t *testing.T) {
	r := newTestRuntime(t, Config{})
	bin := []byte("#!/bin/false\n")
	build := func(edit func(*v1.ConfigFile)) []byte {
		b, err := buildImage(bin, edit)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hello := tarballs["hello"]
	tests := []struct {
		name    string
		tarball []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a tarball at all")},
		{"wasm", []byte("\x00asm\x01\x00\x00\x00")},
		{"truncated", hello[:len(hello)/2]},
		{"empty tar", tarOf(t, nil)},
		{"no manifest", tarOf(t, map[string][]byte{"hello.txt": []byte("hi")})},
		{"bad manifest", tarOf(t, map[string][]byte{"manifest.json": []byte("{nope")})},
		{"arm64", build(func(c *v1.ConfigFile) { c.Architecture = "arm64" })},
		{"windows", build(func(c *v1.ConfigFile) { c.OS = "windows" })},
		{"no entrypoint", build(func(c *v1.ConfigFile) { c.Config.Entrypoint = nil; c.Config.Cmd = nil })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := r.Load(context.Background(), specOf("bad", invoker.ABILoop, tc.tarball))
			if err == nil {
				f.Close(context.Background())
				t.Fatal("loaded")
			}
			if !errors.Is(err, invoker.ErrInvalidArtifact) {
				t.Fatalf("got %v, want ErrInvalidArtifact", err)
			}
		})
	}
	if n := countObjects(t, r); n["images"] != 0 {
		t.Errorf("images left after failed loads: %v", n)
	}
}

func TestUnavailable(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{filepath.Join(dir, "missing.sock"), notSocket} {
		t.Run(filepath.Base(addr), func(t *testing.T) {
			r, err := New(context.Background(), Config{Address: addr, DialTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close(context.Background())
			_, err = r.Load(context.Background(), specOf("hello", invoker.ABILoop, tarballs["hello"]))
			if !errors.Is(err, invoker.ErrUnavailable) {
				t.Fatalf("got %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestHammer creates, uses and closes instances of two functions from
// several goroutines at once.
func TestHammer(t *testing.T) {
	r := newTestRuntime(t, Config{})
	loop := load(t, r, "echo", invoker.ABILoop)
	cgi := load(t, r, "echo", invoker.ABICGI)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := loop
			if g%2 == 1 {
				f = cgi
			}
			for i := range 3 {
				inst, err := f.NewInstance(context.Background(), nil)
				if err != nil {
					errs <- err
					return
				}
				for j := 0; j == 0 || (inst.Reusable() && j < 3); j++ {
					body := fmt.Sprintf("g%d-i%d-j%d", g, i, j)
					resp, err := invoke(inst, post("/", "", body), 30*time.Second)
					if err != nil {
						errs <- err
					} else if string(resp.Body) != body {
						errs <- fmt.Errorf("got %q, want %q", resp.Body, body)
					}
				}
				if err := inst.Close(context.Background()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// evenOf returns every other element of s.
func evenOf[T any](s []T) []T {
	var out []T
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	return out
}

// TestContainerdGoesAway stops a connected containerd: the next Load and
// NewInstance fail with invoker.ErrUnavailable instead of hanging.
func TestContainerdGoesAway(t *testing.T) {
	needContainerd(t)
	dir, err := os.MkdirTemp("", "lumos-away-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := containerdtest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()
	r, err := New(context.Background(), Config{Address: d.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	f, err := r.Load(context.Background(), specOf("hello", invoker.ABILoop, tarballs["hello"]))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := f.NewInstance(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(inst, get("/", ""), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := inst.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Stop()
	stopped = true

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.NewInstance(ctx, nil); !errors.Is(err, invoker.ErrUnavailable) {
		t.Fatalf("NewInstance: got %v, want ErrUnavailable", err)
	}
	if _, err := r.Load(ctx, specOf("echo", invoker.ABILoop, tarballs["echo"])); !errors.Is(err, invoker.ErrUnavailable) {
		t.Fatalf("Load: got %v, want ErrUnavailable", err)
	}
}
