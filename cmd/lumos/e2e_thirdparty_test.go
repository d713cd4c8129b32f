package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestThirdPartyModules serves WASI programs built by other toolchains (the
// cat examples of wazero's testdata: Rust, Zig, Zig-cc, TinyGo) through HTTP.
// Each prints the files named in its arguments, so the deployment grants a
// read-only directory and names a file in it.
func TestThirdPartyModules(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)
	dir := t.TempDir()
	const content = "served by a third-party WASI program\n"
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mods := map[string]string{
		"rust":   "imports/wasi_snapshot_preview1/example/testdata/cargo-wasi/cat.wasm",
		"zig":    "imports/wasi_snapshot_preview1/example/testdata/zig/cat.wasm",
		"zigcc":  "imports/wasi_snapshot_preview1/example/testdata/zig-cc/cat.wasm",
		"tinygo": "imports/wasi_snapshot_preview1/example/testdata/tinygo/cat.wasm",
	}
	for lang, rel := range mods {
		mod := thirdPartyModule(t, rel)
		for _, rt := range []string{"wasm-aot", "wasm-interp"} {
			name := "cat-" + lang + "-" + strings.TrimPrefix(rt, "wasm-")
			t.Run(name, func(t *testing.T) {
				mustDeploy(t, c, name, mod, map[string]string{
					"lumos.runtime": rt, "lumos.abi": "cgi",
					"lumos.args": `["note.txt"]`, "lumos.mounts": dir + ":/",
				}, nil)
				for range 2 {
					if a := invoke(t, srv, name, "", nil); a.status != 200 || string(a.body) != content {
						t.Fatalf("%d %q, want 200 %q", a.status, a.body, content)
					}
				}
			})
		}
	}
	err := deploy(t, c, "cat-nodir", thirdPartyModule(t, mods["zig"]), "",
		map[string]string{"lumos.abi": "cgi", "lumos.mounts": "/no/such/dir:/"}, nil)
	wantAPIError(t, err, 400, "bad_request")
}
