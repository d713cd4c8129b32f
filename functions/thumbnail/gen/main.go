// Command gen writes the thumbnail function's default input, image.jpg
// (or the file named by its argument): a 720x480 JPEG (quality 90) of gradients, rings and a
// checkerboard, drawn from formulas so it is the same on every run. Run it
// with `go generate` in functions/thumbnail.
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
)

// Width and Height are the paper's test image size.
const (
	Width  = 720
	Height = 480
)

func main() {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for y := range Height {
		for x := range Width {
			img.Set(x, y, pixel(x, y))
		}
	}
	out := "image.jpg"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	f, err := os.Create(out)
	if err == nil {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// pixel is a sky-to-ground gradient with a ringed sun and a checkered floor.
func pixel(x, y int) color.RGBA {
	fx, fy := float64(x)/Width, float64(y)/Height
	c := color.RGBA{R: uint8(60 + 120*fy), G: uint8(120 + 80*fx), B: uint8(230 - 150*fy), A: 255}
	if d := math.Hypot(float64(x-520), float64(y-140)); d < 90 {
		ring := uint8(200 + 55*math.Cos(d/6))
		c = color.RGBA{R: 255, G: ring, B: 40, A: 255}
	}
	if y > 320 && ((x/40)+(y-320)/40)%2 == 0 {
		c.R, c.G, c.B = c.R/3, c.G/3, c.B/3
	}
	return c
}
