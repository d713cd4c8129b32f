package functions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
	"github.com/lumos-edge/lumos/invoker/wasm"
)

func names(bs []functions.Bundled) []string {
	var n []string
	for _, b := range bs {
		n = append(n, b.Name)
	}
	return n
}

func TestSuiteCatalogue(t *testing.T) {
	want := []string{"hello", "fib", "prime", "nbody", "mandelbrot", "audio", "thumbnail", "fuzzy", "langdetect", "aes", "json", "gzip"}
	if got := names(functions.Suite()); !slices.Equal(got, want) {
		t.Fatalf("Suite() = %v, want %v", got, want)
	}
	var ws []string
	for _, w := range functions.Workloads() {
		ws = append(ws, w.Name)
		if w.Inputs == nil || w.Verify == nil {
			t.Errorf("%s: Inputs or Verify is nil", w.Name)
		}
	}
	if !slices.Equal(ws, want) {
		t.Fatalf("Workloads() = %v, want %v", ws, want)
	}
	for _, b := range append(functions.Suite(), functions.CFunctions()...) {
		if _, err := functions.Wasm(b.Name); err != nil {
			t.Error(err)
		}
		w, ok := functions.WorkloadOf(b.Name)
		if !ok || w.Name != b.Name {
			t.Errorf("WorkloadOf(%q) = %q, %v", b.Name, w.Name, ok)
		}
	}
	if _, ok := functions.WorkloadOf("echo"); ok {
		t.Error("echo has a workload")
	}
	// List keeps the gateway's defaults.
	if got := names(functions.List()); !slices.Equal(got, []string{"hello", "echo", "fib", "json"}) {
		t.Errorf("List() = %v", got)
	}
}

