package functions

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/bits"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// prose returns exactly size bytes (at least 1) of words drawn from vocab
// by a fixed xorshift generator seeded with seed, a full stop and newline
// every ten words.
func prose(size int, seed uint64, vocab []string) []byte {
	size = max(size, 1)
	b := make([]byte, 0, size+32)
	x := seed | 1
	for i := 0; len(b) < size; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b = append(b, vocab[x%uint64(len(vocab))]...)
		if i%10 == 9 {
			b = append(b, ".\n"...)
		} else {
			b = append(b, ' ')
		}
	}
	return b[:size]
}

// fuzzyVocab holds near misses of "kitten" among other words.
var fuzzyVocab = strings.Fields(`kitchen sitting mitten bitten written kitten kittens smitten
garden station river mountain light water people world serverless function container runtime
latency memory network compute storage edge cloud benchmark instance request response`)

// fuzzyWorkload searches size bytes of generated prose for "kittne" (a typo).
func fuzzyWorkload() Workload {
	const term = "kittne"
	return Workload{
		Name:   "fuzzy",
		Inputs: func(size int) (string, []byte) { return "search_term=" + term, prose(size, 0xF022, fuzzyVocab) },
		Verify: func(query string, body, response []byte) error {
			q, err := url.ParseQuery(query)
			if err != nil {
				return wrong("query %q: %v", query, err)
			}
			t := strings.ToLower(q.Get("search_term"))
			var out struct {
				SearchTerm string `json:"search_term"`
				Words      int    `json:"words"`
				Matches    []struct {
					Word     string `json:"word"`
					Distance int    `json:"distance"`
					Offset   int    `json:"offset"`
					Count    int    `json:"count"`
				} `json:"matches"`
			}
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			words := strings.FieldsFunc(strings.ToLower(string(body)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
			counts := map[string]int{}
			best := -1
			for _, w := range words {
				if counts[w] == 0 {
					if d := editDistance(t, w); best < 0 || d < best {
						best = d
					}
				}
				counts[w]++
			}
			if out.Words != len(words) || len(out.Matches) != min(10, len(counts)) {
				return wrong("fuzzy: %d words and %d matches, want %d and %d", out.Words, len(out.Matches), len(words), min(10, len(counts)))
			}
			prev := 0
			for i, m := range out.Matches {
				if d := editDistance(t, m.Word); d != m.Distance || m.Count != counts[m.Word] || d < prev ||
					m.Offset < 0 || m.Offset+len(m.Word) > len(body) || !strings.EqualFold(string(body[m.Offset:m.Offset+len(m.Word)]), m.Word) {
					return wrong("fuzzy: match %d %+v: distance %d, count %d", i, m, d, counts[m.Word])
				}
				prev = m.Distance
			}
			if len(out.Matches) > 0 && out.Matches[0].Distance != best {
				return wrong("fuzzy: best match at distance %d, want %d", out.Matches[0].Distance, best)
			}
			return nil
		},
	}
}

// editDistance is the Levenshtein distance of a and b over code points, by
// the full matrix.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			sub := d[i-1][j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, sub)
		}
	}
	return d[len(ra)][len(rb)]
}

