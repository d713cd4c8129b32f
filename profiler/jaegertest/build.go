package jaegertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// toolDir is the module, relative to the repository root, that pins the
// Jaeger version. It has a go.mod of its own: Jaeger requires an older
// OpenTelemetry than Lumos, so the two cannot share a build list.
const toolDir = "tools/jaeger"

// mainPkg is the package of Jaeger's binary.
const mainPkg = "github.com/jaegertracing/jaeger/cmd/jaeger"

// errNoBuild wraps every reason the binary could not be had: Go missing,
// the module proxy unreachable, a build failure. Start skips the test on it,
// or fails it under CI=true.
var errNoBuild = errors.New("jaegertest: cannot build Jaeger")

// Binary returns the path of the Jaeger binary pinned by tools/jaeger/go.mod,
// building it the first time into the user's cache directory
// (lumos/jaeger-VERSION/jaeger under os.UserCacheDir). A file lock keeps
// concurrent test binaries from building it twice; a cold build takes a few
// minutes and about 2 GB of memory.
func Binary() (string, error) {
	mod, err := toolModule()
	if err != nil {
		return "", err
	}
	version, err := pinnedVersion(filepath.Join(mod, "go.mod"))
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoBuild, err)
	}
	dir := filepath.Join(cache, "lumos", "jaeger-"+version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", errNoBuild, err)
	}
	bin := filepath.Join(dir, "jaeger")
	if isExecutable(bin) {
		return bin, nil
	}

	unlock, err := lockFile(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoBuild, err)
	}
	defer unlock()
	if isExecutable(bin) { // built by another process while this one waited
		return bin, nil
	}
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-C", mod, "-o", tmp, mainPkg)
	cmd.Env = append(os.Environ(), "GOWORK=off") // the tool module stands alone
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%w: go build -C %s %s: %v\n%s", errNoBuild, mod, mainPkg, err, tail(out))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("%w: %v", errNoBuild, err)
	}
	return bin, nil
}

// toolModule finds tools/jaeger in the working directory or one of its
// parents (tests run in their package's directory inside the repository).
func toolModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod := filepath.Join(dir, toolDir)
		if _, err := os.Stat(filepath.Join(mod, "go.mod")); err == nil {
			return mod, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("jaegertest: no %s/go.mod above the working directory", toolDir)
		}
		dir = parent
	}
}

// pinnedVersion reads the version of Jaeger's module required by the
// go.mod at path.
func pinnedVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	const modPath = "github.com/jaegertracing/jaeger "
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if rest, ok := strings.CutPrefix(line, modPath); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0], nil
			}
		}
	}
	return "", fmt.Errorf("jaegertest: %s does not require github.com/jaegertracing/jaeger", path)
}

// lockFile takes an exclusive lock on path, waiting for it, and returns
// the function that releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// tail returns the last 4 KiB of b.
func tail(b []byte) string {
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
