// Command json is the serialization workload: it decodes any JSON document
// from the body, uppercases every string value (object keys stay as they
// are), sorts object keys, counts what it saw and answers
//
//	{"stats": {"objects":…, "arrays":…, "keys":…, "strings":…, "numbers":…,
//	           "bools":…, "nulls":…, "max_depth":…}, "result": <document>}
//
// Numbers keep their exact text. A body that is empty, not JSON or followed
// by more than white space is a 400. Duplicate keys collapse to the last one.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func main() { sdk.Serve(handle) }

// stats counts the values of a document.
type stats struct {
	Objects  int `json:"objects"`
	Arrays   int `json:"arrays"`
	Keys     int `json:"keys"`
	Strings  int `json:"strings"`
	Numbers  int `json:"numbers"`
	Bools    int `json:"bools"`
	Nulls    int `json:"nulls"`
	MaxDepth int `json:"max_depth"`
}

type output struct {
	Stats  stats `json:"stats"`
	Result any   `json:"result"`
}

func handle(r *sdk.Request) (*sdk.Response, error) {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sdk.Errorf(400, "empty body: want a JSON document")
		}
		return nil, sdk.Errorf(400, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, sdk.Errorf(400, "invalid JSON: data after the document")
	}
	out := output{}
	out.Result = transform(doc, 1, &out.Stats)
	var buf bytes.Buffer
	buf.Grow(len(r.Body) + 128)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err // cannot happen for decoded values; 500 if it does
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   buf.Bytes(),
	}, nil
}

// transform uppercases string values in place and counts into st. Object
// keys are sorted by the encoder (maps encode in key order).
func transform(v any, depth int, st *stats) any {
	st.MaxDepth = max(st.MaxDepth, depth)
	switch v := v.(type) {
	case map[string]any:
		st.Objects++
		st.Keys += len(v)
		for k, e := range v {
			v[k] = transform(e, depth+1, st)
		}
		return v
	case []any:
		st.Arrays++
		for i, e := range v {
			v[i] = transform(e, depth+1, st)
		}
		return v
	case string:
		st.Strings++
		return strings.ToUpper(v)
	case json.Number:
		st.Numbers++
	case bool:
		st.Bools++
	case nil:
		st.Nulls++
	}
	return v
}
