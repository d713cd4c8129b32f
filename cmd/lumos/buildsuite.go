package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/wasm"
)

// suiteSizes are the artifact sizes of one suite function, in bytes.
type suiteSizes struct {
	// Name is the function's name (functions.Suite or functions.CFunctions).
	Name string `json:"name"`
	// Language is the source language: go or c.
	Language string `json:"language"`
	// Wasm is the module (wasm-interp and wasm-aot deploy it).
	Wasm int64 `json:"wasm_bytes"`
	// AOT is what wazero's compiler writes to its compilation cache for the
	// module as the wasm-aot runtime compiles it (the module instrumented
	// with yield points): the machine code and its metadata. The runtime's
	// copy of the instrumented module, kept beside it, is not counted.
	AOT int64 `json:"aot_bytes"`
	// ImageTar is the docker-archive tarball of the container image.
	ImageTar int64 `json:"image_tar_bytes"`
	// ImageCompressed is the sum of the image's compressed layers (what a
	// registry stores and a pull downloads).
	ImageCompressed int64 `json:"image_compressed_bytes"`
	// ImageUnpacked is the sum of the uncompressed layers (what the
	// snapshotter unpacks to disk).
	ImageUnpacked int64 `json:"image_unpacked_bytes"`
}

// suiteFunction is a suite function and its source.
type suiteFunction struct {
	name, lang string
	src        string // a directory (Go) or a .c file
}

// suiteFunctions returns the suite (Go, then C) whose sources are under
// functionsDir, restricted to names when any are given.
func suiteFunctions(functionsDir string, names []string) ([]suiteFunction, error) {
	if _, err := os.Stat(filepath.Join(functionsDir, "functions.go")); err != nil {
		return nil, fmt.Errorf("--functions %s: not the functions directory of the Lumos repository (run from the repository's root or give --functions): %w", functionsDir, err)
	}
	var all []suiteFunction
	for _, b := range functions.Suite() {
		all = append(all, suiteFunction{name: b.Name, lang: "go", src: filepath.Join(functionsDir, b.Name)})
	}
	for _, b := range functions.CFunctions() {
		all = append(all, suiteFunction{name: b.Name, lang: "c", src: filepath.Join(functionsDir, "c", strings.TrimPrefix(b.Name, "c-")+".c")})
	}
	if len(names) == 0 {
		return all, nil
	}
	var picked []suiteFunction
	for _, n := range names {
		i := slices.IndexFunc(all, func(f suiteFunction) bool { return f.name == n })
		if i < 0 {
			var known []string
			for _, f := range all {
				known = append(known, f.name)
			}
			return nil, fmt.Errorf("%q is not a suite function (want one of %s)", n, strings.Join(known, ", "))
		}
		picked = append(picked, all[i])
	}
	return picked, nil
}

// buildSuite builds every function of fns for every target into outDir
// (NAME.wasm, NAME.tar, aot/), writes outDir/sizes.json and returns the sizes.
func buildSuite(ctx context.Context, fns []suiteFunction, outDir string, progress io.Writer) ([]suiteSizes, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var sizes []suiteSizes
	for _, f := range fns {
		fmt.Fprintf(progress, "building %s...\n", f.name)
		s := suiteSizes{Name: f.name, Language: f.lang}
		mod, err := buildFunction(ctx, f.src, buildOptions{runtime: runtimeWasmAOT})
		if err != nil {
			return nil, err
		}
		s.Wasm = int64(len(mod))
		if err := os.WriteFile(filepath.Join(outDir, f.name+".wasm"), mod, 0o644); err != nil {
			return nil, err
		}
		abi := invoker.ABILoop
		if f.lang == "c" {
			abi = invoker.ABICGI
		}
		if s.AOT, err = aotSize(ctx, f.name, abi, mod, filepath.Join(outDir, "aot", f.name)); err != nil {
			return nil, err
		}
		img, err := buildFunction(ctx, f.src, buildOptions{runtime: runtimeContainer, tag: "lumos.local/" + f.name + ":suite"})
		if err != nil {
			return nil, err
		}
		s.ImageTar = int64(len(img))
		if s.ImageCompressed, s.ImageUnpacked, err = imageSizes(img); err != nil {
			return nil, fmt.Errorf("image of %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(outDir, f.name+".tar"), img, 0o644); err != nil {
			return nil, err
		}
		sizes = append(sizes, s)
	}
	b, err := json.MarshalIndent(sizes, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(outDir, "sizes.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return sizes, nil
}

// aotSize compiles mod with the wasm-aot runtime into a fresh compilation
// cache in dir and returns the bytes the cache holds afterwards.
func aotSize(ctx context.Context, name string, abi invoker.ABI, mod []byte, dir string) (int64, error) {
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	rt, err := wasm.New(ctx, wasm.Config{Engine: wasm.Compiler, CacheDir: dir})
	if err != nil {
		return 0, err
	}
	defer rt.Close(ctx)
	sum := sha256.Sum256(mod)
	f, err := rt.Load(ctx, invoker.Spec{Name: name, ABI: abi, Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Artifact: func(context.Context) ([]byte, error) { return mod, nil }})
	if err != nil {
		return 0, fmt.Errorf("aot compile %s: %w", name, err)
	}
	defer f.Close(ctx)
	var total int64
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "lumos-instrumented" { // invoker/wasm's instrumentedDir
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return err
	})
	if err == nil && total == 0 {
		err = fmt.Errorf("aot compile %s: the compilation cache %s stayed empty", name, dir)
	}
	return total, err
}

// imageSizes returns the summed compressed and uncompressed sizes of the
// layers of the image in a docker-archive tarball.
func imageSizes(tarImg []byte) (compressed, unpacked int64, err error) {
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarImg)), nil }, nil)
	if err != nil {
		return 0, 0, err
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, 0, err
		}
		compressed += n
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		u, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, 0, err
		}
		unpacked += u
	}
	return compressed, unpacked, nil
}

// printSizes writes the sizes as a table, in KiB with one decimal.
func printSizes(w io.Writer, sizes []suiteSizes) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tlang\twasm KiB\tAoT KiB\timage tar KiB\timage compressed KiB\timage unpacked KiB\tcompressed image / wasm\t")
	kib := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1024) }
	for _, s := range sizes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2fx\t\n", s.Name, s.Language, kib(s.Wasm), kib(s.AOT),
			kib(s.ImageTar), kib(s.ImageCompressed), kib(s.ImageUnpacked), float64(s.ImageCompressed)/float64(s.Wasm))
	}
	return tw.Flush()
}
