package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/profiler/model"
)

// An auto function invoked until the model exploits one runtime; its
// document at /system/model/NAME (samples, confidence, recommendation);
// `lumos model NAME` printing the table; and a restart on the same data
// dir that restores the model (the samples survive).
func TestModelExploitsAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.model = true
	o.bundled = false // fast under -race: only autofib is compiled
	o.getenv = envMap(nil)
	var mu sync.Mutex
	var served []string // runtimes of autofib's calls, in order
	o.observe = func(inv *invoker.Invocation) {
		if inv.Function == "autofib" && inv.Err == nil {
			mu.Lock()
			served = append(served, inv.Runtime)
			mu.Unlock()
		}
	}
	ctx := context.Background()
	srv, err := startServer(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			srv.Close(ctx)
		}
	}()
	c := adminClient(srv)
	mustDeploy(t, c, "autofib", bundled(t, "fib"), map[string]string{"lumos.runtime": "auto", "lumos.candidates": "wasm-aot,wasm-interp"}, nil)

	// Exploring takes model.DefaultExploreSamples warm calls per candidate;
	// exploiting is the same runtime for the last 10 calls after that.
	const tail = 10
	exploiting := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(served) < 2*model.DefaultExploreSamples+tail {
			return "", false
		}
		last := served[len(served)-tail:]
		return last[0], !slices.ContainsFunc(last, func(rt string) bool { return rt != last[0] })
	}
	chosen, ok := "", false
	for i := 0; i < 120 && !ok; i++ {
		if a := invoke(t, srv, "autofib", "n=15", nil); a.status != 200 || !strings.Contains(string(a.body), `"result":610`) {
			t.Fatalf("autofib answered %d %s", a.status, a.body)
		}
		chosen, ok = exploiting()
	}
	if !ok {
		t.Fatalf("the model never exploited one runtime: %v", served)
	}

	var doc model.FunctionDoc
	if err := c.doJSON(ctx, "GET", "/system/model/autofib?bytes=0", nil, &doc); err != nil {
		t.Fatalf("GET /system/model/autofib: %v", err)
	}
	before := map[string]model.Samples{}
	for _, d := range doc.Runtimes {
		before[d.Runtime] = d.Samples
		if d.Samples.Warm < model.DefaultExploreSamples-1 || (d.Confidence != model.ConfidenceLow && d.Confidence != model.ConfidenceHigh) {
			t.Errorf("%s: samples %+v, confidence %q", d.Runtime, d.Samples, d.Confidence)
		}
	}
	if len(before) != 2 {
		t.Errorf("runtimes in the document: %+v", doc.Runtimes)
	}
	if r := doc.Recommendation; r.Runtime != chosen || r.Reason == "" {
		t.Errorf("recommendation %+v; auto exploits %s", r, chosen)
	}

	out, err := runCLI(t, "", "model", "autofib", "--gateway", srv.url, "--data-dir", dir)
	if err != nil || !strings.Contains(out, "RUNTIME") || !strings.Contains(out, "CONFIDENCE") ||
		!strings.Contains(out, "wasm-interp") || !strings.Contains(out, "Recommendation: runtime "+chosen) {
		t.Errorf("lumos model autofib: %v\n%s", err, out)
	}

	closed = true
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	o.observe = nil
	srv2, err := startServer(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close(ctx)
	var after model.FunctionDoc
	if err := adminClient(srv2).doJSON(ctx, "GET", "/system/model/autofib?bytes=0", nil, &after); err != nil {
		t.Fatalf("GET /system/model/autofib after the restart: %v", err)
	}
	for _, d := range after.Runtimes {
		if d.Samples != before[d.Runtime] {
			t.Errorf("%s after the restart: samples %+v, before %+v", d.Runtime, d.Samples, before[d.Runtime])
		}
	}
	if len(after.Runtimes) != len(before) {
		t.Errorf("after the restart: %+v", after.Runtimes)
	}
}
