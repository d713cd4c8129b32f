package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/lumos-edge/lumos/invoker"
)

// Section ids of the WebAssembly binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank orders the known sections as the binary format requires.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// ErrNameClash is wrapped by Instrument's error when the module already
// imports lumos.yield or exports lumos.interrupt.
var ErrNameClash = errors.New("interrupt: module already uses a reserved name")

type section struct {
	id      byte
	name    string // custom sections only
	payload []byte
}

// Instrument rewrites a WebAssembly binary so that it calls the host's
// lumos.yield every so often, at a cost the guest pays itself (see the
// package doc):
//
//   - it imports one more function, lumos.yield of type () -> (), after the
//     existing imports, shifting every defined function's index by one (calls,
//     return calls, ref.func, element segments, exports, the start function
//     and the name section are renumbered);
//   - it defines one more mutable i32 global, the budget, exported as
//     lumos.interrupt;
//   - at every function entry (skipped when the body starts with a loop) and
//     right after every loop's block type it inserts
//     "budget -= 1; if budget <= 0 { call yield }".
//
// Every other byte of code is copied unchanged. DWARF custom sections
// (".debug_*") are dropped since code offsets move. The input is not
// modified. Input that Instrument cannot decode yields an error wrapping
// invoker.ErrInvalidArtifact (and ErrNameClash for reserved names); it never
// panics. Instrument does not fully validate: compile the result as usual.
func Instrument(wasm []byte) ([]byte, error) {
	out, err := instrument(wasm, checkBudget)
	if err != nil {
		return nil, fmt.Errorf("interrupt: instrument module: %w: %w", err, invoker.ErrInvalidArtifact)
	}
	return out, nil
}

