package main

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func encodePNG(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestThumbnail(t *testing.T) {
	red := encodePNG(t, 100, 50, color.RGBA{R: 250, G: 10, B: 10, A: 255})
	tests := []struct {
		name   string
		req    sdk.Request
		status int
		w, h   int    // on 200
		msg    string // otherwise
	}{
		{"default image, json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"scale_factor": 0.5}`)}, 200, 360, 240, ""},
		{"default image, query", sdk.Request{Method: "GET", Path: "/", Query: "scale_factor=0.1"}, 200, 72, 48, ""},
		{"default image, upscale", sdk.Request{Method: "GET", Path: "/", Query: "scale_factor=1.5"}, 200, 1080, 720, ""},
		{"png body", sdk.Request{Method: "POST", Path: "/", Query: "scale_factor=0.25", Body: red}, 200, 25, 13, ""},
		{"tiny scale keeps 1 pixel", sdk.Request{Method: "POST", Path: "/", Query: "scale_factor=0.0001", Body: red}, 200, 1, 1, ""},
		{"missing scale", sdk.Request{Method: "GET", Path: "/"}, 400, 0, 0, "give the scale"},
		{"missing scale with image", sdk.Request{Method: "POST", Path: "/", Body: red}, 400, 0, 0, "give the scale"},
		{"zero", sdk.Request{Method: "GET", Path: "/", Query: "scale_factor=0"}, 400, 0, 0, "not a number in (0, 4]"},
		{"too big", sdk.Request{Method: "GET", Path: "/", Query: "scale_factor=5"}, 400, 0, 0, "not a number in (0, 4]"},
		{"not a number", sdk.Request{Method: "GET", Path: "/", Query: "scale_factor=half"}, 400, 0, 0, "not a number"},
		{"text body", sdk.Request{Method: "POST", Path: "/", Query: "scale_factor=0.5", Body: []byte("hello")}, 400, 0, 0, "neither a JPEG or PNG image nor JSON"},
		{"output too large", sdk.Request{Method: "POST", Path: "/", Query: "scale_factor=4", Body: encodePNG(t, 1200, 1000, color.White)}, 400, 0, 0, "output of 4800x4000 pixels is larger than 16000000"},
		{"truncated jpeg", sdk.Request{Method: "POST", Path: "/", Query: "scale_factor=0.5", Body: testImage[:200]}, 400, 0, 0, "not a JPEG or PNG image"},
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
				if ct := sdktest.Get(r.Header, "Content-Type"); ct != "image/jpeg" {
					t.Fatalf("content type %q", ct)
				}
				img, err := jpeg.Decode(bytes.NewReader(r.Body))
				if err != nil {
					t.Fatalf("answer is not a JPEG: %v", err)
				}
				if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
					t.Fatalf("answer is %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
				}
				if tc.req.Body != nil && bytes.Equal(tc.req.Body, red) {
					cr, cg, cb, _ := img.At(tc.w/2, tc.h/2).RGBA()
					if cr>>8 < 200 || cg>>8 > 60 || cb>>8 > 60 {
						t.Fatalf("centre pixel %d,%d,%d, want red", cr>>8, cg>>8, cb>>8)
					}
				}
			}
		})
	}
}

// TestDefaultImage checks the committed image is what ./gen draws.
func TestDefaultImage(t *testing.T) {
	img, err := jpeg.Decode(bytes.NewReader(testImage))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 720 || b.Dy() != 480 {
		t.Fatalf("test image is %dx%d, want 720x480", b.Dx(), b.Dy())
	}
	// The sun's centre is bright yellow-orange, the top-left sky blue.
	if r, _, b, _ := img.At(520, 140).RGBA(); r>>8 < 230 || b>>8 > 90 {
		t.Errorf("sun pixel r=%d b=%d", r>>8, b>>8)
	}
	if r, _, b, _ := img.At(5, 5).RGBA(); b>>8 < 200 || r>>8 > 100 {
		t.Errorf("sky pixel r=%d b=%d", r>>8, b>>8)
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "thumbnail", handle) }

// FuzzHandle feeds arbitrary bodies and queries: every answer is a 200 or a
// 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	f.Add("scale_factor=0.5", []byte(nil))
	f.Add("scale_factor=0.1", testImage[:1000])
	f.Add("", []byte(`{"scale_factor": 0.05}`))
	f.Add("scale_factor=1", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00"))
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
