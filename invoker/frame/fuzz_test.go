package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
)

// fuzzLimits are small so the fuzzer reaches the limit checks.
var fuzzLimits = Limits{MaxHeaders: 8, MaxMetaBytes: 256, MaxBodyBytes: 1024}

func seedFrames(f *testing.F, frames ...[]byte) {
	for _, b := range frames {
		f.Add(b)
		if len(b) > 0 {
			f.Add(b[:len(b)-1])
		}
	}
	f.Add([]byte{})
	f.Add([]byte("LF\x01"))
	f.Add([]byte("LF\x02Q\x00\x00\x00\x00"))
	f.Add([]byte("LF\x01Q\xff\xff\xff\xff"))
}

func FuzzDecodeRequest(f *testing.F) {
	var seeds [][]byte
	for _, tc := range requests[:4] {
		b, err := AppendRequest(nil, &tc.req)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	seedFrames(f, seeds...)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b, fuzzLimits)
		checkReadAgrees(t, b, err, func(r io.Reader) error {
			_, err := ReadRequest(r, fuzzLimits)
			return err
		})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error outside the sentinels: %v", err)
			}
			return
		}
		if len(req.Header) > fuzzLimits.MaxHeaders || int64(len(req.Body)) > fuzzLimits.MaxBodyBytes {
			t.Fatalf("decoded past the limits: %d headers, %d body bytes", len(req.Header), len(req.Body))
		}
		// Whatever decodes re-encodes to the very same bytes.
		again, err := AppendRequest(nil, req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded frame differs:\n%q\n%q", again, b)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	var seeds [][]byte
	for _, tc := range responses[:2] {
		b, err := AppendResponse(nil, &tc.resp)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	b, err := AppendResponse(nil, &invoker.Response{Status: 200, Header: []invoker.Header{{Name: "A", Value: "b"}, {Name: "C", Value: "d"}}, Body: []byte("x")})
	if err != nil {
		f.Fatal(err)
	}
	seedFrames(f, append(seeds, b)...)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := DecodeResponse(b, fuzzLimits)
		checkReadAgrees(t, b, err, func(r io.Reader) error {
			_, err := ReadResponse(r, fuzzLimits)
			return err
		})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error outside the sentinels: %v", err)
			}
			return
		}
		if len(resp.Header) > fuzzLimits.MaxHeaders || int64(len(resp.Body)) > fuzzLimits.MaxBodyBytes {
			t.Fatalf("decoded past the limits: %d headers, %d body bytes", len(resp.Header), len(resp.Body))
		}
		again, err := AppendResponse(nil, resp)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded frame differs:\n%q\n%q", again, b)
		}
	})
}

// checkReadAgrees asserts that the stream reader accepts exactly the inputs
// that Decode accepts, when the input is one whole frame as FrameLen sees it.
func checkReadAgrees(t *testing.T, b []byte, decErr error, read func(io.Reader) error) {
	t.Helper()
	n, ok, flErr := FrameLen(b)
	if !ok || flErr != nil || n != len(b) {
		return
	}
	rErr := read(bytes.NewReader(b))
	if (rErr == nil) != (decErr == nil) {
		t.Fatalf("Read: %v, Decode: %v", rErr, decErr)
	}
}
