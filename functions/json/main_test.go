package main

import (
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/internal/suitetest"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
		out    string // exact on 200, a substring otherwise
	}{
		{
			"array of objects",
			`[{"name":"ada","tags":["x","y"],"age":36,"ok":true},{"b":null,"a":"<&>"}]`,
			200,
			`{"stats":{"objects":2,"arrays":2,"keys":6,"strings":4,"numbers":1,"bools":1,"nulls":1,"max_depth":4},` +
				`"result":[{"age":36,"name":"ADA","ok":true,"tags":["X","Y"]},{"a":"<&>","b":null}]}` + "\n",
		},
		{"scalar string", `"héllo"`, 200, `{"stats":{"objects":0,"arrays":0,"keys":0,"strings":1,"numbers":0,"bools":0,"nulls":0,"max_depth":1},"result":"HÉLLO"}` + "\n"},
		{"exact numbers", ` {"z": 12345678901234567890, "f": 1.50e3} `, 200, `"result":{"f":1.50e3,"z":12345678901234567890}}` + "\n"},
		{"duplicate keys", `{"k":"a","k":"b"}`, 200, `"result":{"k":"B"}}` + "\n"},
		{"empty", ``, 400, "empty body"},
		{"invalid", `{"a":}`, 400, "invalid JSON"},
		{"trailing", `{} {}`, 400, "data after the document"},
		{"trailing garbage", `[1] x`, 400, "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdktest.Loop(handle, &sdk.Request{Method: "POST", Path: "/", Body: []byte(tc.in)})
			if err != nil {
				t.Fatal(err)
			}
			r := res.Responses[0]
			if r.Status != tc.status {
				t.Fatalf("status %d %q, want %d", r.Status, r.Body, tc.status)
			}
			if tc.status == 200 && strings.HasPrefix(tc.out, `{"stats"`) && string(r.Body) != tc.out {
				t.Fatalf("body\n%s\nwant\n%s", r.Body, tc.out)
			}
			if !strings.Contains(string(r.Body), tc.out) {
				t.Fatalf("body %q, want it to hold %q", r.Body, tc.out)
			}
		})
	}
}

func TestWorkload(t *testing.T) { suitetest.Check(t, "json", handle) }
