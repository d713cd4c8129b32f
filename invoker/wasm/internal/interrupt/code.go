package interrupt

import (
	"fmt"
)

// Immediate kinds of one-byte opcodes: how many and which operands follow.
const (
	immInvalid  = iota // not an opcode Instrument knows: reject the module
	immNone            // no immediate
	immBlock           // block type (block, if, legacy try)
	immLoop            // block type, then the loop header where a check goes
	immTryTable        // block type and catch clauses
	immEnd             // end: closes a block or the expression
	immDelegate        // legacy delegate: label, closes a try block
	immU32             // one u32 (labels, locals, globals, tables, tags, types)
	immU32x2           // two u32 (call_indirect, return_call_indirect)
	immBrTable         // vector of labels and a default label
	immFunc            // function index (call, return_call, ref.func): renumbered
	immSelectT         // vector of value types
	immMemarg          // memory argument
	immI32             // signed LEB128, 32 bits
	immI64             // signed LEB128, 64 bits
	immF32             // 4 bytes
	immF64             // 8 bytes
	immHeapType        // ref.null heap type (s33)
	immPrefixFC        // saturating truncation, bulk memory, tables
	immPrefixFD        // SIMD
	immPrefixFE        // threads (atomics)
)

// opImm maps each one-byte opcode to its immediate kind.
var opImm = func() (t [256]uint8) {
	set := func(kind uint8, ops ...byte) {
		for _, op := range ops {
			t[op] = kind
		}
	}
	set(immNone, 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd4)
	for op := 0x45; op <= 0xc4; op++ { // numeric instructions and sign extension
		t[op] = immNone
	}
	set(immBlock, 0x02, 0x04, 0x06)
	set(immLoop, 0x03)
	set(immTryTable, 0x1f)
	set(immEnd, 0x0b)
	set(immDelegate, 0x18)
	// br, br_if, throw, catch, rethrow, call_ref, return_call_ref, local.*,
	// global.*, table.get/set, memory.size/grow, br_on_null, br_on_non_null.
	set(immU32, 0x0c, 0x0d, 0x08, 0x07, 0x09, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
		0x3f, 0x40, 0xd5, 0xd6)
	set(immU32x2, 0x11, 0x13)
	set(immBrTable, 0x0e)
	set(immFunc, 0x10, 0x12, 0xd2)
	set(immSelectT, 0x1c)
	for op := 0x28; op <= 0x3e; op++ { // loads and stores
		t[op] = immMemarg
	}
	set(immI32, 0x41)
	set(immI64, 0x42)
	set(immF32, 0x43)
	set(immF64, 0x44)
	set(immHeapType, 0xd0)
	set(immPrefixFC, 0xfc)
	set(immPrefixFD, 0xfd)
	set(immPrefixFE, 0xfe)
	return t
}()

// SIMD (0xFD) sub-opcode immediates.
const (
	simdInvalid = iota
	simdNone
	simdMemarg
	simdMemargLane
	simdLane
	simd16Bytes
)

var simdImm = func() (t [256]uint8) {
	for op := range t {
		t[op] = simdNone
	}
	for _, op := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6,
		0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		t[op] = simdInvalid // gaps in the SIMD opcode space
	}
	for op := 0x00; op <= 0x0b; op++ {
		t[op] = simdMemarg
	}
	t[0x5c], t[0x5d] = simdMemarg, simdMemarg
	t[0x0c], t[0x0d] = simd16Bytes, simd16Bytes
	for op := 0x15; op <= 0x22; op++ {
		t[op] = simdLane
	}
	for op := 0x54; op <= 0x5b; op++ {
		t[op] = simdMemargLane
	}
	return t
}()

// rewriter holds what renumbering and instrumentation need to know.
type rewriter struct {
	importedFuncs uint32 // function imports of the input; the index of the yield import
	mode          checkMode
	check         []byte // the check sequence, see checkSequence
	loops         int    // loop headers instrumented
	entries       int    // function entries instrumented
}

// checkMode selects the check Instrument inserts.
type checkMode int

const (
	// checkBudget decrements the budget global and calls yield when it drops
	// to zero or below. The guest needs nobody to raise a flag: see
	// RATIONALE.md for why a flag cannot work.
	checkBudget checkMode = iota
	// checkFlag only tests the global and calls yield when it is non-zero.
	// Kept for benchmarks (the cost of the cheapest possible check).
	checkFlag
)

