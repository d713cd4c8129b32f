package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/images/archive"
	"github.com/containerd/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lumos-edge/lumos/invoker"
)

// platform is the only platform the runtime runs: Linux on the gateway's
// own architecture.
var platform = ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}

// BinaryPath is where BuildImage puts the function's binary.
const BinaryPath = "/fn"

// DefaultImageTag is the name a BuildImage tarball gives its image (the
// docker-archive RepoTag), which `ctr images import` uses. The gateway
// ignores tarball names: it names an uploaded image by its digest.
const DefaultImageTag = "lumos.local/function:latest"

// artifactImagePrefix starts the name of every image imported from an
// uploaded artifact; a deployment cannot name such an image itself.
const artifactImagePrefix = "lumos.local/artifact:"

// ImageOptions adjusts BuildImageWith. Zero fields take their defaults.
type ImageOptions struct {
	// Arch is the GOARCH the binary was built for, recorded in the image's
	// configuration. Default: the architecture this program runs on, which
	// is the only one a Runtime accepts on this machine.
	Arch string
	// Tag names the image in the tarball. Default DefaultImageTag.
	Tag string
}

// BuildImage packages a static Linux binary for this machine's architecture
// as a docker-archive image tarball: one layer holding the binary at
// BinaryPath (mode 0755), with entrypoint [BinaryPath] and user 65534.
// Build the binary with CGO_ENABLED=0 GOOS=linux; the image has nothing
// else (no libc, no shell, no /etc).
func BuildImage(binary []byte) ([]byte, error) {
	return buildImageWith(binary, ImageOptions{}, nil)
}

// BuildImageWith is BuildImage for another architecture or name.
func BuildImageWith(binary []byte, o ImageOptions) ([]byte, error) {
	return buildImageWith(binary, o, nil)
}

// buildImage is BuildImage with a hook that edits the image configuration
// (tests build wrong images with it).
func buildImage(binary []byte, edit func(*v1.ConfigFile)) ([]byte, error) {
	return buildImageWith(binary, ImageOptions{}, edit)
}

