package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lumos-edge/lumos/invoker"
)

// platform is the only platform the runtime runs.
var platform = ocispec.Platform{OS: "linux", Architecture: "amd64"}

// BinaryPath is where BuildImage puts the function's binary.
const BinaryPath = "/fn"

// BuildImage packages a static Linux amd64 binary as a docker-archive image
// tarball: one layer holding the binary at BinaryPath (mode 0755), with
// entrypoint [BinaryPath] and user 65534. Build the binary with
// CGO_ENABLED=0 GOOS=linux GOARCH=amd64; the image has nothing else (no
// libc, no shell, no /etc).
func BuildImage(binary []byte) ([]byte, error) {
	return buildImage(binary, nil)
}

// buildImage is BuildImage with a hook that edits the image configuration
// (tests build wrong images with it).
func buildImage(binary []byte, edit func(*v1.ConfigFile)) ([]byte, error) {
	if len(binary) == 0 {
		return nil, errors.New("container: build image: empty binary")
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
	cf.OS, cf.Architecture = platform.OS, platform.Architecture
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = "65534:65534"
	cf.Config.Env = []string{"PATH=/"}
	if edit != nil {
		edit(cf)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("container: build image: %w", err)
	}
	ref, err := name.NewTag("lumos.local/function:latest")
	if err != nil {
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
	return "lumos.local/artifact:" + strings.NewReplacer(":", "-").Replace(digest)
}

// importImage imports an image tarball as name, checks that it runs on
// linux/amd64 with an entrypoint, and unpacks it. Errors about the
// tarball's content wrap invoker.ErrInvalidArtifact.
func (r *Runtime) importImage(ctx context.Context, client *containerd.Client, name string, tarball []byte, labels map[string]string) (containerd.Image, error) {
	imgs, err := client.Import(ctx, bytes.NewReader(tarball),
		containerd.WithIndexName(name),
		containerd.WithImportPlatform(platforms.Only(platform)))
	if err != nil {
		if isUnavailable(err) {
			return nil, wrap("import image", err)
		}
		return nil, fmt.Errorf("container: import image: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	// A docker-archive's RepoTags also become images: the gateway names
	// images by digest only, so drop those names (the content stays,
	// referenced by name).
	var rec images.Image
	for _, im := range imgs {
		if im.Name == name {
			rec = im
		} else if err := client.ImageService().Delete(ctx, im.Name); err != nil && !errdefs.IsNotFound(err) {
			return nil, wrap("delete image "+im.Name, err)
		}
	}
	if rec.Name == "" {
		return nil, fmt.Errorf("container: import image: %w: no image in the tarball", invoker.ErrInvalidArtifact)
	}
	rec.Labels = labels
	if _, err := client.ImageService().Update(ctx, rec, "labels"); err != nil {
		return nil, wrap("label image", err)
	}
	img := containerd.NewImageWithPlatform(client, rec, platforms.Only(platform))
	cfgDesc, err := img.Config(ctx)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("container: image: %w: no %s manifest: %w", invoker.ErrInvalidArtifact, platforms.Format(platform), err)
		}
		return nil, wrap("image config", err)
	}
	var ic ocispec.Image
	if err := readJSON(ctx, client, cfgDesc, &ic); err != nil {
		return nil, fmt.Errorf("container: image config: %w: %w", invoker.ErrInvalidArtifact, err)
	}
	if ic.OS != platform.OS || ic.Architecture != platform.Architecture {
		return nil, fmt.Errorf("container: image: %w: platform %s/%s, want %s", invoker.ErrInvalidArtifact, ic.OS, ic.Architecture, platforms.Format(platform))
	}
	if len(ic.Config.Entrypoint) == 0 && len(ic.Config.Cmd) == 0 {
		return nil, fmt.Errorf("container: image: %w: no entrypoint", invoker.ErrInvalidArtifact)
	}
	if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
		if isUnavailable(err) {
			return nil, wrap("unpack image", err)
		}
		return nil, fmt.Errorf("container: unpack image with %s: %w: %w", r.cfg.Snapshotter, invoker.ErrInvalidArtifact, err)
	}
	return img, nil
}

// readJSON reads the blob desc and decodes it into v.
func readJSON(ctx context.Context, client *containerd.Client, desc ocispec.Descriptor, v any) error {
	b, err := content.ReadBlob(ctx, client.ContentStore(), desc)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
