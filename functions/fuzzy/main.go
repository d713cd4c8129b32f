// Command fuzzy is the fuzzy-search workload of the Lumos paper: it finds
// the words of a text closest to a search term by Levenshtein distance
// (insertions, deletions and substitutions of Unicode code points, case
// folded). The term and text come as
//
//   - ?search_term=kitten with the text as the raw body, or
//   - a JSON body {"search_term": "kitten", "text": "..."}, or
//   - {"search_term": "kitten", "size": 65536}: a text of that many bytes
//     generated deterministically from a fixed vocabulary (see generate).
//
// A word is a maximal run of letters and digits. It answers
//
//	{"search_term": "kitten", "words": 1234, "matches": [
//	  {"word": "sitting", "distance": 3, "offset": 17, "count": 2}, ...]}
//
// with up to 10 distinct (case-folded) words, nearest first, ties by first
// appearance; offset is the byte offset of the first appearance, count the
// number of appearances. 400 when the term is missing, empty or longer than
// 64 code points, there is no text, or size is outside [1, 16777216].
package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// Limits of the input and answer.
const (
	maxTermRunes = 64
	maxSize      = 16 << 20
	maxMatches   = 10
)

func main() { sdk.Serve(handle) }

// match is one distinct word of the text and its distance to the term.
type match struct {
	Word     string `json:"word"`
	Distance int    `json:"distance"`
	Offset   int    `json:"offset"`
	Count    int    `json:"count"`
}

type output struct {
	SearchTerm string  `json:"search_term"`
	Words      int     `json:"words"`
	Matches    []match `json:"matches"`
}

func handle(r *sdk.Request) (*sdk.Response, error) {
	term, text, err := input(r)
	if err != nil {
		return nil, err
	}
	out := search(term, text)
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

// input returns the search term and the text.
func input(r *sdk.Request) (term, text string, err error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return "", "", sdk.Errorf(400, "bad query: %v", err)
	}
	if q.Has("search_term") {
		term, text = q.Get("search_term"), string(r.Body)
	} else {
		if len(r.Body) == 0 {
			return "", "", sdk.Errorf(400, `give ?search_term=word with the text as the body, or a JSON body {"search_term": "word", "text": "..."}`)
		}
		var in struct {
			Term *string      `json:"search_term"`
			Text *string      `json:"text"`
			Size *json.Number `json:"size"`
		}
		if err := json.Unmarshal(r.Body, &in); err != nil {
			return "", "", sdk.Errorf(400, "bad JSON body: %v", err)
		}
		if in.Term == nil {
			return "", "", sdk.Errorf(400, `JSON body has no "search_term"`)
		}
		term = *in.Term
		switch {
		case in.Text != nil:
			text = *in.Text
		case in.Size != nil:
			n, err := strconv.Atoi(in.Size.String())
			if err != nil || n < 1 || n > maxSize {
				return "", "", sdk.Errorf(400, "size=%s is not an integer in [1, %d]", in.Size, maxSize)
			}
			text = generate(n)
		}
	}
	if n := utf8.RuneCountInString(term); n == 0 || n > maxTermRunes {
		return "", "", sdk.Errorf(400, "search_term has %d code points, want 1 to %d", n, maxTermRunes)
	}
	if text == "" {
		return "", "", sdk.Errorf(400, `no text to search: give it as the body, "text" or "size"`)
	}
	return term, text, nil
}

// search scores every distinct word of text against term.
func search(term, text string) output {
	t := []rune(strings.ToLower(term))
	index := map[string]int{}
	all := []match{}
	words := 0
	prev, cur := make([]int, len(t)+1), make([]int, len(t)+1)
	start := -1
	flush := func(end int) {
		w := strings.ToLower(text[start:end])
		words++
		if i, ok := index[w]; ok {
			all[i].Count++
		} else {
			index[w] = len(all)
			all = append(all, match{Word: w, Distance: levenshtein(t, w, prev, cur), Offset: start, Count: 1})
		}
		start = -1
	}
	for i, c := range text {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			flush(i)
		}
	}
	if start >= 0 {
		flush(len(text))
	}
	slices.SortStableFunc(all, func(a, b match) int { return a.Distance - b.Distance }) // offsets already ascending
	return output{SearchTerm: term, Words: words, Matches: all[:min(len(all), maxMatches)]}
}

// levenshtein is the edit distance between t and w, by the two-row dynamic
// programme over code points; prev and cur are scratch rows of len(t)+1.
func levenshtein(t []rune, w string, prev, cur []int) int {
	for j := range prev {
		prev[j] = j
	}
	i := 0
	for _, c := range w {
		i++
		cur[0] = i
		for j, d := range t {
			cost := 1
			if c == d {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(t)]
}

// vocabulary is what generate draws words from.
var vocabulary = strings.Fields(`the of and to in is was for that with as on by at from his her
their which this be are had have not but were they all one an or when more time about would there
people world light water river mountain kitten sitting mitten written kitchen garden station
serverless function container runtime latency throughput memory network compute storage edge cloud
benchmark instance cold warm request response module compile execute measure profile gateway`)

// generate returns n bytes of text: words of vocabulary picked by a fixed
// xorshift generator, separated by spaces, a full stop and newline every
// twelve words, cut at exactly n bytes.
func generate(n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; b.Len() < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteString(vocabulary[x%uint64(len(vocabulary))])
		if i%12 == 11 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()[:n]
}
