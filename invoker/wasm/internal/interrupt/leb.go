package interrupt

import (
	"errors"
	"fmt"
)

// errTruncated and errLEB describe malformed input; Instrument wraps them.
var (
	errTruncated = errors.New("unexpected end of input")
	errLEB       = errors.New("malformed LEB128")
	// errImplausible: a count or size larger than the bytes that could hold
	// it. wazero's decoder (v1.12.0) allocates from such counts before
	// reading, so a 10 KB upload can make CompileModule run the process out
	// of memory; Instrument rejects them first.
	errImplausible = errors.New("count or size exceeds the bytes left")
)

// maxLocals bounds the locals one function declares (the limit browsers
// enforce); wazero allocates a slice of that many before validating.
const maxLocals = 50_000

// reader walks a byte slice. Every method returns an error instead of
// panicking on malformed or truncated input.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.off) {
		return nil, errTruncated
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() (uint32, error) {
	var v uint64
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 0xffffffff {
				return 0, fmt.Errorf("%w: u32 overflow", errLEB)
			}
			return uint32(v), nil
		}
	}
	return 0, fmt.Errorf("%w: u32 longer than 5 bytes", errLEB)
}

// count reads a vector length and rejects one larger than the bytes left
// (every element takes at least one byte).
func (r *reader) count() (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return 0, fmt.Errorf("%w: %d elements in %d bytes", errImplausible, n, len(r.b)-r.off)
	}
	return n, nil
}

// signed reads a signed LEB128 of at most maxBytes bytes and returns its value
// sign-extended to 64 bits (exact for s33 and s32; s64 is only skipped).
func (r *reader) signed(maxBytes int) (int64, error) {
	var v int64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: signed value longer than %d bytes", errLEB, maxBytes)
}

// skipUnsigned skips an unsigned LEB128 of at most maxBytes bytes.
func (r *reader) skipUnsigned(maxBytes int) error {
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: value longer than %d bytes", errLEB, maxBytes)
}

// name reads a length-prefixed byte string.
func (r *reader) name() ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	return r.bytes(uint64(n))
}

// appendU32 appends v as a minimal unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// appendName appends a length-prefixed byte string.
func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// appendSection appends a section with its id and recomputed size.
func appendSection(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = appendU32(b, uint32(len(payload)))
	return append(b, payload...)
}

// appendS32 appends v as a minimal signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