// buildImageWith is BuildImageWith with buildImage's hook.
func buildImageWith(binary []byte, o ImageOptions, edit func(*v1.ConfigFile)) ([]byte, error) {
	if len(binary) == 0 {
		return nil, errors.New("container: build image: empty binary")
	}
	if o.Arch == "" {
		o.Arch = platform.Architecture
	}
	if o.Tag == "" {
		o.Tag = DefaultImageTag
	}
	ref, err := name.NewTag(o.Tag)
	if err != nil {
		return nil, fmt.Errorf("container: build image: tag %q: %w", o.Tag, err)
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	hdr := &tar.Header{
		Name:     strings.TrimPrefix(BinaryPath, "/"),
		Mode:     0o755,
		Size:     int64(len(binary)),
		Typeflag: tar.TypeReg,
		ModTime:  time.Unix(0, 0),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	layerBytes := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("container: build image: layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = platform.OS, o.Arch
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = "65534:65534"
	cf.Config.Env = []string{"PATH=/"}
	if edit != nil {
		edit(cf)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	var out bytes.Buffer
	if err := tarball.Write(ref, img, &out); err != nil {
		return nil, fmt.Errorf("container: build image: write tarball: %w", err)
	}
	return out.Bytes(), nil
}

// imageName is the containerd image name of an artifact: one per digest,
// shared by the functions deployed from the same artifact.
func imageName(digest string) string {
	return artifactImagePrefix + strings.NewReplacer(":", "-").Replace(digest)
}

// importImage imports an image tarball as name, checks that it runs on
// the runtime's platform with an entrypoint, and unpacks it. Errors about
// the tarball's content wrap invoker.ErrInvalidArtifact.
//
// Only name is created: unlike client.Import, the names inside the tarball
// (docker-archive RepoTags, OCI ref annotations) are ignored, so an upload
// can neither overwrite nor (when its function goes) delete an image that
// someone else put in the namespace under such a name.
func (r *Runtime) importImage(ctx context.Context, client *containerd.Client, name string, tarball []byte, labels map[string]string) (containerd.Image, error) {
	ctx, done, err := client.WithLease(ctx)
	if err != nil {
		return nil, wrap("import image: lease", err)
	}
	defer done(context.WithoutCancel(ctx))
	cs := client.ContentStore()
	index, err := archive.ImportIndex(ctx, cs, bytes.NewReader(tarball))
	if err != nil {
		if isUnavailable(err) {
			return nil, wrap("import image", err)
		}
		return nil, fmt.Errorf("container: import image: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	// Label the content as referenced by its parents (what client.Import
	// does), so that deleting the image lets the garbage collector take it.
	handler := images.SetChildrenLabels(cs, images.FilterPlatforms(images.ChildrenHandler(cs), platforms.Only(platform)))
	if err := images.WalkNotEmpty(ctx, handler, index); err != nil {
		if isUnavailable(err) {
			return nil, wrap("import image", err)
		}
		return nil, fmt.Errorf("container: import image: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	is := client.ImageService()
	rec := images.Image{Name: name, Target: index, Labels: labels}
	if rec, err = is.Update(ctx, rec, "target", "labels"); errdefs.IsNotFound(err) {
		rec, err = is.Create(ctx, images.Image{Name: name, Target: index, Labels: labels})
	}
	if err != nil {
		return nil, wrap("create image "+name, err)
	}
	img := containerd.NewImageWithPlatform(client, rec, platforms.Only(platform))
	if err := r.checkImage(ctx, client, img); err != nil {
		return nil, err
	}
	return img, nil
}

// namedImage returns the image ref that is already in the namespace,
// checked and unpacked. ref is the image's name as stored, or a familiar
// docker reference ("hello:v1" for "docker.io/library/hello:v1"). A
// missing image and one that does not run here wrap
// invoker.ErrInvalidArtifact.
func (r *Runtime) namedImage(ctx context.Context, client *containerd.Client, ref string) (containerd.Image, error) {
	if strings.HasPrefix(ref, artifactImagePrefix) {
		return nil, fmt.Errorf("container: image %q: %w: names starting %q belong to uploaded artifacts: deploy the artifact's digest", ref, invoker.ErrInvalidArtifact, artifactImagePrefix)
	}
	is := client.ImageService()
	rec, err := is.Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		if n, perr := reference.ParseDockerRef(ref); perr == nil && n.String() != ref {
			rec, err = is.Get(ctx, n.String())
		}
	}
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("container: image %q: %w: no such image in containerd namespace %q (import it there first, e.g. ctr -n %s images import FILE, or upload the tarball to /system/artifacts)",
				ref, invoker.ErrInvalidArtifact, r.cfg.Namespace, r.cfg.Namespace)
		}
		return nil, wrap("get image "+ref, err)
	}
	img := containerd.NewImageWithPlatform(client, rec, platforms.Only(platform))
	if err := r.checkImage(ctx, client, img); err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return img, nil
}

// checkImage checks that img has a manifest and configuration for the
// runtime's platform and an entrypoint, and unpacks it unless it is
// already.
func (r *Runtime) checkImage(ctx context.Context, client *containerd.Client, img containerd.Image) error {
	cfgDesc, err := img.Config(ctx)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("container: image: %w: no %s manifest: %w", invoker.ErrInvalidArtifact, platforms.Format(platform), err)
		}
		return wrap("image config", err)
	}
	var ic ocispec.Image
	if err := readJSON(ctx, client, cfgDesc, &ic); err != nil {
		if isUnavailable(err) {
			return wrap("image config", err)
		}
		return fmt.Errorf("container: image config: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	if ic.OS != platform.OS || ic.Architecture != platform.Architecture {
		return fmt.Errorf("container: image: %w: platform %s/%s, want %s", invoker.ErrInvalidArtifact, ic.OS, ic.Architecture, platforms.Format(platform))
	}
	if len(ic.Config.Entrypoint) == 0 && len(ic.Config.Cmd) == 0 {
		return fmt.Errorf("container: image: %w: no entrypoint", invoker.ErrInvalidArtifact)
	}
	if ok, err := img.IsUnpacked(ctx, r.cfg.Snapshotter); err == nil && ok {
		return nil
	}
	if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
		if isUnavailable(err) {
			return wrap("unpack image", err)
		}
		return fmt.Errorf("container: unpack image with %s: %w: %w", r.cfg.Snapshotter, invoker.ErrInvalidArtifact, err)
	}
	return nil
}

// readJSON reads the blob desc and decodes it into v.
func readJSON(ctx context.Context, client *containerd.Client, desc ocispec.Descriptor, v any) error {
	b, err := content.ReadBlob(ctx, client.ContentStore(), desc)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
