package frame

import (
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

var benchRequest = invoker.Request{
	Method: "POST",
	Path:   "/",
	Query:  "n=20",
	Header: []invoker.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "User-Agent", Value: "wrk"},
		{Name: "Accept", Value: "*/*"},
	},
	Body: []byte(`{"number": 20}`),
}

// BenchmarkRequestRoundTrip encodes a small request into a reused buffer and decodes it.
func BenchmarkRequestRoundTrip(b *testing.B) {
	lim := DefaultLimits()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			var err error
			buf, err = AppendRequest(buf[:0], &benchRequest)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeRequest(buf, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}
