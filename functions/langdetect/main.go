// Command langdetect is the language-detection workload of the Lumos
// paper: it names the language of a text by comparing its character
// trigrams with profiles of seven languages (a naive Bayes classifier over
// trigram frequencies, add-one smoothed; Cavnar and Trenkle's out-of-place
// ranks misread short sentences with profiles this small). The profiles are
// built when the process
// starts from the committed sample texts in corpus/ (about 1.5 KB each:
// the first articles of the Universal Declaration of Human Rights and
// everyday prose): English, German, French, Spanish, Italian, Portuguese
// and Dutch.
//
// The text comes from a JSON body {"input_text": "..."}, the paper's
// input, or the query (?input_text=...); the query wins. It answers
//
//	{"language": "de", "name": "German", "confidence": 0.12,
//	 "distances": {"de": 8702, "en": 9931, ...}}
//
// where distances are the negative log-likelihoods per trigram in
// thousandths (smaller is closer) and confidence is how much farther the
// runner-up is, relative to it, in [0, 1]. 400 when
// the text is missing or holds no letters.
package main

import (
	"embed"
	"encoding/json"
	"math"
	"net/url"
	"unicode"

	"github.com/lumos-edge/lumos/functions/sdk"
)

//go:embed corpus/*.txt
var corpus embed.FS

// languages are the detectable languages, by ISO 639-1 code.
var languages = []struct{ code, name string }{
	{"de", "German"}, {"en", "English"}, {"es", "Spanish"}, {"fr", "French"},
	{"it", "Italian"}, {"nl", "Dutch"}, {"pt", "Portuguese"},
}

type trigram [3]rune

// profile holds a language's trigram log-probabilities, add-one smoothed
// over the vocabulary of all languages' trigrams.
type profile struct {
	logp   map[trigram]float64
	unseen float64 // log-probability of a trigram the sample never had
}

// detector holds a profile per language, built once.
type detector struct {
	profiles map[string]profile
}

func main() {
	d, err := newDetector()
	if err != nil {
		panic(err) // the corpus is embedded: this is a build defect
	}
	sdk.Serve(d.handle)
}

// newDetector builds the language profiles from the embedded corpus.
func newDetector() (*detector, error) {
	counts := map[string]map[trigram]int{}
	vocab := map[trigram]bool{}
	for _, l := range languages {
		b, err := corpus.ReadFile("corpus/" + l.code + ".txt")
		if err != nil {
			return nil, err
		}
		c := count(string(b))
		counts[l.code] = c
		for t := range c {
			vocab[t] = true
		}
	}
	d := &detector{profiles: map[string]profile{}}
	for code, c := range counts {
		total := 0
		for _, n := range c {
			total += n
		}
		denom := float64(total + len(vocab) + 1)
		p := profile{logp: make(map[trigram]float64, len(c)), unseen: math.Log(1 / denom)}
		for t, n := range c {
			p.logp[t] = math.Log(float64(n+1) / denom)
		}
		d.profiles[code] = p
	}
	return d, nil
}

type output struct {
	Language   string         `json:"language"`
	Name       string         `json:"name"`
	Confidence float64        `json:"confidence"`
	Distances  map[string]int `json:"distances"`
}

func (d *detector) handle(r *sdk.Request) (*sdk.Response, error) {
	text, err := input(r)
	if err != nil {
		return nil, err
	}
	counts := count(text)
	if len(counts) == 0 {
		return nil, sdk.Errorf(400, "input_text has no letters to detect a language from")
	}
	out := d.detect(counts)
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   append(body, '\n'),
	}, nil
}

// input returns the text from the query or the JSON body.
func input(r *sdk.Request) (string, error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return "", sdk.Errorf(400, "bad query: %v", err)
	}
	if q.Has("input_text") {
		return q.Get("input_text"), nil
	}
	if len(r.Body) == 0 {
		return "", sdk.Errorf(400, `give the text as a JSON body {"input_text": "..."} or as ?input_text=...`)
	}
	var in struct {
		Text *string `json:"input_text"`
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return "", sdk.Errorf(400, "bad JSON body: %v", err)
	}
	if in.Text == nil {
		return "", sdk.Errorf(400, `JSON body has no "input_text"`)
	}
	return *in.Text, nil
}

// detect scores a document's trigram counts against every language: the
// distance is the negative log-likelihood per trigram (naive Bayes, in
// thousandths), so it does not grow with the text's length.
func (d *detector) detect(doc map[trigram]int) output {
	out := output{Distances: map[string]int{}}
	total := 0
	for _, n := range doc {
		total += n
	}
	best, second := math.Inf(1), math.Inf(1)
	for _, l := range languages {
		p := d.profiles[l.code]
		var ll float64
		for t, n := range doc {
			lp, ok := p.logp[t]
			if !ok {
				lp = p.unseen
			}
			ll += float64(n) * lp
		}
		dist := -ll / float64(total)
		out.Distances[l.code] = int(math.Round(dist * 1000))
		switch {
		case dist < best:
			best, second = dist, best
			out.Language, out.Name = l.code, l.name
		case dist < second:
			second = dist
		}
	}
	out.Confidence = math.Round((second-best)/second*1000) / 1000
	return out
}

// count counts the trigrams of text's words, lower-cased and padded with
// one space on each side: " the " gives " th", "the" and "he ". A word is a
// run of letters.
func count(text string) map[trigram]int {
	counts := map[trigram]int{}
	word := []rune{' '}
	flush := func() {
		if len(word) > 1 {
			word = append(word, ' ')
			for i := 0; i+3 <= len(word); i++ {
				counts[trigram(word[i:i+3])]++
			}
		}
		word = word[:1]
	}
	for _, c := range text {
		if unicode.IsLetter(c) {
			word = append(word, unicode.ToLower(c))
		} else {
			flush()
		}
	}
	flush()
	return counts
}
