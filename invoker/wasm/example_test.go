package wasm_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/wasm"
)

// Example serves a cgi function: Load validates and compiles at deploy
// time, NewInstance prewarms, Invoke runs the guest once.
func Example() {
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Config{Engine: wasm.Interpreter})
	if err != nil {
		panic(err)
	}
	defer r.Close(ctx)
	bin, err := os.ReadFile("testdata/thirdparty/zig-cc-cat.wasm")
	if err != nil {
		panic(err)
	}
	f, err := r.Load(ctx, invoker.Spec{
		Name:     "cat",
		ABI:      invoker.ABICGI,
		Digest:   "sha256:example",
		Artifact: func(context.Context) ([]byte, error) { return bin, nil },
	})
	if err != nil {
		panic(err)
	}
	defer f.Close(ctx)
	inst, err := f.NewInstance(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer inst.Close(ctx)
	resp, err := inst.Invoke(ctx, &invoker.Request{Method: "GET", Path: "/"}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Name(), resp.Status, resp.Header[0].Value, len(resp.Body))
	// Output: wasm-interp 200 text/plain; charset=utf-8 0
}
