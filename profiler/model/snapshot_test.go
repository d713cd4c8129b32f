package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// trained returns a model that saw warm and cold calls of two functions.
func trained(t testing.TB, seed uint64) *Model {
	t.Helper()
	m := newTestModel(Config{})
	r := rand.New(rand.NewPCG(seed, 99))
	now := train(m, r, "f", 100, 1<<10, 16<<10, 256<<10)
	train(m, r, "g", 40, 4<<10)
	for i := range 20 {
		m.Observe(cold("f", "wasm-aot", now.Add(time.Duration(i)*time.Second), 40*time.Millisecond, time.Millisecond))
	}
	return m
}

func TestExportImportRoundTrip(t *testing.T) {
	a := trained(t, 1)
	data, err := a.Export()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil || doc["version"] != float64(SnapshotVersion) {
		t.Fatalf("export is not a version %d JSON document: %v %v", SnapshotVersion, err, doc["version"])
	}
	// A version 1 snapshot (before size classes) still imports.
	doc["version"] = 1
	for _, k := range doc["keys"].([]any) {
		delete(k.(map[string]any), "sizes")
	}
	v1, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := New(Config{}).Import(v1); err != nil {
		t.Fatalf("a version 1 snapshot: %v", err)
	}
	other := Environment{CPUModel: "Edge CPU", Cores: 4, OS: "linux", Arch: "arm64"}
	b := New(Config{Environment: &other})
	if err := b.Import(data); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []string{"wasm-aot", "wasm-interp", "container"} {
		for _, size := range []int{1 << 10, 1 << 20} {
			da, db := runtimeDoc(t, a, "f", rt, size), runtimeDoc(t, b, "f", rt, size)
			if !sameDoc(da, db) {
				t.Errorf("%s at %d: imported doc differs:\n%+v\n%+v", rt, size, da, db)
			}
		}
	}
	if got := b.overview().Origins; len(got) != 1 || got[0] != testEnv {
		t.Errorf("origins %+v, want the exporter's environment", got)
	}
	// The importing machine's own environment stays its own.
	if b.Environment() != other {
		t.Errorf("environment %+v after import", b.Environment())
	}
	// Arrivals travel too.
	fa, fb := a.fn("f").arrivals(), b.fn("f").arrivals()
	if fa != fb {
		t.Errorf("arrivals %+v, imported %+v", fa, fb)
	}
	// Importing again merges: counts add up, sketches merge, and the
	// origin is not repeated.
	if err := b.Import(data); err != nil {
		t.Fatal(err)
	}
	d := runtimeDoc(t, b, "f", "wasm-aot", 1024)
	if d.Samples.Warm != 200 || d.Samples.Cold != 40 {
		t.Errorf("after two imports: samples %+v, want warm 200 cold 40", d.Samples)
	}
	within(t, "cold p50 after merge", d.ColdP50Ms, runtimeDoc(t, a, "f", "wasm-aot", 1024).ColdP50Ms, 0.001)
	if got := b.overview().Origins; len(got) != 1 {
		t.Errorf("origins %+v after importing the same snapshot twice", got)
	}
}

