package sdk

import (
	"bufio"
	"errors"
	"io"

	"github.com/lumos-edge/lumos/invoker/frame"
)

// Buffer sizes of the loop: stdin is read through a reused reader; each
// request's payload is read into a reused buffer (the Request's Body is the
// handler's only until it returns); each response frame is built in a
// reused buffer and written in one Write. Reusing them keeps a guest from
// allocating, and collecting, every payload anew: echo of 1 MiB on
// wasm-interp took 9-13 ms with a fresh buffer per call (a GC of the
// guest's heap every call or two) against 1.1 ms at 256 KiB.
const (
	loopReadBuffer = 64 << 10
	// keepBuffer: a request or response buffer grown past this is dropped
	// after use, so one huge payload does not pin its memory for the
	// instance's life.
	keepBuffer = 4 << 20
)

// serveLoop serves request frames until stdin ends.
func serveLoop(h Handler, stdin io.Reader, stdout, stderr io.Writer) int {
	br := bufio.NewReaderSize(stdin, loopReadBuffer)
	lim := frame.DefaultLimits()
	var buf, in []byte
	for {
		req, next, err := frame.ReadRequestInto(br, lim, in)
		if errors.Is(err, io.EOF) {
			return ExitOK
		}
		if err != nil {
			logError(stderr, "read request", err)
			if errors.Is(err, frame.ErrMalformed) || errors.Is(err, frame.ErrTooLarge) || errors.Is(err, frame.ErrVersion) {
				return ExitProtocol
			}
			return ExitIO
		}
		resp := call(h, req, stderr)
		buf, err = frame.AppendResponse(buf[:0], resp)
		if err != nil {
			// The handler's response cannot be framed (a header with CR or
			// LF, a status past 999): say so instead of breaking the stream.
			logError(stderr, "bad response", err)
			if buf, err = frame.AppendResponse(buf[:0], Text(500, "invalid response: "+err.Error()+"\n")); err != nil {
				logError(stderr, "encode error response", err)
				return ExitIO
			}
		}
		if _, err := stdout.Write(buf); err != nil {
			logError(stderr, "write response", err)
			return ExitIO
		}
		if cap(buf) > keepBuffer {
			buf = nil
		}
		if in = next; cap(in) > keepBuffer {
			in = nil
		}
	}
}