func instrument(wasm []byte, mode checkMode) ([]byte, error) {
	// Errors do not stop the checks of later sections: an implausible count
	// anywhere must be reported (errImplausible) in preference to any other
	// error, because a caller may hand a rejected module to wazero anyway.
	var firstErr error
	note := func(err error) {
		if err != nil && (firstErr == nil || errors.Is(err, errImplausible) && !errors.Is(firstErr, errImplausible)) {
			firstErr = err
		}
	}
	secs, err := splitSections(wasm, note)
	if err != nil {
		note(err)
		if secs == nil {
			return nil, firstErr
		}
	}
	var (
		numTypes, importedFuncs, importedGlobals, definedGlobals uint32
	)
	for _, s := range secs {
		var err error
		switch s.id {
		case secType:
			numTypes, err = countTypes(s.payload)
		case secImport:
			importedFuncs, importedGlobals, err = countImports(s.payload)
		case secGlobal:
			definedGlobals, err = (&reader{b: s.payload}).count()
		}
		if err != nil {
			note(fmt.Errorf("section %d: %w", s.id, err))
		}
	}
	flagIdx := importedGlobals + definedGlobals
	w := &rewriter{importedFuncs: importedFuncs, mode: mode}
	w.check = checkSequence(mode, flagIdx, importedFuncs)

	// Sections that must exist in the output, created empty when missing.
	need := map[byte]bool{secType: true, secImport: true, secGlobal: true, secExport: true}
	for _, s := range secs {
		delete(need, s.id)
	}
	out := make([]byte, 0, len(wasm)+len(wasm)/8+128)
	out = append(out, wasmHeader...)
	emitMissing := func(beforeRank int) error {
		for _, id := range []byte{secType, secImport, secGlobal, secExport} {
			if need[id] && sectionRank[id] < beforeRank {
				delete(need, id)
				p, err := w.section(section{id: id, payload: []byte{0}}, numTypes, flagIdx)
				if err != nil {
					return err
				}
				out = appendSection(out, id, p)
			}
		}
		return nil
	}
	// Rewrite every section before assembling: the code section last, so
	// that the cheap checks of all other sections (implausible counts that
	// would make wazero's decoder allocate gigabytes) run first.
	payloads := make([][]byte, len(secs))
	for _, pass := range []bool{false, true} {
		for i, s := range secs {
			if (s.id == secCode) != pass {
				continue
			}
			p, err := w.section(s, numTypes, flagIdx)
			if err != nil {
				note(fmt.Errorf("section %d: %w", s.id, err))
			}
			payloads[i] = p
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	for i, s := range secs {
		if s.id != secCustom {
			if err := emitMissing(sectionRank[s.id]); err != nil {
				return nil, err
			}
		}
		p := payloads[i]
		if p == nil {
			continue // dropped
		}
		if s.id == secCustom {
			// Re-encode name and payload together: the name is part of the payload.
			var c []byte
			c = appendName(c, s.name)
			c = append(c, p...)
			out = appendSection(out, secCustom, c)
			continue
		}
		out = appendSection(out, s.id, p)
	}
	if err := emitMissing(1 << 30); err != nil {
		return nil, err
	}
	return out, nil
}

// splitSections checks the header and splits the binary into sections. It
// reports unknown ids, duplicates and misordering through note and goes on
// (so that later sections still get their plausibility checks); it stops
// with an error only when the section framing itself is broken.
func splitSections(wasm []byte, note func(error)) ([]section, error) {
	if len(wasm) < len(wasmHeader) || !bytes.Equal(wasm[:4], wasmHeader[:4]) {
		return nil, errors.New("not a WebAssembly binary (bad magic)")
	}
	if !bytes.Equal(wasm[4:8], wasmHeader[4:]) {
		return nil, fmt.Errorf("unsupported binary version % x (only core modules, version 1)", wasm[4:8])
	}
	r := &reader{b: wasm, off: len(wasmHeader)}
	secs := []section{}
	last := 0
	for !r.done() {
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return secs, fmt.Errorf("section %d size: %w", id, err)
		}
		payload, err := r.bytes(uint64(size))
		if err != nil {
			// Truncated: still check what is there (wazero decodes it too),
			// then stop.
			note(fmt.Errorf("section %d: %w", id, err))
			payload = r.b[r.off:]
			r.off = len(r.b)
		}
		s := section{id: id, payload: payload}
		if id == secCustom {
			pr := &reader{b: payload}
			name, err := pr.name()
			if err != nil {
				return secs, fmt.Errorf("custom section name: %w", err)
			}
			s.name, s.payload = string(name), payload[pr.off:]
		} else {
			rank, ok := sectionRank[id]
			if !ok {
				note(fmt.Errorf("unknown section id %d", id))
				continue
			}
			if rank <= last {
				note(fmt.Errorf("section %d duplicated or out of order", id))
				continue
			}
			last = rank
		}
		secs = append(secs, s)
	}
	return secs, nil
}

// countTypes counts the type indexes the type section defines: function
// types, alone or in recursive groups (0x4e), the only forms wazero accepts.
func countTypes(p []byte) (uint32, error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return 0, err
	}
	var types uint64
	for i := uint32(0); i < n; i++ {
		members := uint32(1)
		if !r.done() && r.b[r.off] == 0x4e { // rec group
			r.off++
			if members, err = r.count(); err != nil {
				return 0, err
			}
		}
		for k := uint32(0); k < members; k++ {
			if err := funcType(r); err != nil {
				return 0, fmt.Errorf("type entry %d: %w", i, err)
			}
			types++
		}
	}
	if !r.done() {
		return 0, errors.New("trailing bytes in type section")
	}
	if types >= 1<<32-1 {
		return 0, errors.New("too many types")
	}
	return uint32(types), nil
}

