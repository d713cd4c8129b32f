package container

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lumos-edge/lumos/invoker"
)

// importAs imports tarball into r's namespace the way an operator would
// (ctr images import): under the tarball's own names and extra. It returns
// the images created.
func importAs(t *testing.T, r *Runtime, tarball []byte, extra string) map[string]images.Image {
	t.Helper()
	client, err := r.conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), r.cfg.Namespace)
	opts := []containerd.ImportOpt{containerd.WithAllPlatforms(true)}
	if extra != "" {
		opts = append(opts, containerd.WithIndexName(extra))
	}
	imgs, err := client.Import(ctx, bytes.NewReader(tarball), opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]images.Image{}
	for _, im := range imgs {
		out[im.Name] = im
	}
	return out
}

// getImage returns the image called name in r's namespace, or false.
func getImage(t *testing.T, r *Runtime, name string) (images.Image, bool) {
	t.Helper()
	client, err := r.conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := namespaces.WithNamespace(context.Background(), r.cfg.Namespace)
	im, err := client.ImageService().Get(ctx, name)
	if errdefs.IsNotFound(err) {
		return images.Image{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return im, true
}

func namedSpec(name string, abi invoker.ABI, image string) invoker.Spec {
	return invoker.Spec{Name: name, ABI: abi, Image: image}
}

// TestNamedImage deploys images already in the namespace, by their stored
// name and by a familiar docker reference, with both ABIs; closing the
// Function leaves the image in place.
func TestNamedImage(t *testing.T) {
	r := newTestRuntime(t, Config{})
	importAs(t, r, tarballs["hello"], "lumos.test/hello:v1")
	importAs(t, r, tarballs["echo"], "docker.io/library/echo-fn:v2")
	tests := []struct {
		ref, stored string
		abi         invoker.ABI
		req         *invoker.Request
		want        string
	}{
		{"lumos.test/hello:v1", "lumos.test/hello:v1", invoker.ABILoop, get("/", ""), "Hello, world!\n"},
		{"lumos.test/hello:v1", "lumos.test/hello:v1", invoker.ABICGI, get("/", ""), "Hello, world!\n"},
		{"echo-fn:v2", "docker.io/library/echo-fn:v2", invoker.ABILoop, post("/", "", "ping"), "ping"},
	}
	for _, tc := range tests {
		t.Run(tc.ref+"/"+string(tc.abi), func(t *testing.T) {
			f, err := r.Load(context.Background(), namedSpec("named", tc.abi, tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := f.NewInstance(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := invoke(inst, tc.req, 30*time.Second)
			if err != nil || string(resp.Body) != tc.want {
				t.Fatalf("got %v, %v; want %q", resp, err, tc.want)
			}
			if err := inst.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, ok := getImage(t, r, tc.stored); !ok {
				t.Fatalf("image %s deleted with its function", tc.stored)
			}
		})
	}
}

// TestNamedImageInvalid: a missing image, one of another platform, one
// without entrypoint and a name reserved for artifacts are
// ErrInvalidArtifact naming the image.
func TestNamedImageInvalid(t *testing.T) {
	r := newTestRuntime(t, Config{})
	build := func(edit func(*v1.ConfigFile)) []byte {
		b, err := buildImage([]byte("#!/bin/false\n"), edit)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := "arm64"
	if platform.Architecture == "arm64" {
		other = "amd64"
	}
	importAs(t, r, build(func(c *v1.ConfigFile) { c.Architecture = other }), "lumos.test/other-arch:1")
	importAs(t, r, build(func(c *v1.ConfigFile) { c.Config.Entrypoint = nil; c.Config.Cmd = nil }), "lumos.test/no-entry:1")
	hello := importAs(t, r, tarballs["hello"], "")
	if len(hello) != 1 {
		t.Fatalf("imported %v", hello)
	}
	tests := []struct{ ref, msg string }{
		{"lumos.test/missing:1", "no such image in containerd namespace"},
		{"missing", "no such image"},
		{"lumos.test/other-arch:1", "linux/" + platform.Architecture}, // "no linux/<arch> manifest"
		{"lumos.test/no-entry:1", "no entrypoint"},
		{imageName("sha256:" + strings.Repeat("0", 64)), "belong to uploaded artifacts"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			f, err := r.Load(context.Background(), namedSpec("bad", invoker.ABILoop, tc.ref))
			if err == nil {
				f.Close(context.Background())
				t.Fatal("loaded")
			}
			if !errors.Is(err, invoker.ErrInvalidArtifact) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.ref) {
				t.Fatalf("got %v, want ErrInvalidArtifact naming %q and saying %q", err, tc.ref, tc.msg)
			}
		})
	}
	for _, name := range []string{"lumos.test/other-arch:1", "lumos.test/no-entry:1"} {
		if _, ok := getImage(t, r, name); !ok {
			t.Errorf("image %s deleted by a failed load", name)
		}
	}
}

// TestUploadKeepsOthersImages: an uploaded tarball whose own name
// (RepoTag) is an image someone imported neither replaces that image nor
// deletes it when its function goes.
func TestUploadKeepsOthersImages(t *testing.T) {
	r := newTestRuntime(t, Config{})
	theirs := importAs(t, r, tarballs["echo"], "")[DefaultImageTag]
	if theirs.Name == "" {
		t.Fatalf("the test tarball is not named %s", DefaultImageTag)
	}
	f := load(t, r, "hello", invoker.ABILoop)
	resp, err := invoke(newInstance(t, f, nil), get("/", ""), 30*time.Second)
	if err != nil || string(resp.Body) != "Hello, world!\n" {
		t.Fatalf("got %v, %v", resp, err)
	}
	check := func(when string) {
		t.Helper()
		im, ok := getImage(t, r, DefaultImageTag)
		if !ok || im.Target.Digest != theirs.Target.Digest {
			t.Fatalf("%s: image %s is %v (present %v), want target %s", when, DefaultImageTag, im.Target.Digest, ok, theirs.Target.Digest)
		}
	}
	check("after the upload")
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("after its function closed")
	// The operator's image still runs.
	g, err := r.Load(context.Background(), namedSpec("theirs", invoker.ABILoop, DefaultImageTag))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	resp, err = invoke(newInstance(t, g, nil), post("/", "", "still echo"), 30*time.Second)
	if err != nil || string(resp.Body) != "still echo" {
		t.Fatalf("got %v, %v", resp, err)
	}
}

// TestNamedImageUnavailable: naming an image while containerd is away is
// ErrUnavailable, not a missing image.
func TestNamedImageUnavailable(t *testing.T) {
	r, err := New(context.Background(), Config{Address: t.TempDir() + "/missing.sock", DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	_, err = r.Load(context.Background(), namedSpec("x", invoker.ABILoop, "lumos.test/hello:v1"))
	if !errors.Is(err, invoker.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestBuildImageWith(t *testing.T) {
	if _, err := BuildImageWith([]byte("x"), ImageOptions{Tag: "Not A Tag"}); err == nil {
		t.Error("a bad tag was accepted")
	}
	if _, err := BuildImage(nil); err == nil {
		t.Error("an empty binary was accepted")
	}
}
