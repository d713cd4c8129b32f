// Command lumos is the Lumos serverless gateway and its command-line client.
//
//	lumos serve                      run the gateway (bundled functions deployed)
//	lumos build DIR -o F.tar         build a function's Go source into an image (or a module)
//	lumos deploy NAME --wasm F.wasm  upload a module and deploy it (or --build DIR, --image REF)
//	lumos invoke NAME                call a function
//	lumos list | describe | scale | rm
//	lumos bench [--quick] [--url URL]   benchmark the runtimes and write a report
//	lumos model [NAME]               what the performance model learned, and its advice
//
// This package is the only place that reads flags and the environment and
// wires the packages together.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lumos:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "lumos",
		Short:         "Lumos: a serverless gateway for the edge with built-in profiling",
		Long:          "Lumos serves functions over HTTP from warm pools of WebAssembly instances\n(wazero, interpreted or compiled ahead of time). Its HTTP API follows the OpenFaaS gateway API.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cf := &clientFlags{}
	root.AddCommand(
		newServeCmd(),
		newBuildCmd(),
		newDeployCmd(cf),
		newInvokeCmd(cf),
		newListCmd(cf),
		newDescribeCmd(cf),
		newScaleCmd(cf),
		newRmCmd(cf),
		newBenchCmd(),
		newModelCmd(cf),
	)
	return root
}
