package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/valyala/fasthttp"

	"github.com/lumos-edge/lumos/gateway/store"
)

// Example deploys a function from an uploaded artifact and invokes it
// through the gateway's handler. cmd/lumos does the same with the real
// runtimes and serves the handler with Serve.
func Example() {
	dir, err := os.MkdirTemp("", "lumos-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	creds, _, err := st.EnsureCredentials()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	g, err := New(ctx, Config{
		Runtimes:       map[string]Runtime{"wasm-interp": noopRuntime()},
		DefaultRuntime: "wasm-interp",
		Store:          st,
		Credentials:    Credentials(creds),
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close(ctx)

	digest, err := g.PutArtifact([]byte("module bytes"))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = g.Deploy(ctx, FunctionDeployment{
		Service:     "hello",
		Image:       digest,
		Annotations: map[string]string{AnnotationABI: "loop", AnnotationTimeout: "5s"},
		Labels:      map[string]string{LabelScaleMin: "1"},
	}, false)
	if err != nil {
		fmt.Println(err)
		return
	}

	var rc fasthttp.RequestCtx
	rc.Request.SetRequestURI("/function/hello")
	g.Handler()(&rc)
	fmt.Println(rc.Response.StatusCode(), string(rc.Response.Body()))
	// Output: 200 hello
}