// langSamples are sentences the function's corpus does not hold, and
// stopwords, per language: Verify names a text's language by counting
// stopwords, which is independent of the function's trigram model.
var langSamples = []struct {
	code      string
	sentences []string
	stopwords []string
}{
	{"en", strings.Split("I would like to book a table for two people tomorrow evening, if that is possible.|The committee has not yet decided whether the new road should be built through the forest.|He is the one who wrote the letter to the editor of the paper.", "|"),
		strings.Fields("the and of to is that with for not be it was he she if")},
	{"de", strings.Split("Ich möchte für morgen Abend einen Tisch für zwei Personen reservieren, wenn das möglich ist.|Der Ausschuss hat noch nicht entschieden, ob die neue Straße durch den Wald gebaut werden soll.|Er ist derjenige, der den Brief an den Herausgeber der Zeitung geschrieben hat.", "|"),
		strings.Fields("der die und das ist nicht mit ein zu den ich er ob wenn")},
	{"fr", strings.Split("Je voudrais réserver une table pour deux personnes demain soir, si c'est possible.|Le comité n'a pas encore décidé si la nouvelle route doit être construite à travers la forêt.|C'est lui qui a écrit la lettre au rédacteur du journal.", "|"),
		strings.Fields("le la les et des est pas une pour je si qui au du")},
	{"es", strings.Split("Me gustaría reservar una mesa para dos personas mañana por la noche, si es posible.|El comité todavía no ha decidido si la nueva carretera debe construirse a través del bosque.|Él es quien escribió la carta al director del periódico.", "|"),
		strings.Fields("el los las y del una por para me es quien al si todavía")},
	{"it", strings.Split("Vorrei prenotare un tavolo per due persone domani sera, se è possibile.|Il comitato non ha ancora deciso se la nuova strada debba essere costruita attraverso il bosco.|È lui che ha scritto la lettera al direttore del giornale.", "|"),
		strings.Fields("il gli che non per un se è ha ancora lui")},
	{"pt", strings.Split("Gostaria de reservar uma mesa para duas pessoas amanhã à noite, se for possível.|O comité ainda não decidiu se a nova estrada deve ser construída através da floresta.|Foi ele quem escreveu a carta ao diretor do jornal.", "|"),
		strings.Fields("o uma não da do ao à ainda ele foi se for")},
	{"nl", strings.Split("Ik wil graag een tafel voor twee personen reserveren voor morgenavond, als dat mogelijk is.|De commissie heeft nog niet besloten of de nieuwe weg door het bos moet worden aangelegd.|Hij is degene die de brief aan de redacteur van de krant heeft geschreven.", "|"),
		strings.Fields("de het een niet ik voor als nog heeft hij die van")},
}

