package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"

	"github.com/lumos-edge/lumos/invoker"
)

// wasmMagic is the preamble of a WebAssembly 1.0 binary.
var wasmMagic = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

// checkMagic rejects input that is not a WebAssembly binary at all, before
// any heavier work.
func checkMagic(b []byte) error {
	if len(b) < len(wasmMagic) || !bytes.Equal(b[:4], wasmMagic[:4]) {
		return fmt.Errorf("not WebAssembly (no \\0asm preamble): %w", invoker.ErrInvalidArtifact)
	}
	if !bytes.Equal(b[4:8], wasmMagic[4:]) {
		return fmt.Errorf("unsupported WebAssembly version % x: %w", b[4:8], invoker.ErrInvalidArtifact)
	}
	return nil
}

// Import kinds of the binary format.
const (
	importFunc   = 0
	importTable  = 1
	importMemory = 2
	importGlobal = 3
)

var importKindNames = [...]string{"function", "table", "memory", "global"}

// importEntry is one entry of a module's import section.
type importEntry struct {
	module, name string
	kind         byte
}

var errShort = errors.New("unexpected end of module")

// scanImports lists the imports of a WebAssembly binary up to the first
// import that is not a function (wazero's CompiledModule reports imported
// functions and memories, not tables or globals). It stops at the first
// section after the import section.
func scanImports(b []byte) ([]importEntry, error) {
	if err := checkMagic(b); err != nil {
		return nil, err
	}
	r := reader{b: b[len(wasmMagic):]}
	for !r.done() {
		id := r.byte()
		size := r.u32()
		sec := r.bytes(size)
		if r.err != nil {
			return nil, r.err
		}
		switch {
		case id == 0: // custom section
			continue
		case id < 2:
			continue
		case id > 2:
			return nil, nil
		}
		s := reader{b: sec}
		n := s.u32()
		var out []importEntry
		for i := uint32(0); i < n && s.err == nil; i++ {
			e := importEntry{module: string(s.bytes(s.u32())), name: string(s.bytes(s.u32())), kind: s.byte()}
			if s.err != nil {
				break
			}
			out = append(out, e)
			if e.kind != importFunc {
				return out, nil
			}
			s.u32() // type index
		}
		return out, s.err
	}
	return nil, nil
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("LEB128 too long")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// validateModule checks that a compiled module needs only what the host
// provides: WASI and interrupt functions with matching signatures, no
// imported memory, table or global, and a _start command entry point.
func (e *engine) validateModule(bin []byte, cm wazero.CompiledModule) error {
	imps, err := scanImports(bin)
	if err != nil {
		return fmt.Errorf("imports: %w: %w", err, invoker.ErrInvalidArtifact)
	}
	for _, im := range imps {
		if im.kind != importFunc {
			kind := fmt.Sprintf("kind %d", im.kind)
			if int(im.kind) < len(importKindNames) {
				kind = importKindNames[im.kind]
			}
			return fmt.Errorf("imports %s %s.%s: the host provides no imported %ss: %w",
				kind, im.module, im.name, kind, invoker.ErrInvalidArtifact)
		}
	}
	if mems := cm.ImportedMemories(); len(mems) > 0 {
		m, n, _ := mems[0].Import()
		return fmt.Errorf("imports memory %s.%s: the host provides no memory: %w", m, n, invoker.ErrInvalidArtifact)
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		funcs, ok := e.host[mod]
		if !ok {
			return fmt.Errorf("imports %s.%s: the host provides no module %q: %w", mod, name, mod, invoker.ErrInvalidArtifact)
		}
		h, ok := funcs[name]
		if !ok {
			return fmt.Errorf("imports %s.%s: module %q has no function %q: %w", mod, name, mod, name, invoker.ErrInvalidArtifact)
		}
		if !slices.Equal(h.ParamTypes(), f.ParamTypes()) || !slices.Equal(h.ResultTypes(), f.ResultTypes()) {
			return fmt.Errorf("imports %s.%s with signature %v -> %v, host has %v -> %v: %w", mod, name,
				f.ParamTypes(), f.ResultTypes(), h.ParamTypes(), h.ResultTypes(), invoker.ErrInvalidArtifact)
		}
	}
	start, ok := cm.ExportedFunctions()["_start"]
	if !ok {
		return fmt.Errorf("exports no _start function (not a WASI command): %w", invoker.ErrInvalidArtifact)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("_start has signature %v -> %v, want () -> (): %w",
			start.ParamTypes(), start.ResultTypes(), invoker.ErrInvalidArtifact)
	}
	return nil
}