// sameDoc compares documents field by field where maps make == fail.
func sameDoc(a, b RuntimeDoc) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// A bad snapshot is rejected with an error naming the field, and the model
// is unchanged.
func TestImportRejects(t *testing.T) {
	good, err := trained(t, 2).Export()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(s map[string]any)) []byte {
		var s map[string]any
		if err := json.Unmarshal(good, &s); err != nil {
			t.Fatal(err)
		}
		f(s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key0 := func(s map[string]any) map[string]any { return s["keys"].([]any)[0].(map[string]any) }
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"not json", "not valid JSON", []byte("{nope")},
		{"empty", "not valid JSON", nil},
		{"trailing", "trailing data", append(append([]byte(nil), good...), []byte(" {}")...)},
		{"unknown field", "not valid JSON", edit(func(s map[string]any) { s["extra"] = 1 })},
		{"version", "version: 3", edit(func(s map[string]any) { s["version"] = 3 })},
		{"no version", "version: 0", edit(func(s map[string]any) { delete(s, "version") })},
		{"negative cores", "environment.cores", edit(func(s map[string]any) { s["environment"].(map[string]any)["cores"] = -1 })},
		{"negative count", "keys[0].samples", edit(func(s map[string]any) { key0(s)["samples"].(map[string]any)["warm"] = -3 })},
		{"empty function", "keys[0].function", edit(func(s map[string]any) { key0(s)["function"] = "" })},
		{"theta length", "keys[0].execute.theta", edit(func(s map[string]any) { key0(s)["execute"].(map[string]any)["theta"] = []float64{1} })},
		{"matrix size", "keys[0].io.a", edit(func(s map[string]any) { key0(s)["io"].(map[string]any)["a"] = []float64{1, 2, 3} })},
		{"asymmetric", "keys[0].response.a: not symmetric", edit(func(s map[string]any) { key0(s)["response"].(map[string]any)["a"] = []float64{1, 2, 3, 4} })},
		{"negative variance", "keys[0].response.a[0]", edit(func(s map[string]any) { key0(s)["response"].(map[string]any)["a"] = []float64{-1, 0, 0, 1} })},
		{"sketch index", "keys[0].cold_total.index[0]: 4097 out of", edit(func(s map[string]any) {
			key0(s)["cold_total"] = map[string]any{"index": []int{4097}, "count": []float64{1}}
		})},
		{"sketch count", "keys[0].residual.count[1]", edit(func(s map[string]any) {
			key0(s)["residual"] = map[string]any{"index": []int{1, 2}, "count": []float64{1, -1}}
		})},
		{"sketch lengths", "keys[0].cold_start: 2 indices for 1 counts", edit(func(s map[string]any) {
			key0(s)["cold_start"] = map[string]any{"index": []int{1, 2}, "count": []float64{1}}
		})},
		{"sketch overflow", "add up to infinity", edit(func(s map[string]any) {
			key0(s)["cold_start"] = map[string]any{"index": []int{1, 2}, "count": []float64{1e308, 1e308}}
		})},
		{"sketch zero", "keys[0].cold_start.zero", edit(func(s map[string]any) {
			key0(s)["cold_start"] = map[string]any{"zero": -1, "index": []int{}, "count": []float64{}}
		})},
		{"size class", "keys[0].sizes[0].class: 16 is not in", edit(func(s map[string]any) {
			key0(s)["sizes"] = []any{map[string]any{"class": 16, "latency_ms": []float64{1}, "size_mib": []float64{1}}}
		})},
		{"size class twice", "keys[0].sizes[1].class: 1 appears twice", edit(func(s map[string]any) {
			c := map[string]any{"class": 1, "latency_ms": []float64{1}, "size_mib": []float64{1.5 / 1024}}
			key0(s)["sizes"] = []any{c, c}
		})},
		{"size of another class", "keys[0].sizes[0].size_mib[0]: 1 MiB is not in class 1", edit(func(s map[string]any) {
			key0(s)["sizes"] = []any{map[string]any{"class": 1, "latency_ms": []float64{1}, "size_mib": []float64{1}}}
		})},
		{"size class lengths", "keys[0].sizes[0]: 2 latencies for 1 sizes", edit(func(s map[string]any) {
			key0(s)["sizes"] = []any{map[string]any{"class": 0, "latency_ms": []float64{1, 2}, "size_mib": []float64{0}}}
		})},
		{"size class window", "keys[0].sizes[0]: 33 samples, at most 32", edit(func(s map[string]any) {
			key0(s)["sizes"] = []any{map[string]any{"class": 0, "latency_ms": make([]float64, 33), "size_mib": make([]float64, 33)}}
		})},
		{"negative latency", "keys[0].sizes[0].latency_ms[0]", edit(func(s map[string]any) {
			key0(s)["sizes"] = []any{map[string]any{"class": 0, "latency_ms": []float64{-1}, "size_mib": []float64{0}}}
		})},
		{"unknown phase", "unknown phase", edit(func(s map[string]any) { key0(s)["cold_phases"] = map[string]any{"warp": map[string]any{}} })},
		{"negative memory", "keys[0].memory", edit(func(s map[string]any) { key0(s)["memory"].(map[string]any)["ewma"] = -1 })},
		{"duplicate key", "appears twice", edit(func(s map[string]any) { s["keys"] = append(s["keys"].([]any), s["keys"].([]any)[0]) })},
		{"arrival samples", "arrivals[0].samples", edit(func(s map[string]any) { s["arrivals"].([]any)[0].(map[string]any)["samples"] = -1 })},
		{"arrival sketch", "arrivals[0].interarrival.index[0]", edit(func(s map[string]any) {
			s["arrivals"].([]any)[0].(map[string]any)["interarrival"] = map[string]any{"index": []int{-5000}, "count": []float64{1}}
		})},
		{"arrival type", "not valid JSON", edit(func(s map[string]any) { s["arrivals"].([]any)[0].(map[string]any)["interarrival"] = "x" })},
		{"NaN literal", "not valid JSON", bytes.Replace(good, []byte(`"ewma":`), []byte(`"ewma":NaN,"x":`), 1)},
		{"huge number", "not valid JSON", bytes.Replace(good, []byte(`"ewma":`), []byte(`"ewma":1e999,"x":`), 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := trained(t, 3)
			before, _ := m.Export()
			err := m.Import(c.data)
			if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Import error %v, want ErrSnapshot mentioning %q", err, c.want)
			}
			if after, _ := m.Export(); !bytes.Equal(before, after) {
				t.Error("a rejected import changed the model")
			}
		})
	}
}

