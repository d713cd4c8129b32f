package frame

import (
	"encoding/binary"
	"errors"
	"math"
)

// Version is the frame format version this package reads and writes.
const Version = 1

// HeaderLen is the size of a frame header: magic, version, kind, length.
const HeaderLen = 8

// Frame kinds, the fourth header byte.
const (
	KindRequest  byte = 'Q'
	KindResponse byte = 'R'
)

// Format maxima: what the length fields can carry.
const (
	maxString  = math.MaxUint16 // method, path, query, header name
	maxHeaders = math.MaxUint16
	maxPayload = math.MaxUint32
)

// Fixed payload overheads, before any header field.
const (
	requestFixed  = 2 + 2 + 2 + 2 // method, path, query lengths; header count
	responseFixed = 2 + 2         // status; header count
	headerFixed   = 2 + 4         // name length; value length
)

// Errors returned by the readers, wrapped with detail; match with errors.Is.
var (
	// ErrMalformed: the bytes are not a valid frame of the expected kind.
	ErrMalformed = errors.New("frame: malformed")
	// ErrTooLarge: the frame exceeds the reader's Limits, or a value
	// exceeds what the format can carry.
	ErrTooLarge = errors.New("frame: too large")
	// ErrVersion: the frame has the magic but a version this package does not speak.
	ErrVersion = errors.New("frame: unsupported version")
)

// Limits bounds what a reader accepts. A zero or negative field takes its
// DefaultLimits value.
type Limits struct {
	// MaxHeaders is the largest header count.
	MaxHeaders int
	// MaxMetaBytes bounds the sum of the lengths of method, path, query and
	// every header name and value.
	MaxMetaBytes int
	// MaxBodyBytes is the largest body.
	MaxBodyBytes int64
}

// Default limits.
const (
	DefaultMaxHeaders   = 256
	DefaultMaxMetaBytes = 1 << 20
	DefaultMaxBodyBytes = 32 << 20
)

// DefaultLimits returns the limits the SDK uses: 256 headers, 1 MiB of
// metadata, 32 MiB of body.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaders:   DefaultMaxHeaders,
		MaxMetaBytes: DefaultMaxMetaBytes,
		MaxBodyBytes: DefaultMaxBodyBytes,
	}
}

// norm replaces unset fields by defaults and clamps to the format maxima.
func (l Limits) norm() Limits {
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	l.MaxHeaders = min(l.MaxHeaders, maxHeaders)
	if l.MaxMetaBytes <= 0 {
		l.MaxMetaBytes = DefaultMaxMetaBytes
	}
	if uint64(l.MaxMetaBytes) > maxPayload { // only where int is 64 bits
		l.MaxMetaBytes = int(min(maxPayload, math.MaxInt))
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	l.MaxBodyBytes = min(l.MaxBodyBytes, maxPayload)
	return l
}

// maxPayloadLen is the largest payload of a frame of kind the limits allow.
func (l Limits) maxPayloadLen(kind byte) int64 {
	l = l.norm()
	fixed := int64(requestFixed)
	if kind == KindResponse {
		fixed = responseFixed
	}
	n := fixed + int64(l.MaxHeaders)*headerFixed + int64(l.MaxMetaBytes) + l.MaxBodyBytes
	return min(n, maxPayload)
}

// MaxFrameLen is the length of the largest frame of kind (KindRequest or
// KindResponse) a reader with these limits accepts, header included. A host
// buffering an instance's output can stop as soon as FrameLen reports more.
func (l Limits) MaxFrameLen(kind byte) int64 {
	return HeaderLen + l.maxPayloadLen(kind)
}

// putHeader writes a frame header for kind and payload length n into b[:HeaderLen].
func putHeader(b []byte, kind byte, n uint32) {
	b[0], b[1], b[2], b[3] = 'L', 'F', Version, kind
	binary.BigEndian.PutUint32(b[4:8], n)
}

// checkPrefix validates as much of a frame header as b holds. kind 0 accepts
// either kind.
func checkPrefix(b []byte, kind byte) error {
	if len(b) > 0 && b[0] != 'L' || len(b) > 1 && b[1] != 'F' {
		return newError(ErrMalformed, ": bad magic ", quote(b[:min(len(b), 2)]))
	}
	if len(b) > 2 && b[2] != Version {
		return newError(ErrVersion, ": version ", int(b[2]), ", want ", Version)
	}
	if len(b) > 3 {
		switch {
		case kind == 0 && (b[3] == KindRequest || b[3] == KindResponse):
		case kind != 0 && b[3] == kind:
		default:
			return newError(ErrMalformed, ": kind ", quote(b[3:4]))
		}
	}
	return nil
}

// FrameLen reports, from the first bytes of a buffer, the total length of
// the frame they start (header + payload), or ok=false if fewer than
// HeaderLen bytes are present. It fails early, with ErrMalformed or
// ErrVersion, as soon as the bytes present cannot start a frame of either
// kind. It does not know the reader's limits: compare n with
// Limits.MaxFrameLen before buffering that much.
func FrameLen(b []byte) (n int, ok bool, err error) {
	if err := checkPrefix(b, 0); err != nil {
		return 0, false, err
	}
	if len(b) < HeaderLen {
		return 0, false, nil
	}
	p := uint64(binary.BigEndian.Uint32(b[4:8]))
	if p > uint64(math.MaxInt-HeaderLen) { // only on 32-bit platforms
		return 0, false, newError(ErrTooLarge, ": payload of ", p, " bytes")
	}
	return HeaderLen + int(p), true, nil
}