// checkSequence returns the instructions inserted at each check point.
func checkSequence(mode checkMode, global, yield uint32) []byte {
	var b []byte
	if mode == checkBudget {
		b = append(b, 0x23) // global.get $budget
		b = appendU32(b, global)
		b = append(b, 0x41, 0x7f, 0x6a, 0x24) // i32.const -1; i32.add; global.set $budget
		b = appendU32(b, global)
		b = append(b, 0x23) // global.get $budget (wazevo reuses the value it just stored)
		b = appendU32(b, global)
		b = append(b, 0x41, 0x00, 0x4c) // i32.const 0; i32.le_s
	} else {
		b = append(b, 0x23) // global.get $flag
		b = appendU32(b, global)
	}
	b = append(b, 0x04, 0x40, 0x10) // if (empty); call $yield
	b = appendU32(b, yield)
	return append(b, 0x0b) // end
}

// fn renumbers a function index of the input module.
func (w *rewriter) fn(idx uint32) uint32 {
	if idx >= w.importedFuncs {
		return idx + 1
	}
	return idx
}

// valType skips one value type (including typed references).
func valType(r *reader) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		return nil
	case 0x63, 0x64:
		_, err := r.signed(5)
		return err
	default:
		return fmt.Errorf("unknown value type %#x", c)
	}
}

// blockType skips a block type: empty, a value type or a type index (s33).
func blockType(r *reader) error {
	v, err := r.signed(5)
	if err != nil {
		return err
	}
	if v == -29 || v == -28 { // (ref null ht), (ref ht)
		_, err = r.signed(5)
	}
	return err
}

// memarg skips a memory argument: alignment (with the multi-memory bit), an
// optional memory index and an offset (u64 for memory64).
func memarg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return r.skipUnsigned(10)
}

// expr copies one expression from r to out up to and including the end that
// closes it, renumbering function indexes. With instrument set it inserts the
// check after every loop header.
func (w *rewriter) expr(r *reader, out []byte, instrument bool) ([]byte, error) {
	depth := 0
	for {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch opImm[op] {
		case immNone:
		case immEnd:
			if depth == 0 {
				return append(out, op), nil
			}
			depth--
		case immBlock:
			err = blockType(r)
			depth++
		case immLoop:
			if err = blockType(r); err != nil {
				break
			}
			depth++
			out = append(out, r.b[start:r.off]...)
			if instrument {
				out = append(out, w.check...)
				w.loops++
			}
			continue
		case immTryTable:
			err = w.tryTable(r)
			depth++
		case immDelegate:
			if depth == 0 {
				return nil, fmt.Errorf("delegate outside a try block at offset %d", start)
			}
			_, err = r.u32()
			depth--
		case immU32:
			_, err = r.u32()
		case immU32x2:
			if _, err = r.u32(); err == nil {
				_, err = r.u32()
			}
		case immBrTable:
			var n uint32
			if n, err = r.count(); err == nil {
				for i := uint64(0); i <= uint64(n) && err == nil; i++ {
					_, err = r.u32()
				}
			}
		case immFunc:
			var idx uint32
			if idx, err = r.u32(); err != nil {
				break
			}
			out = append(out, op)
			out = appendU32(out, w.fn(idx))
			continue
		case immSelectT:
			var n uint32
			if n, err = r.count(); err == nil {
				for i := uint32(0); i < n && err == nil; i++ {
					err = valType(r)
				}
			}
		case immMemarg:
			err = memarg(r)
		case immI32:
			_, err = r.signed(5)
		case immI64:
			_, err = r.signed(10)
		case immF32:
			_, err = r.bytes(4)
		case immF64:
			_, err = r.bytes(8)
		case immHeapType:
			_, err = r.signed(5)
		case immPrefixFC:
			err = prefixFC(r)
		case immPrefixFD:
			err = prefixFD(r)
		case immPrefixFE:
			err = prefixFE(r)
		default:
			return nil, fmt.Errorf("unsupported opcode %#x at offset %d", op, start)
		}
		if err != nil {
			return nil, fmt.Errorf("opcode %#x at offset %d: %w", op, start, err)
		}
		out = append(out, r.b[start:r.off]...)
	}
}

