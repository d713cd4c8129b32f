package container

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/platforms"
	"github.com/containerd/containerd/snapshots"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lumos-edge/lumos/invoker"
)

// envABI is the variable that tells the SDK which ABI to speak.
const envABI = "LUMOS_ABI"

// function is an imported, unpacked image ready to start instances.
type function struct {
	r       *Runtime
	spec    invoker.Spec
	img     containerd.Image
	imgName string
	// owned: the image was imported from an artifact by this runtime, and
	// is deleted with its last Function. An image named by the deployment
	// (Spec.Image) belongs to whoever put it in the namespace.
	owned  bool
	labels map[string]string
	memory int64
	closed bool
}

var _ invoker.Function = (*function)(nil)

// Load imports the spec's image tarball into containerd and unpacks it, or,
// when the spec names an image (Spec.Image), finds it in the namespace and
// unpacks it. A malformed tarball, a missing image, a platform other than
// linux on the gateway's architecture or an image without an entrypoint
// fail with invoker.ErrInvalidArtifact; an unreachable containerd with
// invoker.ErrUnavailable.
func (r *Runtime) Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
	if !spec.ABI.Valid() {
		return nil, fmt.Errorf("container: function %q: unknown ABI %q", spec.Name, spec.ABI)
	}
	if spec.Artifact == nil && spec.Image == "" {
		return nil, fmt.Errorf("container: function %q: %w: no artifact", spec.Name, invoker.ErrInvalidArtifact)
	}
	for _, m := range spec.Mounts {
		if !isAbs(m.HostPath) || !isAbs(m.GuestPath) {
			return nil, fmt.Errorf("container: function %q: mount %q -> %q: paths must be absolute", spec.Name, m.HostPath, m.GuestPath)
		}
	}
	client, err := r.conn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.withNS(ctx), loadTimeout)
	defer cancel()
	var img containerd.Image
	owned := spec.Image == ""
	if owned {
		img, err = r.acquireImage(ctx, client, imageName(spec.Digest), spec)
	} else {
		img, err = r.acquireNamedImage(ctx, client, spec)
	}
	if err != nil {
		return nil, err
	}
	f := &function{
		r:       r,
		spec:    spec,
		img:     img,
		imgName: img.Name(),
		owned:   owned,
		labels:  r.labels(spec.Name),
		memory:  spec.MemoryLimit,
	}
	if f.memory <= 0 {
		f.memory = r.cfg.DefaultMemoryLimit
	}
	r.log.Debug("loaded", "function", spec.Name, "image", f.imgName, "owned", owned)
	return f, nil
}

// acquireImage imports the artifact (or reuses the image already imported
// for its digest) and counts one more user of it.
func (r *Runtime) acquireImage(ctx context.Context, client *containerd.Client, name string, spec invoker.Spec) (containerd.Image, error) {
	// Imports and deletes are serialized so that a Function closing the
	// last user of an image cannot delete it under a Load importing it.
	r.imageMu.Lock()
	defer r.imageMu.Unlock()
	r.mu.Lock()
	n := r.images[name]
	if n > 0 {
		r.images[name] = n + 1
	}
	r.mu.Unlock()
	if n > 0 {
		rec, err := client.ImageService().Get(ctx, name)
		if err == nil {
			return containerd.NewImageWithPlatform(client, rec, platforms.Only(platform)), nil
		}
		r.releaseImage(name)
		if !errdefs.IsNotFound(err) {
			return nil, wrap("get image", err)
		}
	}
	tarball, err := spec.Artifact(ctx)
	if err != nil {
		return nil, fmt.Errorf("container: function %q: read artifact: %w", spec.Name, err)
	}
	img, err := r.importImage(ctx, client, name, tarball, r.labels(spec.Name))
	if err != nil {
		if !isUnavailable(err) {
			// Leave nothing behind; the content is garbage collected.
			_ = client.ImageService().Delete(context.WithoutCancel(ctx), name)
		}
		return nil, fmt.Errorf("function %q: %w", spec.Name, err)
	}
	r.mu.Lock()
	r.images[name]++
	r.mu.Unlock()
	return img, nil
}

// acquireNamedImage finds, checks and unpacks the image the spec names. It
// is not counted: the runtime never deletes it.
func (r *Runtime) acquireNamedImage(ctx context.Context, client *containerd.Client, spec invoker.Spec) (containerd.Image, error) {
	// Serialized with imports and deletes, like acquireImage: deploys are
	// rare and a concurrent unpack of the same image gains nothing.
	r.imageMu.Lock()
	defer r.imageMu.Unlock()
	img, err := r.namedImage(ctx, client, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", spec.Name, err)
	}
	return img, nil
}

