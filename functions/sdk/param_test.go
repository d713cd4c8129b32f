package sdk

import (
	"errors"
	"strings"
	"testing"
)

func TestIntParam(t *testing.T) {
	const usage = `give n as ?n=20 or as a JSON body {"number": 20}`
	for _, tt := range []struct {
		name  string
		query string
		body  string
		want  int
		err   string // a substring of the 400's message; "" for success
	}{
		{"query", "n=20", "", 20, ""},
		{"body", "", `{"number": 7}`, 7, ""},
		{"query wins", "n=3", `{"number": 7}`, 3, ""},
		{"key as encoding/json matches it", "", `{"Number": 9}`, 9, ""},
		{"other fields ignored", "", `{"x": "y", "number": 4}`, 4, ""},
		{"lower bound", "n=0", "", 0, ""},
		{"upper bound", "n=50", "", 50, ""},
		{"neither", "", "", 0, usage},
		{"bad query", "n=%zz", "", 0, "bad query"},
		{"bad JSON", "", `{"number":`, 0, "bad JSON body"},
		{"not an object", "", `[1]`, 0, "bad JSON body"},
		{"field missing", "", `{"n": 5}`, 0, `JSON body has no "number"`},
		{"null", "", `{"number": null}`, 0, `JSON body has no "number"`},
		{"not an integer", "n=2.5", "", 0, `n="2.5" is not an integer`},
		{"not an integer in the body", "", `{"number": 2.5}`, 0, `n="2.5" is not an integer`},
		{"a string", "", `{"number": "x"}`, 0, "bad JSON body"},
		{"below", "n=-1", "", 0, "n=-1 is outside [0, 50]"},
		{"above", "", `{"number": 51}`, 0, "n=51 is outside [0, 50]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IntParam(&Request{Query: tt.query, Body: []byte(tt.body)}, "n", "number", 0, 50, usage)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %d, %v; want %d", got, err, tt.want)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Msg, tt.err) {
				t.Fatalf("got %d, %v; want a 400 containing %q", got, err, tt.err)
			}
		})
	}
}