// funcType skips one function type.
func funcType(r *reader) error {
	form, err := r.byte()
	if err != nil {
		return err
	}
	if form != 0x60 {
		return fmt.Errorf("unsupported type form %#x", form)
	}
	for vec := 0; vec < 2; vec++ {
		m, err := r.count()
		if err != nil {
			return err
		}
		for j := uint32(0); j < m; j++ {
			if err := valType(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// limits skips table or memory limits.
func limits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 0x07 {
		return fmt.Errorf("unknown limits flags %#x", flags)
	}
	if err := r.skipUnsigned(10); err != nil {
		return err
	}
	if flags&1 != 0 {
		return r.skipUnsigned(10)
	}
	return nil
}

// countImports counts imported functions and globals and rejects a clash
// with the yield import.
func countImports(p []byte) (funcs, globals uint32, err error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return 0, 0, err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return 0, 0, err
		}
		field, err := r.name()
		if err != nil {
			return 0, 0, err
		}
		if string(mod) == ImportModule && string(field) == ImportName {
			return 0, 0, fmt.Errorf("%w: import %s.%s", ErrNameClash, ImportModule, ImportName)
		}
		kind, err := r.byte()
		if err != nil {
			return 0, 0, err
		}
		switch kind {
		case 0x00: // function
			funcs++
			_, err = r.u32()
		case 0x01: // table
			if err = valType(r); err == nil {
				err = limits(r)
			}
		case 0x02: // memory
			err = limits(r)
		case 0x03: // global
			globals++
			if err = valType(r); err == nil {
				_, err = r.byte()
			}
		case 0x04: // tag
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			err = fmt.Errorf("unknown import kind %#x", kind)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("import %d: %w", i, err)
		}
	}
	if !r.done() {
		return 0, 0, errors.New("trailing bytes in import section")
	}
	return funcs, globals, nil
}

// section returns the rewritten payload of s, or nil to drop it.
func (w *rewriter) section(s section, numTypes, flagIdx uint32) ([]byte, error) {
	switch s.id {
	case secCustom:
		switch {
		case s.name == "name":
			if p, err := w.names(s.payload); err == nil {
				return p, nil
			}
			return nil, nil // a malformed name section is optional: drop it
		case strings.HasPrefix(s.name, ".debug_"):
			return nil, nil // DWARF refers to code offsets that moved
		}
		return s.payload, nil
	case secType:
		r := &reader{b: s.payload}
		n, _ := r.u32() // entries (a rec group is one entry); validated by countTypes
		out := appendU32(nil, n+1)
		out = append(out, s.payload[r.off:]...)
		return append(out, 0x60, 0x00, 0x00), nil
	case secImport:
		r := &reader{b: s.payload}
		n, _ := r.u32() // validated by countImports
		out := appendU32(nil, n+1)
		out = append(out, s.payload[r.off:]...)
		out = appendName(out, ImportModule)
		out = appendName(out, ImportName)
		out = append(out, 0x00)
		return appendU32(out, numTypes), nil
	case secGlobal:
		return w.globals(s.payload)
	case secExport:
		return w.exports(s.payload, flagIdx)
	case secStart:
		r := &reader{b: s.payload}
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if !r.done() {
			return nil, errors.New("trailing bytes in start section")
		}
		return appendU32(nil, w.fn(idx)), nil
	case secTable:
		return w.tables(s.payload)
	case secElement:
		return w.elements(s.payload)
	case secCode:
		return w.code(s.payload)
	case secFunction, secMemory, secTag:
		if _, err := (&reader{b: s.payload}).count(); err != nil {
			return nil, err
		}
	case secData:
		if err := w.checkData(s.payload); err != nil {
			return nil, err
		}
	}
	return s.payload, nil
}

// checkData checks the data section's counts and sizes; it is copied as is.
func (w *rewriter) checkData(p []byte) error {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		flags, err := r.u32()
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
		switch flags {
		case 0, 2:
			if flags == 2 {
				if _, err := r.u32(); err != nil {
					return fmt.Errorf("data segment %d: %w", i, err)
				}
			}
			if _, err := w.expr(r, nil, false); err != nil {
				return fmt.Errorf("data segment %d offset: %w", i, err)
			}
		case 1:
		default:
			return fmt.Errorf("data segment %d: unknown flags %d", i, flags)
		}
		if _, err := r.name(); err != nil { // size-prefixed bytes, size checked
			return fmt.Errorf("data segment %d: %w", i, err)
		}
	}
	if !r.done() {
		return errors.New("trailing bytes in data section")
	}
	return nil
}

