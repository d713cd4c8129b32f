package sdk

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
)

// IntParam reads one integer input of a request: from the query (?name=20)
// or, when the query lacks it, from the JSON body's field ({"field": 20}),
// and checks it lies in [lo, hi]. usage is the message when neither holds
// it. Every error is a *StatusError with status 400 that names the input.
func IntParam(r *Request, name, field string, lo, hi int, usage string) (int, error) {
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return 0, Errorf(400, "bad query: %v", err)
	}
	var raw string
	switch {
	case q.Has(name):
		raw = q.Get(name)
	case len(r.Body) > 0:
		// A struct with the one field, as a handler would declare it:
		// encoding/json matches the key as it matches any field's.
		t := reflect.StructOf([]reflect.StructField{{
			Name: "V", Type: reflect.TypeFor[*json.Number](), Tag: reflect.StructTag(`json:"` + field + `"`),
		}})
		in := reflect.New(t)
		if err := json.Unmarshal(r.Body, in.Interface()); err != nil {
			return 0, Errorf(400, "bad JSON body: %v", err)
		}
		v, _ := in.Elem().Field(0).Interface().(*json.Number)
		if v == nil {
			return 0, Errorf(400, "JSON body has no %q", field)
		}
		raw = v.String()
	default:
		return 0, Errorf(400, "%s", usage)
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, Errorf(400, "%s=%q is not an integer", name, raw)
	}
	if n < lo || n > hi {
		return 0, Errorf(400, "%s=%d is outside [%d, %d]", name, n, lo, hi)
	}
	return n, nil
}
