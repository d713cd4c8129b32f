// Command fib computes the n-th Fibonacci number by naive recursion: the
// CPU-bound workload of the Lumos paper, used to compare runtime speed. n
// comes from the query (?n=20) or from a JSON body {"number": 20}, the
// paper's input; the query wins when both are present. It answers
// {"number": n, "result": fib(n)}, or 400 when n is missing, not an integer
// or outside [0, 50]. fib(50) takes minutes on purpose: timeout tests use it.
package main

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxN bounds n: fib(50) = 12586269025 still fits comfortably in an int.
const maxN = 50

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	n, err := input(r)
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

// input reads n from the query or the JSON body and checks its range.
func input(r *sdk.Request) (int, error) {
	var raw string
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return 0, sdk.Errorf(400, "bad query: %v", err)
	}
	switch {
	case q.Has("n"):
		raw = q.Get("n")
	case len(r.Body) > 0:
		var in struct {
			Number *json.Number `json:"number"`
		}
		if err := json.Unmarshal(r.Body, &in); err != nil {
			return 0, sdk.Errorf(400, "bad JSON body: %v", err)
		}
		if in.Number == nil {
			return 0, sdk.Errorf(400, `JSON body has no "number"`)
		}
		raw = in.Number.String()
	default:
		return 0, sdk.Errorf(400, `give n as ?n=20 or as a JSON body {"number": 20}`)
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, sdk.Errorf(400, "n=%q is not an integer", raw)
	}
	if n < 0 || n > maxN {
		return 0, sdk.Errorf(400, "n=%d is outside [0, %d]", n, maxN)
	}
	return n, nil
}

// fib is deliberately the naive exponential recursion.
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}
