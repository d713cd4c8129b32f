package wasm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

// TestInstrumentedModuleCache checks that the rewrite is stored beside the
// compilation cache, reused by a new Runtime, and rewritten when corrupt.
func TestInstrumentedModuleCache(t *testing.T) {
	dir := t.TempDir()
	spec := specOf("cached", invoker.ABILoop, loopWasm)
	echo := func(r *Runtime) {
		t.Helper()
		inst := instance(t, load(t, r, spec), nil)
		if _, err := inst.Invoke(t.Context(), helloReq, nil); err != nil {
			t.Fatal(err)
		}
	}
	echo(newTestRuntime(t, Config{Engine: Compiler, CacheDir: dir}))
	files, err := filepath.Glob(filepath.Join(dir, instrumentedDir, "*.wasm"))
	if err != nil || len(files) != 1 {
		t.Fatalf("instrumented files: %v %v", files, err)
	}
	stored, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}

	// Corrupt one byte of the stored rewrite: a new Runtime must not use it.
	bad := bytes.Clone(stored)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(files[0], bad, 0o600); err != nil {
		t.Fatal(err)
	}
	echo(newTestRuntime(t, Config{Engine: Compiler, CacheDir: dir}))
	again, err := os.ReadFile(files[0])
	if err != nil || !bytes.Equal(again, stored) {
		t.Fatalf("the corrupt rewrite was not replaced by a good one (err %v)", err)
	}
}