// globals renumbers ref.func in global initializers and appends the flag.
func (w *rewriter) globals(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	for i := uint32(0); i < n; i++ {
		start := r.off
		if err := valType(r); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
		if _, err := r.byte(); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
		out = append(out, p[start:r.off]...)
		if out, err = w.expr(r, out, false); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in global section")
	}
	// (global (mut i32) (i32.const initialBudget)), or 0 for a flag.
	out = append(out, 0x7f, 0x01, 0x41)
	if w.mode == checkBudget {
		out = appendS32(out, initialBudget)
	} else {
		out = append(out, 0x00)
	}
	return append(out, 0x0b), nil
}

// exports renumbers function exports, rejects a clash with the flag's name
// and appends the flag's export.
func (w *rewriter) exports(p []byte, flagIdx uint32) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		if string(name) == FlagExport {
			return nil, fmt.Errorf("%w: export %q", ErrNameClash, FlagExport)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		idx, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("export %d: %w", i, err)
		}
		if kind == 0x00 {
			idx = w.fn(idx)
		}
		out = appendName(out, string(name))
		out = append(out, kind)
		out = appendU32(out, idx)
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in export section")
	}
	out = appendName(out, FlagExport)
	out = append(out, 0x03)
	return appendU32(out, flagIdx), nil
}

// tables renumbers ref.func in table initializers (typed function references).
func (w *rewriter) tables(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		start := r.off
		withInit := !r.done() && r.b[r.off] == 0x40
		if withInit {
			r.off++
			if b, err := r.byte(); err != nil || b != 0x00 {
				return nil, fmt.Errorf("table %d: malformed initializer prefix", i)
			}
		}
		if err := valType(r); err != nil {
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
		if err := limits(r); err != nil {
			return nil, fmt.Errorf("table %d: %w", i, err)
		}
		out = append(out, p[start:r.off]...)
		if withInit {
			if out, err = w.expr(r, out, false); err != nil {
				return nil, fmt.Errorf("table %d: %w", i, err)
			}
		}
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in table section")
	}
	return out, nil
}

// elements renumbers function indexes in all eight element segment forms.
func (w *rewriter) elements(p []byte) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n; i++ {
		if out, err = w.element(r, out); err != nil {
			return nil, fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	if !r.done() {
		return nil, errors.New("trailing bytes in element section")
	}
	return out, nil
}

func (w *rewriter) element(r *reader, out []byte) ([]byte, error) {
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	if flags > 7 {
		return nil, fmt.Errorf("unknown flags %d", flags)
	}
	out = appendU32(out, flags)
	active, explicitTable, exprs := flags&1 == 0, flags&2 != 0, flags&4 != 0
	if active && explicitTable {
		start := r.off
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		out = append(out, r.b[start:r.off]...)
	}
	if active {
		if out, err = w.expr(r, out, false); err != nil {
			return nil, fmt.Errorf("offset: %w", err)
		}
	}
	if !active || explicitTable { // elemkind (byte) or reftype
		start := r.off
		if exprs {
			err = valType(r)
		} else {
			_, err = r.byte()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.b[start:r.off]...)
	}
	count, err := r.count()
	if err != nil {
		return nil, err
	}
	out = appendU32(out, count)
	for j := uint32(0); j < count; j++ {
		if exprs {
			out, err = w.expr(r, out, false)
		} else {
			var idx uint32
			if idx, err = r.u32(); err == nil {
				out = appendU32(out, w.fn(idx))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", j, err)
		}
	}
	return out, nil
}