func TestCompare(t *testing.T) {
	a := trained(t, 4)
	// The other node is twice as slow at everything.
	slowEnv := Environment{CPUModel: "Slow CPU", Cores: 1}
	b := New(Config{Environment: &slowEnv})
	r := rand.New(rand.NewPCG(4, 99))
	now := t0
	for range 100 {
		for rt, tr := range runtimes {
			s := tr
			s.execBase, s.execPerMiB, s.ioBase, s.ioPerMiB, s.overBase, s.overPerMiB = 2*tr.execBase, 2*tr.execPerMiB, 2*tr.ioBase, 2*tr.ioPerMiB, 2*tr.overBase, 2*tr.overPerMiB
			now = now.Add(time.Millisecond)
			b.Observe(s.warm(r, "f", rt, []int{1 << 10, 16 << 10, 256 << 10}[r.IntN(3)], now))
		}
	}
	snap, err := b.Export()
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Compare(snap, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if c.Other.CPUModel != "Slow CPU" || len(c.Keys) != 3 {
		t.Fatalf("comparison %+v", c)
	}
	for _, k := range c.Keys {
		within(t, k.Runtime+" warm ratio", k.WarmRatio, 0.5, 0.1)
		if k.ColdRatio != 0 {
			t.Errorf("%s: cold ratio %v with no cold start on the other side", k.Runtime, k.ColdRatio)
		}
	}
	if _, err := a.Compare([]byte("{}"), 1024); !errors.Is(err, ErrSnapshot) {
		t.Errorf("Compare of a bad snapshot: %v", err)
	}
}

func FuzzImport(f *testing.F) {
	good, err := trained(f, 5).Export()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"environment":{},"keys":[],"arrivals":[]}`))
	f.Add([]byte(`{"version":1,"keys":[{"function":"f","runtime":"r","cold_total":{"index":[1],"count":[2]},"execute":{"theta":[0,0,0,0]}}]}`))
	f.Add([]byte(`{"version":1,"arrivals":[{"function":"f","interarrival":{"zero":3,"index":[-4096,4096],"count":[1,1e300]}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newTestModel(Config{})
		if err := m.Import(data); err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			return
		}
		// Whatever was accepted can be used and exported again.
		m.Overview()
		for name := range *m.fns.Load() {
			m.Function(name, 1<<20)
			m.Choose(name, 1024, []string{"a", "b"})
		}
		out, err := m.Export()
		if err != nil {
			t.Fatal(err)
		}
		if err := newTestModel(Config{}).Import(out); err != nil {
			t.Fatalf("re-import of an export failed: %v", err)
		}
		// Replace accepts what Import accepts, and is idempotent.
		if err := m.Replace(data); err != nil {
			t.Fatalf("Replace refused what Import accepted: %v", err)
		}
		once, err := m.Export()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Replace(data); err != nil {
			t.Fatal(err)
		}
		if twice, err := m.Export(); err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("replacing twice differs from once (%v)", err)
		}
	})
}
