// Command mandelbrot is the Mandelbrot-bitmap workload of the Lumos paper,
// as the Computer Language Benchmarks Game defines it: an image_size x
// image_size bitmap of the plane [-1.5, 0.5] x [-1, 1], a pixel set when
// the point stays within |z| <= 2 for 50 iterations. The size comes from
// the query (?image_size=200) or a JSON body {"image_size": 200}, the
// paper's input; the query wins. It answers a binary PBM (P4) image,
// "P4\n<w> <h>\n" then rows of bits, most significant first, each row
// padded to a whole byte; or 400 when the size is missing, not an integer
// or outside [1, 16384].
package main

import (
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxSize bounds the image to 32 MiB of bits, the frame's body limit.
const maxSize = 16384

// maxIter is the Benchmarks Game's iteration count.
const maxIter = 50

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	n, err := sdk.IntParam(r, "image_size", "image_size", 1, maxSize, `give the size as ?image_size=200 or as a JSON body {"image_size": 200}`)
	if err != nil {
		return nil, err
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "image/x-portable-bitmap"}},
		Body:   render(n),
	}, nil
}

// render returns the P4 image of size n.
func render(n int) []byte {
	rowBytes := (n + 7) / 8
	out := make([]byte, 0, 16+rowBytes*n)
	out = append(out, "P4\n"...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, '\n')
	pixels := out[len(out) : len(out)+rowBytes*n]
	out = out[:len(out)+rowBytes*n]
	clear(pixels)
	fn := float64(n)
	for y := range n {
		ci := 2*float64(y)/fn - 1
		row := pixels[y*rowBytes:]
		for x := range n {
			cr := 2*float64(x)/fn - 1.5
			var zr, zi, tr, ti float64
			for i := 0; i < maxIter && tr+ti <= 4; i++ {
				zi = 2*zr*zi + ci
				zr = tr - ti + cr
				tr, ti = zr*zr, zi*zi
			}
			if tr+ti <= 4 {
				row[x>>3] |= 0x80 >> (x & 7)
			}
		}
	}
	return out
}
