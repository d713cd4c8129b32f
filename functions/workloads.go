package functions

// TEMPORARY (issue 6, helper "bench"): a stand-in for the workload suite that
// helper "suite" adds to this package with the same API. The lead replaces
// this file with suite's at merge; profiler/bench codes against Workload and
// Workloads only.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Workload is a bundled function as a benchmark drives it: inputs of a
// given size, and a check of the answer against the known result.
type Workload struct {
	// Name is the bundled function's name.
	Name string
	// Inputs returns the query string and body of a request of about size
	// bytes (workloads whose input does not scale ignore size).
	Inputs func(size int) (query string, body []byte)
	// Verify checks response, the body answered to query and body.
	Verify func(query string, body, response []byte) error
}

// Workloads returns the benchmark workloads, in a new slice.
func Workloads() []Workload {
	return []Workload{
		{Name: "hello", Inputs: noInput, Verify: verifyHello},
		{Name: "fib", Inputs: fibInput, Verify: verifyFib},
		{Name: "echo", Inputs: echoInput, Verify: verifyEcho},
		{Name: "json", Inputs: jsonInput, Verify: verifyJSON},
	}
}

func noInput(int) (string, []byte) { return "", nil }

func verifyHello(_ string, _, resp []byte) error {
	if string(resp) != "Hello, world!\n" {
		return fmt.Errorf("hello: answered %q", clip(resp))
	}
	return nil
}

// fibN is the fib workload's n: about a millisecond compiled.
const fibN = 20

func fibInput(int) (string, []byte) { return "n=" + strconv.Itoa(fibN), nil }

func verifyFib(query string, _, resp []byte) error {
	q, err := url.ParseQuery(query)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil {
		return fmt.Errorf("fib: query %q has no n", query)
	}
	var out struct {
		Number int   `json:"number"`
		Result int64 `json:"result"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return fmt.Errorf("fib: answer %q: %w", clip(resp), err)
	}
	a, b := int64(0), int64(1)
	for range n {
		a, b = b, a+b
	}
	if out.Number != n || out.Result != a {
		return fmt.Errorf("fib(%d): answered number %d result %d, want %d", n, out.Number, out.Result, a)
	}
	return nil
}

func echoInput(size int) (string, []byte) {
	body := make([]byte, size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return "", body
}

func verifyEcho(_ string, body, resp []byte) error {
	if !bytes.Equal(body, resp) {
		return fmt.Errorf("echo: sent %d bytes, answered %d different ones", len(body), len(resp))
	}
	return nil
}

// jsonStats are the counts the json function answers.
type jsonStats struct {
	Objects  int `json:"objects"`
	Arrays   int `json:"arrays"`
	Keys     int `json:"keys"`
	Strings  int `json:"strings"`
	Numbers  int `json:"numbers"`
	Bools    int `json:"bools"`
	Nulls    int `json:"nulls"`
	MaxDepth int `json:"max_depth"`
}

// jsonInput builds an array of records of about size bytes.
func jsonInput(size int) (string, []byte) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < size-80 || i == 0; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item-%d","tags":["a","b"],"ok":%t,"v":null}`, i, i, i%2 == 0)
	}
	b.WriteByte(']')
	return "", b.Bytes()
}

func verifyJSON(_ string, body, resp []byte) error {
	var in any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("json: input: %w", err)
	}
	var want jsonStats
	countJSON(in, 1, &want)
	var out struct {
		Stats  *jsonStats      `json:"stats"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return fmt.Errorf("json: answer %q: %w", clip(resp), err)
	}
	if out.Stats == nil {
		return errors.New("json: answer has no stats")
	}
	if *out.Stats != want {
		return fmt.Errorf("json: stats %+v, want %+v", *out.Stats, want)
	}
	return nil
}

func countJSON(v any, depth int, st *jsonStats) {
	st.MaxDepth = max(st.MaxDepth, depth)
	switch v := v.(type) {
	case map[string]any:
		st.Objects++
		st.Keys += len(v)
		for _, e := range v {
			countJSON(e, depth+1, st)
		}
	case []any:
		st.Arrays++
		for _, e := range v {
			countJSON(e, depth+1, st)
		}
	case string:
		st.Strings++
	case json.Number:
		st.Numbers++
	case bool:
		st.Bools++
	case nil:
		st.Nulls++
	}
}

// clip shortens an answer for an error message.
func clip(b []byte) string {
	s := string(b)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
