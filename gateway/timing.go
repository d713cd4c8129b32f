package gateway

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/invoker"
)

// Per-invocation timing for callers that ask for it: a caller sending
// "X-Lumos-Timing: 1" gets a W3C Server-Timing header with the invocation's
// phases, in milliseconds, taken from the gateway's own record:
//
//	Server-Timing: queue;dur=0.012, cold;dur=3.100, execute;dur=0.210, io;dur=0.050, gateway;dur=0.030
//
// queue is the wait for a busy pool, cold the sum of the cold-start phases,
// execute the function's run, io the request written into and the response
// read out of the instance (serialization across the ABI), and gateway the
// rest of the time in the gateway. Entries appear only for phases that
// happened; gateway always does. It is opt-in so that the hot path pays one
// header lookup, and nothing else, when it is absent.
const (
	headerTimingOptIn  = "X-Lumos-Timing"
	headerServerTiming = "Server-Timing"
)

// Server-Timing metric names.
const (
	timingQueue   = "queue"
	timingCold    = "cold"
	timingExecute = "execute"
	timingIO      = "io"
	timingGateway = "gateway"
)

// wantsTiming reports whether the request opted in to Server-Timing.
func wantsTiming(h *fasthttp.RequestHeader) bool {
	v := h.Peek(headerTimingOptIn)
	return len(v) == 1 && v[0] == '1'
}

// setServerTiming sets the Server-Timing header from tl and the
// invocation's total time in the gateway.
func setServerTiming(h *fasthttp.ResponseHeader, tl *invoker.Timeline, total time.Duration) {
	var buf [160]byte
	h.SetBytesV(headerServerTiming, appendServerTiming(buf[:0], tl, total))
}

// appendServerTiming appends the Server-Timing value of tl to dst.
func appendServerTiming(dst []byte, tl *invoker.Timeline, total time.Duration) []byte {
	var queue, cold, execute, io time.Duration
	var seenQueue, seenCold, seenExecute, seenIO bool
	for _, p := range tl.Phases() {
		switch p.Name {
		case invoker.PhaseQueueWait:
			queue += p.Duration
			seenQueue = true
		case invoker.PhaseExecute:
			execute += p.Duration
			seenExecute = true
		case invoker.PhaseRequestWrite, invoker.PhaseResponseRead:
			io += p.Duration
			seenIO = true
		default: // every other phase is a step of a cold start
			cold += p.Duration
			seenCold = true
		}
	}
	first := true
	entry := func(dst []byte, name string, d time.Duration) []byte {
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = append(dst, name...)
		dst = append(dst, ";dur="...)
		return strconv.AppendFloat(dst, float64(max(d, 0))/float64(time.Millisecond), 'f', 3, 64)
	}
	if seenQueue {
		dst = entry(dst, timingQueue, queue)
	}
	if seenCold {
		dst = entry(dst, timingCold, cold)
	}
	if seenExecute {
		dst = entry(dst, timingExecute, execute)
	}
	if seenIO {
		dst = entry(dst, timingIO, io)
	}
	return entry(dst, timingGateway, total-queue-cold-execute-io)
}
