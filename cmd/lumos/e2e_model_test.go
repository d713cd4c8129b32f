package main

import (
	"context"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/profiler/model"
)

// Runtime auto served by the model, its documents at /system/model*, and
// `lumos model` against the real gateway.
func TestModelEndToEnd(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.model = true
	o.getenv = envMap(nil)
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	c := adminClient(srv)
	mustDeploy(t, c, "autofib", bundled(t, "fib"), map[string]string{"lumos.runtime": "auto", "lumos.candidates": "wasm-aot,wasm-interp"}, nil)
	for range 60 {
		if a := do(t, "GET", srv.url+"/function/autofib?n=22", nil, nil); a.status != 200 {
			t.Fatalf("autofib answered %d %s", a.status, a.body)
		}
	}
	var doc model.FunctionDoc
	if err := c.doJSON(context.Background(), "GET", "/system/model/autofib?bytes=0", nil, &doc); err != nil {
		t.Fatalf("GET /system/model/autofib: %v", err)
	}
	seen := map[string]model.RuntimeDoc{}
	for _, d := range doc.Runtimes {
		seen[d.Runtime] = d
	}
	aot, interp := seen["wasm-aot"], seen["wasm-interp"]
	if aot.Samples.Warm < 9 || interp.Samples.Warm < 9 {
		t.Fatalf("exploration: aot %+v interp %+v", aot.Samples, interp.Samples)
	}
	if doc.Recommendation.Runtime != "wasm-aot" || aot.WarmP50Ms >= interp.WarmP50Ms {
		t.Errorf("recommendation %+v (aot %.3g ms, interp %.3g ms)", doc.Recommendation, aot.WarmP50Ms, interp.WarmP50Ms)
	}
	// After exploring, auto exploits AoT.
	if interp.Samples.Warm+interp.Samples.Cold > 15 {
		t.Errorf("the interpreter served %d calls of 60", interp.Samples.Warm+interp.Samples.Cold)
	}
	out, err := runCLI(t, "", "model", "autofib", "--gateway", srv.url, "--password", testPassword, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "Recommendation: runtime wasm-aot") {
		t.Errorf("lumos model autofib: %v\n%s", err, out)
	}
	t.Log("\n" + out)
}
