// Command thumbnail is the image-resize workload of the Lumos paper (the
// SeBS thumbnailer): it scales an image by scale_factor with bilinear
// interpolation and answers it as a JPEG (quality 85). The image is the
// request body (JPEG or PNG, with scale_factor in the query:
// ?scale_factor=0.5), or, when the body is JSON {"scale_factor": 0.5} or
// empty, the bundled 720x480 test image (image.jpg, drawn by ./gen). The
// output is round(w*f) x round(h*f), at least 1x1. It answers 400 when
// scale_factor is missing or not a number in (0, 4], the image cannot be
// decoded, or the input or the output would exceed 16 million pixels (64 MB
// of RGBA each: a Wasm instance's default memory limit is 128 MB).
//
//go:generate go run ./gen image.jpg
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"image"
	"image/jpeg"
	_ "image/png" // decode PNG bodies too
	"math"
	"net/url"
	"strconv"

	"golang.org/x/image/draw"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// testImage is the default input.
//
//go:embed image.jpg
var testImage []byte

// Limits of the input and output.
const (
	maxScale = 4
	// maxPixels bounds the decoded input and the output (4 bytes each).
	maxPixels = 16_000_000
	quality   = 85
)

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	scale, src, err := input(r)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, sdk.Errorf(400, "body is not a JPEG or PNG image: %v", err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, sdk.Errorf(400, "image of %dx%d pixels is larger than %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	w, h := side(cfg.Width, scale), side(cfg.Height, scale)
	if int64(w)*int64(h) > maxPixels {
		return nil, sdk.Errorf(400, "output of %dx%d pixels is larger than %d pixels", w, h, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, sdk.Errorf(400, "body is not a JPEG or PNG image: %v", err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err // writes to memory do not fail; a 500 if they do
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "image/jpeg"}},
		Body:   out.Bytes(),
	}, nil
}

// side scales n by f, rounding, at least 1.
func side(n int, f float64) int {
	return max(1, int(math.Round(float64(n)*f)))
}

// isImage reports whether b starts with a JPEG or PNG signature.
func isImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) || bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// input returns the scale factor and the encoded source image.
func input(r *sdk.Request) (float64, []byte, error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return 0, nil, sdk.Errorf(400, "bad query: %v", err)
	}
	src := testImage
	var raw string
	switch {
	case len(r.Body) > 0 && isImage(r.Body):
		src = r.Body
	case len(r.Body) > 0:
		var in struct {
			Scale *json.Number `json:"scale_factor"`
		}
		if err := json.Unmarshal(r.Body, &in); err != nil {
			return 0, nil, sdk.Errorf(400, "body is neither a JPEG or PNG image nor JSON: %v", err)
		}
		if in.Scale != nil {
			raw = in.Scale.String()
		}
	}
	if q.Has("scale_factor") {
		raw = q.Get("scale_factor")
	}
	if raw == "" {
		return 0, nil, sdk.Errorf(400, `give the scale as ?scale_factor=0.5 or as a JSON body {"scale_factor": 0.5}`)
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || !(f > 0 && f <= maxScale) {
		return 0, nil, sdk.Errorf(400, "scale_factor=%q is not a number in (0, %d]", raw, maxScale)
	}
	return f, src, nil
}
