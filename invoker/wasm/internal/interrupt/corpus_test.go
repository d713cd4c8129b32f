package interrupt

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// allFeatures enables every feature wazero v1.12.0 supports.
const allFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// wazeroDir returns wazero's module directory in the module cache.
func wazeroDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Fatalf("locate wazero module: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestCorpusValidates instruments every .wasm shipped in wazero's module
// (the spec test suites of all features it supports, and its examples):
// whenever wazero compiles the original, it must compile the instrumented
// module too, and Instrument must never panic.
func TestCorpusValidates(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus walk is long; run without -short")
	}
	dir := wazeroDir(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures))
	defer r.Close(ctx)
	var valid, rejected, instrumentErr int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".wasm") {
			return err
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cm, err := r.CompileModule(ctx, bin)
		if err != nil {
			rejected++
			_, _ = Instrument(bin) // must not panic
			return nil
		}
		_ = cm.Close(ctx)
		valid++
		out, err := Instrument(bin)
		if err != nil {
			if errors.Is(err, ErrNameClash) {
				return nil
			}
			instrumentErr++
			t.Errorf("%s: wazero accepts it, Instrument rejects it: %v", path, err)
			return nil
		}
		cm2, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Errorf("%s: instrumented module does not compile: %v", path, err)
			return nil
		}
		_ = cm2.Close(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("valid %d (instrument errors %d), rejected by wazero %d", valid, instrumentErr, rejected)
	if valid < 100 {
		t.Fatalf("only %d valid modules found under %s", valid, dir)
	}
}