// langdetectWorkload sends about size bytes of one language's sentences,
// the language changing with each doubling of size.
func langdetectWorkload() Workload {
	return Workload{
		Name: "langdetect",
		Inputs: func(size int) (string, []byte) {
			l := langSamples[bits.Len(uint(max(size, 1)))%len(langSamples)]
			var b strings.Builder
			for i := 0; b.Len() < size || i == 0; i++ {
				b.WriteString(l.sentences[i%len(l.sentences)])
				b.WriteByte(' ')
			}
			body, err := json.Marshal(map[string]string{"input_text": b.String()})
			if err != nil {
				panic(err) // a map of strings always marshals
			}
			return "", body
		},
		Verify: func(_ string, body, response []byte) error {
			var in struct {
				Text string `json:"input_text"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body: %v", err)
			}
			want, most := "", -1
			words := strings.FieldsFunc(strings.ToLower(in.Text), func(r rune) bool { return !unicode.IsLetter(r) })
			for _, l := range langSamples {
				n := 0
				for _, w := range words {
					for _, s := range l.stopwords {
						if w == s {
							n++
						}
					}
				}
				if n > most {
					want, most = l.code, n
				}
			}
			var out struct {
				Language   string         `json:"language"`
				Name       string         `json:"name"`
				Confidence float64        `json:"confidence"`
				Distances  map[string]int `json:"distances"`
			}
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			if out.Language != want || out.Name == "" || len(out.Distances) != len(langSamples) || out.Confidence < 0 || out.Confidence > 1 {
				return wrong("langdetect answered %q (%s, %d languages scored), want %q", out.Language, out.Name, len(out.Distances), want)
			}
			for code, d := range out.Distances {
				if d < out.Distances[out.Language] {
					return wrong("langdetect answered %q but %q scored closer", out.Language, code)
				}
			}
			return nil
		},
	}
}

// aesKey is the workload's 32-byte key.
const aesKey = "lumos-benchmark-key-32-bytes-abc"

// aesWorkload encrypts size bytes of prose.
func aesWorkload() Workload {
	return Workload{
		Name: "aes",
		Inputs: func(size int) (string, []byte) {
			body, err := json.Marshal(map[string]string{"key": aesKey, "message": string(prose(size, 0xAE5, fuzzyVocab)), "op": "encrypt"})
			if err != nil {
				panic(err) // a map of strings always marshals
			}
			return "", body
		},
		Verify: func(_ string, body, response []byte) error {
			var in struct{ Key, Message, Op string }
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body: %v", err)
			}
			var out struct {
				Op         string `json:"op"`
				Ciphertext string `json:"ciphertext"`
			}
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			raw, err := base64.StdEncoding.DecodeString(out.Ciphertext)
			if err != nil || out.Op != "encrypt" {
				return wrong("aes: op %q, ciphertext not base64: %v", out.Op, err)
			}
			block, err := aes.NewCipher([]byte(in.Key))
			if err != nil {
				return wrong("aes: key: %v", err)
			}
			gcm, err := cipher.NewGCM(block)
			if err != nil {
				return wrong("aes: %v", err)
			}
			if len(raw) != gcm.NonceSize()+len(in.Message)+gcm.Overhead() {
				return wrong("aes: ciphertext of %d bytes for a %d-byte message", len(raw), len(in.Message))
			}
			pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
			if err != nil || string(pt) != in.Message {
				return wrong("aes: ciphertext does not decrypt to the message: %v", err)
			}
			return nil
		},
	}
}

// jsonDocument returns a JSON array of records of about size bytes.
func jsonDocument(size int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < size-2 || i == 0; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":` + strconv.Itoa(i) + `,"name":"user ` + strconv.Itoa(i) + `","email":"user` + strconv.Itoa(i) +
			`@example.org","active":` + strconv.FormatBool(i%3 != 0) + `,"score":` + strconv.Itoa(i*7%1000) + `.25,"manager":null,` +
			`"tags":["edge","cloud","wasm"],"address":{"city":"Wien","zip":"10` + strconv.Itoa(i%100) + `"}}`)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// jsonWorkload sends a document of about size bytes.
func jsonWorkload() Workload {
	return Workload{
		Name:   "json",
		Inputs: func(size int) (string, []byte) { return "", jsonDocument(size) },
		Verify: func(_ string, body, response []byte) error {
			doc, err := decodeNumbers(body)
			if err != nil {
				return wrong("body: %v", err)
			}
			want := map[string]int{}
			expected := upper(doc, 1, want)
			got, err := decodeNumbers(response)
			if err != nil {
				return wrong("json answer: %v", err)
			}
			m, ok := got.(map[string]any)
			if !ok || len(m) != 2 {
				return wrong("json answer is not {stats, result}")
			}
			stats, ok := m["stats"].(map[string]any)
			if !ok || len(stats) != len(want) {
				return wrong("json stats %v, want %v", m["stats"], want)
			}
			for k, v := range want {
				if n, ok := stats[k].(json.Number); !ok || n.String() != strconv.Itoa(v) {
					return wrong("json stats %s = %v, want %d", k, stats[k], v)
				}
			}
			if !reflect.DeepEqual(m["result"], expected) {
				return wrong("json result differs from the document with its strings uppercased")
			}
			return nil
		},
	}
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// upper uppercases the string values of v in place and counts what it sees
// under the json function's stats names.
func upper(v any, depth int, st map[string]int) any {
	st["max_depth"] = max(st["max_depth"], depth)
	for _, k := range []string{"objects", "arrays", "keys", "strings", "numbers", "bools", "nulls"} {
		st[k] += 0
	}
	switch v := v.(type) {
	case map[string]any:
		st["objects"]++
		st["keys"] += len(v)
		for k, e := range v {
			v[k] = upper(e, depth+1, st)
		}
	case []any:
		st["arrays"]++
		for i, e := range v {
			v[i] = upper(e, depth+1, st)
		}
	case string:
		st["strings"]++
		return strings.ToUpper(v)
	case json.Number:
		st["numbers"]++
	case bool:
		st["bools"]++
	case nil:
		st["nulls"]++
	}
	return v
}

// gzipWorkload compresses size bytes of prose.
func gzipWorkload() Workload {
	return Workload{
		Name:   "gzip",
		Inputs: func(size int) (string, []byte) { return "", prose(size, 0x621B, fuzzyVocab) },
		Verify: func(_ string, body, response []byte) error {
			zr, err := gzip.NewReader(bytes.NewReader(response))
			if err != nil {
				return wrong("gzip answer: %v", err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				return wrong("gzip answer: %v", err)
			}
			if !bytes.Equal(got, body) {
				return wrong("gzip answer decompresses to %d bytes that differ from the %d sent", len(got), len(body))
			}
			if len(response) >= len(body) && len(body) > 1024 {
				return wrong("gzip answer of %d bytes does not compress %d bytes of prose", len(response), len(body))
			}
			return nil
		},
	}
}
