package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

// Sentences that are not in the corpus, one or two per language.
var heldOut = map[string][]string{
	"en": {"I would like to book a table for two people tomorrow evening, if that is possible.",
		"The committee has not yet decided whether the new road should be built through the forest."},
	"de": {"Ich möchte für morgen Abend einen Tisch für zwei Personen reservieren, wenn das möglich ist.",
		"Der Ausschuss hat noch nicht entschieden, ob die neue Straße durch den Wald gebaut werden soll."},
	"fr": {"Je voudrais réserver une table pour deux personnes demain soir, si c'est possible.",
		"Le comité n'a pas encore décidé si la nouvelle route doit être construite à travers la forêt."},
	"es": {"Me gustaría reservar una mesa para dos personas mañana por la noche, si es posible.",
		"El comité todavía no ha decidido si la nueva carretera debe construirse a través del bosque."},
	"it": {"Vorrei prenotare un tavolo per due persone domani sera, se è possibile.",
		"Il comitato non ha ancora deciso se la nuova strada debba essere costruita attraverso il bosco."},
	"pt": {"Gostaria de reservar uma mesa para duas pessoas amanhã à noite, se for possível.",
		"O comité ainda não decidiu se a nova estrada deve ser construída através da floresta."},
	"nl": {"Ik wil graag een tafel voor twee personen reserveren voor morgenavond, als dat mogelijk is.",
		"De commissie heeft nog niet besloten of de nieuwe weg door het bos moet worden aangelegd."},
}

func detect(t *testing.T, d *detector, req *sdk.Request) (int, output, string) {
	t.Helper()
	var out output
	status, raw := 0, ""
	for i, run := range []func(sdk.Handler, *sdk.Request) (sdktest.Result, error){
		func(h sdk.Handler, r *sdk.Request) (sdktest.Result, error) { return sdktest.Loop(h, r) },
		sdktest.CGI,
	} {
		res, err := run(d.handle, req)
		if err != nil {
			t.Fatal(err)
		}
		r := res.Responses[0]
		if i > 0 && (r.Status != status || string(r.Body) != raw) {
			t.Fatalf("cgi %d %q, loop %d %q", r.Status, r.Body, status, raw)
		}
		status, raw = r.Status, string(r.Body)
	}
	if status == 200 {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
	}
	return status, out, raw
}

func TestDetectHeldOut(t *testing.T) {
	d, err := newDetector()
	if err != nil {
		t.Fatal(err)
	}
	for lang, sentences := range heldOut {
		for _, s := range sentences {
			body, _ := json.Marshal(map[string]string{"input_text": s})
			st, out, raw := detect(t, d, &sdk.Request{Method: "POST", Path: "/", Body: body})
			if st != 200 || out.Language != lang {
				t.Errorf("%q: %d %s, want %s", s, st, raw, lang)
			}
			if len(out.Distances) != 7 || out.Confidence <= 0 || out.Confidence > 1 {
				t.Errorf("%q: distances %v confidence %v", s, out.Distances, out.Confidence)
			}
		}
	}
}

func TestDetectInputs(t *testing.T) {
	d, err := newDetector()
	if err != nil {
		t.Fatal(err)
	}
	st, out, raw := detect(t, d, &sdk.Request{Method: "GET", Path: "/", Query: "input_text=" + url.QueryEscape(heldOut["fr"][0])})
	if st != 200 || out.Language != "fr" || out.Name != "French" {
		t.Fatalf("query: %d %s", st, raw)
	}
	// A long text: 2 MB of one language's sentences.
	big := strings.Repeat(heldOut["nl"][0]+" "+heldOut["nl"][1]+" ", 2<<20/180)
	body, _ := json.Marshal(map[string]string{"input_text": big})
	if st, out, raw := detect(t, d, &sdk.Request{Method: "POST", Path: "/", Body: body}); st != 200 || out.Language != "nl" {
		t.Fatalf("2 MB: %d %s", st, raw)
	}
	for _, tc := range []struct {
		name string
		req  sdk.Request
		msg  string
	}{
		{"missing", sdk.Request{Method: "GET", Path: "/"}, "give the text"},
		{"no letters", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"input_text": "1234 !?"}`)}, "no letters"},
		{"empty", sdk.Request{Method: "GET", Path: "/", Query: "input_text="}, "no letters"},
		{"no field", sdk.Request{Method: "POST", Path: "/", Body: []byte(`{"text": "hello"}`)}, `no "input_text"`},
		{"bad json", sdk.Request{Method: "POST", Path: "/", Body: []byte(`hello`)}, "bad JSON"},
	} {
		st, _, raw := detect(t, d, &tc.req)
		if st != 400 || !strings.Contains(raw, tc.msg) {
			t.Errorf("%s: %d %q, want 400 holding %q", tc.name, st, raw, tc.msg)
		}
	}
}

func TestCount(t *testing.T) {
	got := count("The, the! ab")
	want := map[trigram]int{{' ', 't', 'h'}: 2, {'t', 'h', 'e'}: 2, {'h', 'e', ' '}: 2, {' ', 'a', 'b'}: 1, {'a', 'b', ' '}: 1}
	if len(got) != len(want) {
		t.Fatalf("count = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("count[%q] = %d, want %d", string(k[:]), got[k], v)
		}
	}
}

func TestWorkload(t *testing.T) {
	d, err := newDetector()
	if err != nil {
		t.Fatal(err)
	}
	suitetest.Check(t, "langdetect", d.handle)
}

// FuzzHandle feeds arbitrary queries and bodies: every answer is a 200 or
// a 400, never a panic (a 500).
func FuzzHandle(f *testing.F) {
	d, err := newDetector()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct {
		query string
		body  []byte
	}{{"", []byte(`{"input_text": "der die das"}`)}, {"input_text=hello", nil}, {"", []byte(`{"input_text": "1 2 3"}`)}} {
		f.Add(s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		res, err := sdktest.Loop(d.handle, &sdk.Request{Method: "POST", Path: "/", Query: query, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if st := res.Responses[0].Status; st != 200 && st != 400 {
			t.Fatalf("status %d %q", st, res.Responses[0].Body)
		}
	})
}
