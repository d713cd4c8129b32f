package functions

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strconv"
)

// audioWorkload asks for size bytes of WAV samples (audio_size = size/1024 KB, at least 1).
func audioWorkload() Workload {
	return Workload{
		Name: "audio",
		Inputs: func(size int) (string, []byte) {
			return "", []byte(`{"audio_size":` + strconv.Itoa(max(1, size/1024)) + `}`)
		},
		Verify: func(_ string, body, response []byte) error {
			var in struct {
				KB int `json:"audio_size"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body %q: %v", body, err)
			}
			data := in.KB * 1024
			if len(response) != 44+data {
				return wrong("audio %d KB: %d bytes, want %d", in.KB, len(response), 44+data)
			}
			le := binary.LittleEndian
			if string(response[:4]) != "RIFF" || le.Uint32(response[4:]) != uint32(36+data) ||
				string(response[8:16]) != "WAVEfmt " || le.Uint32(response[16:]) != 16 ||
				le.Uint16(response[20:]) != 1 || le.Uint16(response[22:]) != 1 ||
				le.Uint32(response[24:]) != 44100 || le.Uint32(response[28:]) != 88200 ||
				le.Uint16(response[32:]) != 2 || le.Uint16(response[34:]) != 16 ||
				string(response[36:40]) != "data" || le.Uint32(response[40:]) != uint32(data) {
				return wrong("audio %d KB: header % x is not RIFF/WAVE PCM 16-bit mono 44100 Hz with %d data bytes", in.KB, response[:44], data)
			}
			// Every sample is the 440 Hz sine at half amplitude, to rounding.
			for i := range data / 2 {
				want := 16383 * math.Sin(2*math.Pi*440*float64(i)/44100)
				got := float64(int16(le.Uint16(response[44+2*i:])))
				if math.Abs(got-want) > 1 {
					return wrong("audio %d KB: sample %d is %v, want %.1f", in.KB, i, got, want)
				}
			}
			return nil
		},
	}
}

// thumbnailWorkload sends a generated 3:2 JPEG of about size bytes (at
// least 48x32 pixels) with scale_factor=0.5.
func thumbnailWorkload() Workload {
	return Workload{
		Name:   "thumbnail",
		Inputs: func(size int) (string, []byte) { return "scale_factor=0.5", testJPEG(size) },
		Verify: func(_ string, body, response []byte) error {
			src, err := jpeg.Decode(bytes.NewReader(body))
			if err != nil {
				return wrong("request body is not a JPEG: %v", err)
			}
			dst, err := jpeg.Decode(bytes.NewReader(response))
			if err != nil {
				return wrong("answer is not a JPEG: %v", err)
			}
			sb, db := src.Bounds(), dst.Bounds()
			w, h := int(math.Round(float64(sb.Dx())*0.5)), int(math.Round(float64(sb.Dy())*0.5))
			if db.Dx() != w || db.Dy() != h {
				return wrong("thumbnail of %dx%d at 0.5 is %dx%d, want %dx%d", sb.Dx(), sb.Dy(), db.Dx(), db.Dy(), w, h)
			}
			// Scaling keeps the average colour; JPEG and interpolation move
			// it by a few levels at most.
			a, b := meanColor(src), meanColor(dst)
			for c := range 3 {
				if math.Abs(a[c]-b[c]) > 6 {
					return wrong("thumbnail's mean colour %.1f differs from the image's %.1f", b, a)
				}
			}
			return nil
		},
	}
}

// meanColor is the average R, G and B of img, in 0..255.
func meanColor(img image.Image) [3]float64 {
	var sum [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0] += float64(r >> 8)
			sum[1] += float64(g >> 8)
			sum[2] += float64(bl >> 8)
		}
	}
	n := float64(b.Dx() * b.Dy())
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// testJPEG draws a 3:2 picture (gradients, stripes and noise from a fixed
// generator) whose JPEG at quality 85 is about size bytes: it encodes once
// at a guessed size and once more at the size that corrects the guess.
func testJPEG(size int) []byte {
	size = max(size, 1)
	pixels := float64(size) * 2 // a first guess of 0.5 bytes per pixel
	var out []byte
	for range 2 {
		w := max(48, int(math.Sqrt(pixels*1.5)))
		h := max(32, w*2/3)
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		x := uint32(2463534242)
		for py := range h {
			for px := range w {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				n := uint8(x & 31)
				img.SetRGBA(px, py, color.RGBA{
					R: uint8(255*px/w) ^ n,
					G: uint8(255*py/h) + n,
					B: uint8((px/8+py/8)%2*160) + n,
					A: 255,
				})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
			panic(err) // encoding an RGBA image to memory does not fail
		}
		out = b.Bytes()
		pixels *= float64(size) / float64(len(out))
	}
	return out
}
