// Command audio is the sine-wave audio workload of the Lumos paper: it
// generates a WAV file (RIFF, PCM, 16-bit, mono, 44100 Hz) holding
// audio_size KB (audio_size x 1024 bytes) of samples of a sine wave at half
// amplitude, sample i = round(16383 sin(2 pi f i / 44100)). audio_size comes
// from the query (?audio_size=64) or a JSON body {"audio_size": 64}, the
// paper's input, the frequency f from "frequency" in either place (default
// 440 Hz); the query wins. It answers the WAV file (44-byte header, then
// the samples), or 400 when audio_size is missing, not an integer or outside
// [1, 16384], or the frequency is not a number in [1, 22050].
package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"net/url"
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// The format of the generated audio.
const (
	sampleRate    = 44100
	bitsPerSample = 16
	channels      = 1
	amplitude     = 16383
	headerBytes   = 44
	// maxKB keeps the file under the frame's 32 MiB body limit.
	maxKB            = 16384
	defaultFrequency = 440
)

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	kb, freq, err := input(r)
	if err != nil {
		return nil, err
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "audio/wav"}},
		Body:   wav(kb*1024, freq),
	}, nil
}

// input reads audio_size and frequency from the query or the JSON body.
func input(r *sdk.Request) (kb int, freq float64, err error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return 0, 0, sdk.Errorf(400, "bad query: %v", err)
	}
	var in struct {
		Size      *json.Number `json:"audio_size"`
		Frequency *json.Number `json:"frequency"`
	}
	if len(r.Body) > 0 && !q.Has("audio_size") {
		if err := json.Unmarshal(r.Body, &in); err != nil {
			return 0, 0, sdk.Errorf(400, "bad JSON body: %v", err)
		}
	}
	rawSize, rawFreq := "", ""
	if in.Size != nil {
		rawSize = in.Size.String()
	}
	if in.Frequency != nil {
		rawFreq = in.Frequency.String()
	}
	if q.Has("audio_size") {
		rawSize = q.Get("audio_size")
	}
	if q.Has("frequency") {
		rawFreq = q.Get("frequency")
	}
	if rawSize == "" {
		return 0, 0, sdk.Errorf(400, `give the size in KB as ?audio_size=64 or as a JSON body {"audio_size": 64}`)
	}
	kb, err = strconv.Atoi(rawSize)
	if err != nil {
		return 0, 0, sdk.Errorf(400, "audio_size=%q is not an integer", rawSize)
	}
	if kb < 1 || kb > maxKB {
		return 0, 0, sdk.Errorf(400, "audio_size=%d is outside [1, %d] (KB)", kb, maxKB)
	}
	freq = defaultFrequency
	if rawFreq != "" {
		freq, err = strconv.ParseFloat(rawFreq, 64)
		if err != nil || !(freq >= 1 && freq <= sampleRate/2) {
			return 0, 0, sdk.Errorf(400, "frequency=%q is not a number in [1, %d] (Hz)", rawFreq, sampleRate/2)
		}
	}
	return kb, freq, nil
}

// wav returns a WAV file with dataBytes bytes of samples (an even number).
func wav(dataBytes int, freq float64) []byte {
	out := make([]byte, headerBytes+dataBytes)
	le := binary.LittleEndian
	copy(out[0:], "RIFF")
	le.PutUint32(out[4:], uint32(36+dataBytes))
	copy(out[8:], "WAVEfmt ")
	le.PutUint32(out[16:], 16) // fmt chunk size
	le.PutUint16(out[20:], 1)  // PCM
	le.PutUint16(out[22:], channels)
	le.PutUint32(out[24:], sampleRate)
	le.PutUint32(out[28:], sampleRate*channels*bitsPerSample/8) // byte rate
	le.PutUint16(out[32:], channels*bitsPerSample/8)            // block align
	le.PutUint16(out[34:], bitsPerSample)
	copy(out[36:], "data")
	le.PutUint32(out[40:], uint32(dataBytes))
	step := 2 * math.Pi * freq / sampleRate
	for i := range dataBytes / 2 {
		s := int16(math.Round(amplitude * math.Sin(step*float64(i))))
		le.PutUint16(out[headerBytes+2*i:], uint16(s))
	}
	return out
}
