package wasm

import (
	"strings"
	"testing"
)

func FuzzScanImports(f *testing.F) {
	f.Add(buildModule(importEntryBytes("env", "memory", 2, []byte{0, 1}), true))
	f.Add(buildModule(importEntryBytes("wasi_snapshot_preview1", "fd_write", 0, []byte{0x60, 0, 0}), true))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x05\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		imps, err := scanImports(b)
		if err != nil {
			return
		}
		for i, im := range imps {
			if im.kind != importFunc && i != len(imps)-1 {
				t.Fatalf("scan went past a non-function import: %v", imps)
			}
		}
	})
}

func TestScanImports(t *testing.T) {
	b := buildModule(importEntryBytes("env", "g", 3, []byte{0x7f, 0}), true)
	imps, err := scanImports(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(imps) != 1 || imps[0] != (importEntry{module: "env", name: "g", kind: importGlobal}) {
		t.Errorf("imports = %v", imps)
	}
	if _, err := scanImports([]byte("\x00asm\x01\x00\x00\x00\x02\x0a\x01\x03env")); err == nil {
		t.Error("truncated import section accepted")
	}
	if _, err := scanImports(append(b[:8:8], 2, 0x80, 0x80, 0x80, 0x80, 0x80)); err == nil {
		t.Error("overlong LEB128 accepted")
	}
}

func TestTailWriter(t *testing.T) {
	var w tailWriter
	big := strings.Repeat("a", stderrTail-10)
	w.Write([]byte("fatal error: out of "))
	w.Write([]byte("memory\n"))
	w.Write([]byte(big))
	w.Write([]byte("0123456789tail"))
	s := w.String()
	if len(s) != stderrTail || !strings.HasSuffix(s, "0123456789tail") {
		t.Errorf("tail of %d bytes ends %q", len(s), s[max(0, len(s)-20):])
	}
	if strings.Contains(s, "out of memory") || !w.sawOutOfMemory() {
		t.Errorf("out-of-memory message: in tail %v, seen %v", strings.Contains(s, "out of memory"), w.sawOutOfMemory())
	}
	var w2 tailWriter
	w2.Write([]byte(strings.Repeat("b", 3*stderrTail)))
	if w2.String() != strings.Repeat("b", stderrTail) || w2.sawOutOfMemory() {
		t.Error("one large write")
	}
}
