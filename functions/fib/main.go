// Command fib computes the n-th Fibonacci number by naive recursion: the
// CPU-bound workload of the Lumos paper, used to compare runtime speed. n
// comes from the query (?n=20) or from a JSON body {"number": 20}, the
// paper's input; the query wins when both are present. It answers
// {"number": n, "result": fib(n)}, or 400 when n is missing, not an integer
// or outside [0, 50]. fib(50) takes minutes on purpose: timeout tests use it.
package main

import (
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxN bounds n: fib(50) = 12586269025 still fits comfortably in an int.
const maxN = 50

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	n, err := sdk.IntParam(r, "n", "number", 0, maxN, `give n as ?n=20 or as a JSON body {"number": 20}`)
	if err != nil {
		return nil, err
	}
	body := make([]byte, 0, 48)
	body = append(body, `{"number":`...)
	body = strconv.AppendInt(body, int64(n), 10)
	body = append(body, `,"result":`...)
	body = strconv.AppendInt(body, int64(fib(n)), 10)
	body = append(body, "}\n"...)
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   body,
	}, nil
}

// fib is deliberately the naive exponential recursion.
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}
