// Package frame is the wire format of the Lumos "loop" ABI: a function
// instance serves many requests in sequence, the host writing one request
// frame to the instance's stdin and the instance answering with one response
// frame on its stdout.
//
// # Frame (version 1)
//
// Every frame is an 8-byte header followed by a payload:
//
//	offset size  field
//	0      2     magic "LF"
//	2      1     version, 1
//	3      1     kind: 'Q' request (host -> instance), 'R' response (instance -> host)
//	4      4     payload length, uint32 big-endian
//	8      n     payload
//
// All integers are unsigned big-endian. A reader that sees the magic but
// another version fails with ErrVersion; a future version may change
// everything after the version byte.
//
// # Request payload
//
//	u16 len + method      an HTTP token ("GET"), not empty
//	u16 len + path        "/" when the URL has no path after the function name
//	u16 len + query       raw query string without '?'
//	u16 header count
//	count times:
//	  u16 len + name      an HTTP token, not empty
//	  u32 len + value     no CR, LF or NUL
//	body                  the rest of the payload
//
// # Response payload
//
//	u16 status            100..999
//	u16 header count, headers as in a request
//	body                  the rest of the payload
//
// Header order and repetition are preserved. The body has no length field of
// its own: it is whatever follows the headers, so a frame carries it without
// a second copy or framing.
//
// # Limits
//
// Readers enforce a Limits (DefaultLimits: 256 headers, 1 MiB of metadata,
// 32 MiB of body). The payload length is checked against the largest payload
// the limits allow before anything is allocated for it, so a length field
// can never make a reader allocate more than the limits. Past a limit,
// readers fail with ErrTooLarge; a frame that does not parse fails with
// ErrMalformed. Writers check only what the format itself can carry (a
// 65,535-byte method, path, query or header name; 65,535 headers; a 4 GiB
// payload) and the same token and character rules the readers check, so every
// frame this package writes is one it reads back.
//
// # Why this shape
//
//   - One length up front lets a host that sees only a guest's stdout writes
//     (a Wasm module's fd_write calls, no reader goroutine) know when a
//     response is complete, and lets a reader allocate the payload once.
//   - The kind byte catches crossed streams (a request echoed back, an
//     instance that prints text): FrameLen fails on the first bad byte.
//   - The body has no length of its own: it is the rest of the payload, so
//     neither side computes or copies it twice.
//   - Header names must be HTTP tokens and values free of CR, LF and NUL on
//     both sides: a function cannot smuggle a second header or response into
//     what the gateway writes, and the SDK rejects such a response itself,
//     with a 500, instead of breaking the stream.
//   - Readers allocate little: all of a message's strings are substrings of
//     one string, and ReadRequest's body is a slice of the payload it read
//     (the Decode functions copy the body once, so the result never aliases
//     the caller's buffer).
//
// # Streams
//
// ReadRequest and ReadResponse return io.EOF only when the stream ends
// cleanly between frames; a stream that ends inside a frame is ErrMalformed
// (also matching io.ErrUnexpectedEOF). A host that collects an instance's
// stdout in a buffer, with no reader goroutine, calls FrameLen to learn when
// a whole frame has arrived and then DecodeResponse on exactly that frame.
package frame
