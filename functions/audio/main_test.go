package main

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestAudio(t *testing.T) {
	tests := []struct {
		name    string
		req     sdk.Request
		status  int
		samples int     // on 200
		freq    float64 // on 200
		msg     string  // otherwise
	}{
		{"json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"audio_size": 1}`)}, 200, 512, 440, ""},
		{"query", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=64&frequency=1000"}, 200, 32768, 1000, ""},
		{"json frequency", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"audio_size": 2, "frequency": 441}`)}, 200, 1024, 441, ""},
		{"query wins", sdk.Request{Method: "POST", Path: "/", Query: "audio_size=3", Body: []byte(`{"audio_size": 1}`)}, 200, 1536, 440, ""},
		{"missing", sdk.Request{Method: "GET", Path: "/"}, 400, 0, 0, "give the size"},
		{"zero", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=0"}, 400, 0, 0, "outside [1, 16384]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=16385"}, 400, 0, 0, "outside"},
		{"not a number", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=lots"}, 400, 0, 0, "not an integer"},
		{"bad frequency", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=1&frequency=30000"}, 400, 0, 0, "frequency"},
		{"nan frequency", sdk.Request{Method: "GET", Path: "/", Query: "audio_size=1&frequency=NaN"}, 400, 0, 0, "frequency"},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{`)}, 400, 0, 0, "bad JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, run := range []func(sdk.Handler, *sdk.Request) (sdktest.Result, error){
				func(h sdk.Handler, r *sdk.Request) (sdktest.Result, error) { return sdktest.Loop(h, r) },
				sdktest.CGI,
			} {
				res, err := run(handle, &tc.req)
				if err != nil {
					t.Fatal(err)
				}
				r := res.Responses[0]
				if r.Status != tc.status {
					t.Fatalf("status %d %q, want %d", r.Status, r.Body, tc.status)
				}
				if tc.status != 200 {
					if !strings.Contains(string(r.Body), tc.msg) {
						t.Fatalf("body %q, want it to hold %q", r.Body, tc.msg)
					}
					continue
				}
				if sdktest.Get(r.Header, "Content-Type") != "audio/wav" {
					t.Fatalf("content type %q", sdktest.Get(r.Header, "Content-Type"))
				}
				checkWAV(t, r.Body, tc.samples, tc.freq)
			}
		})
	}
}

// checkWAV parses the header field by field and checks the samples
// against the sine they should hold.
func checkWAV(t *testing.T, b []byte, samples int, freq float64) {
	t.Helper()
	le := binary.LittleEndian
	if len(b) != 44+2*samples {
		t.Fatalf("%d bytes, want %d", len(b), 44+2*samples)
	}
	if string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("chunk ids %q %q %q", b[0:4], b[8:16], b[36:40])
	}
	fields := []struct {
		name      string
		got, want uint32
	}{
		{"riff size", le.Uint32(b[4:]), uint32(36 + 2*samples)},
		{"fmt size", le.Uint32(b[16:]), 16},
		{"format", uint32(le.Uint16(b[20:])), 1},
		{"channels", uint32(le.Uint16(b[22:])), 1},
		{"sample rate", le.Uint32(b[24:]), 44100},
		{"byte rate", le.Uint32(b[28:]), 88200},
		{"block align", uint32(le.Uint16(b[32:])), 2},
		{"bits", uint32(le.Uint16(b[34:])), 16},
		{"data size", le.Uint32(b[40:]), uint32(2 * samples)},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %d, want %d", f.name, f.got, f.want)
		}
	}
	// Count rising zero crossings: one per period.
	var crossings int
	prev := int16(le.Uint16(b[44:]))
	peak := int16(0)
	for i := 1; i < samples; i++ {
		s := int16(le.Uint16(b[44+2*i:]))
		if prev < 0 && s >= 0 {
			crossings++
		}
		peak = max(peak, s)
		prev = s
	}
	want := freq * float64(samples-1) / 44100
	if math.Abs(float64(crossings)-want) > 1.01 {
		t.Errorf("%d rising zero crossings, want about %.1f", crossings, want)
	}
	if samples > 200 && (peak < 16300 || peak > 16383) {
		t.Errorf("peak %d, want about 16383", peak)
	}
	if s := int16(le.Uint16(b[44:])); s != 0 {
		t.Errorf("first sample %d, want 0", s)
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "audio", handle) }

// FuzzHandle feeds arbitrary queries and bodies: every answer is a 200 or
// a 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	for _, s := range []struct {
		query string
		body  []byte
	}{{"", []byte(`{"audio_size": 1}`)}, {"audio_size=2&frequency=1000", nil}, {"", []byte(`{"audio_size": 1, "frequency": "x"}`)}} {
		f.Add(s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		res, err := sdktest.Loop(handle, &sdk.Request{Method: "POST", Path: "/", Query: query, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if st := res.Responses[0].Status; st != 200 && st != 400 {
			t.Fatalf("status %d %q", st, res.Responses[0].Body)
		}
	})
}