func (w *rewriter) tryTable(r *reader) error {
	if err := blockType(r); err != nil {
		return err
	}
	n, err := r.count()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01: // catch, catch_ref: tag and label
			if _, err := r.u32(); err != nil {
				return err
			}
		case 0x02, 0x03: // catch_all, catch_all_ref: label
		default:
			return fmt.Errorf("unknown catch clause kind %#x", kind)
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// prefixFC skips a 0xFC instruction's sub-opcode and immediates.
func prefixFC(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	var n int
	switch {
	case sub <= 7: // saturating truncation
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		n = 2
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		n = 1
	default:
		return fmt.Errorf("unsupported 0xfc sub-opcode %d", sub)
	}
	for ; n > 0; n-- {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// prefixFD skips a SIMD instruction's sub-opcode and immediates.
func prefixFD(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	kind := uint8(simdInvalid)
	if sub < 256 {
		kind = simdImm[sub]
	}
	switch kind {
	case simdNone:
		return nil
	case simdMemarg:
		return memarg(r)
	case simdMemargLane:
		if err := memarg(r); err != nil {
			return err
		}
		_, err = r.byte()
		return err
	case simdLane:
		_, err = r.byte()
		return err
	case simd16Bytes:
		_, err = r.bytes(16)
		return err
	default:
		return fmt.Errorf("unsupported 0xfd sub-opcode %d", sub)
	}
}

// prefixFE skips an atomic instruction's sub-opcode and immediates.
func prefixFE(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 2, sub >= 0x10 && sub <= 0x4e:
		return memarg(r)
	case sub == 3: // atomic.fence
		_, err = r.byte()
		return err
	default:
		return fmt.Errorf("unsupported 0xfe sub-opcode %d", sub)
	}
}

// code rewrites the code section: every body gets the entry check (unless it
// starts with a loop, whose header check covers the entry) and loop checks.
// All bodies' sizes and local declarations are checked before any body is
// decoded, so that a later body cannot hide an implausible count.
func (w *rewriter) code(payload []byte) ([]byte, error) {
	r := &reader{b: payload}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("body %d: %w", i, err)
		}
		raw, err := r.bytes(uint64(size))
		if err != nil {
			return nil, fmt.Errorf("body %d: %w", i, err)
		}
		if _, err := locals(&reader{b: raw}); err != nil {
			return nil, fmt.Errorf("body %d: %w", i, err)
		}
		bodies = append(bodies, raw)
	}
	if !r.done() {
		return nil, fmt.Errorf("%d trailing bytes after %d bodies", len(r.b)-r.off, n)
	}
	out := make([]byte, 0, len(payload)+len(payload)/8+64)
	out = appendU32(out, n)
	var body []byte
	for i, raw := range bodies {
		if body, err = w.body(raw, body[:0]); err != nil {
			return nil, fmt.Errorf("body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

// locals skips a body's local declarations, bounding their total.
func locals(r *reader) (int, error) {
	groups, err := r.count()
	if err != nil {
		return 0, fmt.Errorf("locals: %w", err)
	}
	var total uint64
	for i := uint32(0); i < groups; i++ {
		n, err := r.u32()
		if err != nil {
			return 0, fmt.Errorf("locals: %w", err)
		}
		if total += uint64(n); total > maxLocals {
			return 0, fmt.Errorf("locals: %w: more than %d locals", errImplausible, maxLocals)
		}
		if err := valType(r); err != nil {
			return 0, fmt.Errorf("locals: %w", err)
		}
	}
	return r.off, nil
}

// body rewrites one function body into out.
func (w *rewriter) body(raw, out []byte) ([]byte, error) {
	r := &reader{b: raw}
	end, err := locals(r)
	if err != nil {
		return nil, err
	}
	out = append(out, raw[:end]...)
	if r.done() || raw[r.off] != 0x03 {
		out = append(out, w.check...)
		w.entries++
	}
	if out, err = w.expr(r, out, true); err != nil {
		return nil, err
	}
	if !r.done() {
		return nil, fmt.Errorf("%d trailing bytes after the body's end", len(r.b)-r.off)
	}
	return out, nil
}
