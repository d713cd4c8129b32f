package profiler

import "net/http"

// outcome classifies an invocation for the metrics' outcome label and the
// server span's error.type. It is derived from the status the gateway
// answered, which the gateway maps from the error in one place.
type outcome uint8

const (
	outcomeSuccess       outcome = iota // the function answered (whatever its own status)
	outcomeClientError                  // the request was refused: 4xx other than 429
	outcomeQueueFull                    // 429: every instance busy and the queue full or timed out
	outcomeFunctionError                // 502: the function trapped, exited, broke the ABI, ran out of memory
	outcomeUnavailable                  // 503: runtime unavailable or gateway shutting down
	outcomeTimeout                      // 504: past its deadline
	outcomeInternalError                // any other 5xx from the gateway
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"success", "client_error", "queue_full", "function_error", "unavailable", "timeout", "internal_error",
}

func (o outcome) String() string { return outcomeNames[o] }

// serverError reports whether the outcome is an error of the server span
// (HTTP semantic conventions: 5xx are, 4xx are the client's).
func (o outcome) serverError() bool { return o >= outcomeFunctionError }

// classify returns the outcome of an invocation answered with status after
// err (nil when the function answered).
func classify(status int, err error) outcome {
	if err == nil {
		return outcomeSuccess
	}
	switch {
	case status == http.StatusTooManyRequests:
		return outcomeQueueFull
	case status < 500:
		return outcomeClientError
	case status == http.StatusBadGateway:
		return outcomeFunctionError
	case status == http.StatusServiceUnavailable:
		return outcomeUnavailable
	case status == http.StatusGatewayTimeout:
		return outcomeTimeout
	}
	return outcomeInternalError
}