// TestSuiteWasm serves every workload's 1 KB input with the embedded
// module in wazero (one loop-ABI instance each) and verifies the answer.
func TestSuiteWasm(t *testing.T) {
	for _, w := range functions.Workloads() {
		t.Run(w.Name, func(t *testing.T) {
			t.Parallel()
			q, b := w.Inputs(1 << 10)
			stdin, err := frame.AppendRequest(nil, &invoker.Request{Method: "POST", Path: "/", Query: q, Body: b})
			if err != nil {
				t.Fatal(err)
			}
			r := runModule(context.Background(), t, w.Name, []string{"LUMOS_ABI=loop"}, stdin)
			if r.err != nil {
				t.Fatalf("exit: %v, stderr %q", r.err, r.stderr.String())
			}
			resp, err := frame.ReadResponse(&r.stdout, frame.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 {
				t.Fatalf("status %d %.200q", resp.Status, resp.Body)
			}
			if err := w.Verify(q, b, resp.Body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVerifyRejects offers each Verify a plausible wrong answer.
func TestVerifyRejects(t *testing.T) {
	wrong := map[string]string{
		"hello":      "Hello, World!\n",
		"fib":        `{"number":20,"result":6766}`,
		"prime":      `{"limit":8192,"count":1029,"last":8191}`, // pi(8192) is 1028
		"nbody":      `{"n":512,"energy_before":-0.169075164,"energy_after":-0.169075100}`,
		"mandelbrot": "P4\n88 88\n" + strings.Repeat("\xff", 11*88),
		"audio":      "RIFF",
		"thumbnail":  "\xff\xd8\xff\xe0",
		"fuzzy":      `{"search_term":"kittne","words":1,"matches":[{"word":"kitten","distance":2,"offset":0,"count":1}]}`,
		"langdetect": `{"language":"en","name":"English","confidence":0.5,"distances":{"en":1}}`,
		"aes":        `{"op":"encrypt","ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		"json":       `{"stats":{},"result":[]}`,
		"gzip":       "\x1f\x8b\x08\x00\x00\x00\x00\x00",
	}
	for _, w := range functions.Workloads() {
		q, b := w.Inputs(1 << 10)
		for _, resp := range []string{wrong[w.Name], "", "null", `{"error":"x"}`} {
			if err := w.Verify(q, b, []byte(resp)); !errors.Is(err, functions.ErrWrongAnswer) {
				t.Errorf("%s: Verify(%.60q) = %v, want ErrWrongAnswer", w.Name, resp, err)
			}
		}
	}
}

// TestCFunctions runs the C modules on wazero through invoker/wasm with
// the cgi ABI, and the Go modules through the loop ABI, and wants the
// same answers (status and body) from both, errors included (status only:
// the messages are worded alike but not byte for byte).
func TestCFunctions(t *testing.T) {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{Engine: wasm.Interpreter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	load := func(name string, abi invoker.ABI) invoker.Function {
		mod, err := functions.Wasm(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := rt.Load(ctx, invoker.Spec{Name: name, ABI: abi, Digest: "sha256:" + name,
			Artifact: func(context.Context) ([]byte, error) { return mod, nil }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close(ctx) })
		return f
	}
	invoke := func(f invoker.Function, req *invoker.Request) *invoker.Response {
		inst, err := f.NewInstance(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(ctx)
		resp, err := inst.Invoke(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	reqs := map[string][]*invoker.Request{
		"fib": {
			{Method: "GET", Path: "/", Query: "n=20"},
			{Method: "GET", Path: "/", Query: "x=1&n=%32%35"},
			{Method: "POST", Path: "/", Body: []byte(`{"number": 15}`)},
			{Method: "POST", Path: "/", Body: []byte(`{"number": "12"}`)},
			{Method: "POST", Path: "/", Query: "n=3", Body: []byte(`{"number": 15}`)},
			{Method: "GET", Path: "/", Query: "n=0"},
			{Method: "GET", Path: "/"},
			{Method: "GET", Path: "/", Query: "n=51"},
			{Method: "GET", Path: "/", Query: "n=-1"},
			{Method: "GET", Path: "/", Query: "n=ten"},
			{Method: "POST", Path: "/", Body: []byte(`{"n": 20}`)},
		},
		"prime": {
			{Method: "GET", Path: "/", Query: "limit=100"},
			{Method: "POST", Path: "/", Body: []byte(`{"limit": 1000000}`)},
			{Method: "GET", Path: "/", Query: "limit=2"},
			{Method: "GET", Path: "/", Query: "limit=1"},
			{Method: "GET", Path: "/", Query: "limit=7919"},
			{Method: "GET", Path: "/"},
			{Method: "GET", Path: "/", Query: "limit=100000001"},
			{Method: "GET", Path: "/", Query: "limit=x"},
			{Method: "POST", Path: "/", Body: []byte(`{"max": 20}`)},
		},
	}
	for _, name := range []string{"fib", "prime"} {
		t.Run(name, func(t *testing.T) {
			c, g := load("c-"+name, invoker.ABICGI), load(name, invoker.ABILoop)
			w, _ := functions.WorkloadOf("c-" + name)
			for _, req := range reqs[name] {
				cr, gr := invoke(c, req), invoke(g, req)
				if cr.Status != gr.Status || cr.Status == 200 && string(cr.Body) != string(gr.Body) {
					t.Errorf("%s %q %q: C %d %q, Go %d %q", name, req.Query, req.Body, cr.Status, cr.Body, gr.Status, gr.Body)
				}
				if cr.Status != 200 && !strings.Contains(string(cr.Body), "\n") {
					t.Errorf("%s %q: error body %q", name, req.Query, cr.Body)
				}
			}
			for _, size := range []int{1 << 10, 256 << 10} {
				q, b := w.Inputs(size)
				resp := invoke(c, &invoker.Request{Method: "POST", Path: "/", Query: q, Body: b})
				if err := w.Verify(q, b, resp.Body); resp.Status != 200 || err != nil {
					t.Errorf("c-%s at %d bytes: %d %v", name, size, resp.Status, err)
				}
			}
		})
	}
}