// releaseImage counts one user less of name and reports whether it was the last.
func (r *Runtime) releaseImage(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[name]--
	if r.images[name] > 0 {
		return false
	}
	delete(r.images, name)
	return true
}

// Close deletes the image when the runtime imported it and no other
// Function uses it; live instances keep their own snapshots.
func (f *function) Close(ctx context.Context) error {
	if f.closed {
		return nil
	}
	f.closed = true
	if !f.owned {
		return nil
	}
	f.r.imageMu.Lock()
	defer f.r.imageMu.Unlock()
	if !f.r.releaseImage(f.imgName) {
		return nil
	}
	client, err := f.r.conn()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(f.r.withNS(context.WithoutCancel(ctx)), cleanupTimeout)
	defer cancel()
	if err := client.ImageService().Delete(ctx, f.imgName, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
		return wrap("delete image "+f.imgName, err)
	}
	return nil
}

// NewInstance creates a container (and, for loop, starts its task).
func (f *function) NewInstance(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
	client, err := f.r.conn()
	if err != nil {
		return nil, err
	}
	id, err := f.r.reserveID()
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(f.spec.Env)+1)
	for _, k := range slices.Sorted(maps.Keys(f.spec.Env)) {
		env = append(env, k+"="+f.spec.Env[k])
	}
	env = append(env, envABI+"="+string(f.spec.ABI))

	start := time.Now()
	cctx, cancel := f.r.callCtx(ctx)
	c, err := client.NewContainer(cctx, id,
		containerd.WithImage(f.img),
		containerd.WithSnapshotter(f.r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, f.img, snapshots.WithLabels(f.labels)),
		containerd.WithContainerLabels(f.labels),
		containerd.WithNewSpec(f.specOpts(env)...))
	cancel()
	if err != nil {
		// A snapshot may be left (prepared before the container failed):
		// the next reconcile removes it.
		f.r.release(id, false)
		return nil, wrapCall(cctx, "create container for "+f.spec.Name, err)
	}
	tl.Add(invoker.PhaseContainerCreate, start)
	ctx = f.r.withNS(ctx)
	p := &proc{r: f.r, f: f, id: id, c: c, exited: make(chan struct{})}
	if err := f.r.track(p); err != nil {
		f.r.release(id, p.deleteContainer(ctx) == nil)
		return nil, err
	}
	if f.spec.ABI == invoker.ABICGI {
		return &cgiInstance{p: p}, nil
	}
	return newLoopInstance(ctx, p, tl)
}

// specOpts returns the OCI spec of the function's containers: the image's
// configuration, then the sandbox.
func (f *function) specOpts(env []string) []oci.SpecOpts {
	opts := []oci.SpecOpts{}
	if len(f.spec.Args) > 0 {
		opts = append(opts, oci.WithImageConfigArgs(f.img, f.spec.Args))
	} else {
		opts = append(opts, oci.WithImageConfig(f.img))
	}
	opts = append(opts,
		oci.WithEnv(env),
		oci.WithHostname("function"),
		oci.WithUIDGID(DefaultUID, DefaultGID),
		oci.WithRootFSReadonly(),
		oci.WithNoNewPrivileges,
		withoutCapabilities,
		seccomp.WithDefaultProfile(),
		oci.WithMemoryLimit(uint64(f.memory)),
		withCPULimit(f.spec.CPULimit),
		oci.WithPidsLimit(f.r.cfg.PidsLimit),
	)
	if len(f.spec.Mounts) > 0 {
		ms := make([]specs.Mount, 0, len(f.spec.Mounts))
		for _, m := range f.spec.Mounts {
			ms = append(ms, specs.Mount{
				Type:        "bind",
				Source:      m.HostPath,
				Destination: m.GuestPath,
				Options:     []string{"rbind", "ro", "nosuid", "nodev"},
			})
		}
		opts = append(opts, oci.WithMounts(ms))
	}
	return opts
}

// withoutCapabilities drops every capability from every set.
func withoutCapabilities(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{}
	return nil
}

func isAbs(p string) bool { return len(p) > 0 && p[0] == '/' }

// cfsPeriod is the CFS period CPU limits are expressed in (the kernel's
// default, 100 ms).
const cfsPeriod = 100_000 // microseconds

// withCPULimit caps the container at millis thousandths of a core through
// the CFS quota (cpu.cfs_quota_us over cpu.cfs_period_us, or cpu.max); 0
// leaves it uncapped.
func withCPULimit(millis int64) oci.SpecOpts {
	if millis <= 0 {
		return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error { return nil }
	}
	return oci.WithCPUCFS(millis*cfsPeriod/1000, cfsPeriod)
}
