package functions

import (
	"errors"
	"fmt"
)

// Workload describes how to drive one function of the workload suite
// (Suite) at a given input size and how to check its answers, for the
// benchmark tool and the tests. Inputs and Verify hold no state and are
// safe for concurrent use.
type Workload struct {
	// Name is the function's name in Suite.
	Name string
	// Inputs returns the request for an input of about size bytes, the
	// paper's 1 KB to 2 MB sweep: a query string (without "?") and a body
	// for a POST. Functions whose input is a number (fib, prime, nbody,
	// mandelbrot, audio) scale the work or the output with size instead;
	// see the function's Workloads entry. The same size gives the same
	// request.
	Inputs func(size int) (query string, body []byte)
	// Verify checks the body of a 200 response to the request Inputs made:
	// it recomputes the answer, or decodes it and checks its structure and
	// values, independently of the function's code. A nil error means the
	// answer is right.
	Verify func(query string, body, response []byte) error
}

// ErrWrongAnswer wraps every error Verify returns.
var ErrWrongAnswer = errors.New("functions: wrong answer")

// wrong returns an ErrWrongAnswer with a formatted reason.
func wrong(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWrongAnswer, fmt.Sprintf(format, args...))
}

// Workloads returns the workload of every Suite function, in Suite's order,
// in a new slice.
func Workloads() []Workload {
	return []Workload{
		helloWorkload(), fibWorkload(), primeWorkload(), nbodyWorkload(),
		mandelbrotWorkload(), audioWorkload(), thumbnailWorkload(), fuzzyWorkload(),
		langdetectWorkload(), aesWorkload(), jsonWorkload(), gzipWorkload(),
	}
}

// WorkloadOf returns the workload of the suite function name. The C
// functions (CFunctions) answer like the Go ones: c-fib has fib's workload
// and c-prime prime's.
func WorkloadOf(name string) (Workload, bool) {
	base := name
	for _, c := range CFunctions() {
		if c.Name == name {
			base = name[len("c-"):]
		}
	}
	for _, w := range Workloads() {
		if w.Name == base {
			w.Name = name
			return w, true
		}
	}
	return Workload{}, false
}
