// Command gzip is the compression workload of FunctionBench: it gzips the
// request body (default level) and answers the gzip stream with
// Content-Type application/gzip and the headers X-Original-Bytes,
// X-Compressed-Bytes and X-Compression-Ratio (original / compressed, three
// decimals). With ?size=N, or a body that is exactly a JSON object
// {"size": N}, it compresses N bytes of text generated deterministically
// instead (see generate). It answers 400 when there is nothing to compress
// or size is not an integer in [1, 16777216].
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxSize bounds generated text.
const maxSize = 16 << 20

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	data, err := input(r)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(data)/3 + 64)
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(data); err != nil {
		return nil, err // writes to memory do not fail; a 500 if they do
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	ratio := float64(len(data)) / float64(out.Len())
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{
			{Name: "Content-Type", Value: "application/gzip"},
			{Name: "X-Original-Bytes", Value: strconv.Itoa(len(data))},
			{Name: "X-Compressed-Bytes", Value: strconv.Itoa(out.Len())},
			{Name: "X-Compression-Ratio", Value: strconv.FormatFloat(ratio, 'f', 3, 64)},
		},
		Body: out.Bytes(),
	}, nil
}

// input returns the bytes to compress.
func input(r *sdk.Request) ([]byte, error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return nil, sdk.Errorf(400, "bad query: %v", err)
	}
	raw, generated := q.Get("size"), q.Has("size")
	if !generated && len(r.Body) > 0 && r.Body[0] == '{' {
		var in map[string]json.Number
		if json.Unmarshal(r.Body, &in) == nil && len(in) == 1 {
			if n, ok := in["size"]; ok {
				raw, generated = n.String(), true
			}
		}
	}
	if generated {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxSize {
			return nil, sdk.Errorf(400, "size=%q is not an integer in [1, %d]", raw, maxSize)
		}
		return generate(n), nil
	}
	if len(r.Body) == 0 {
		return nil, sdk.Errorf(400, `nothing to compress: give a body, ?size=N or a JSON body {"size": N}`)
	}
	return r.Body, nil
}

// words is what generate draws from.
var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do
eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud
exercitation ullamco laboris nisi aliquip ex ea commodo consequat serverless edge cloud wasm`)

// generate returns n bytes of words picked by a fixed xorshift generator,
// with a line number every ten words, cut at exactly n bytes: text that
// compresses about 3:1, like prose.
func generate(n int) []byte {
	b := make([]byte, 0, n+32)
	x := uint64(0x2545F4914F6CDD1D)
	for i := 0; len(b) < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if i%10 == 0 {
			b = strconv.AppendInt(b, int64(i/10), 10)
			b = append(b, ' ')
		}
		b = append(b, words[x%uint64(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}
