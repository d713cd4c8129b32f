package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lumos-edge/lumos/gateway"
)

func newDeployCmd(cf *clientFlags) *cobra.Command {
	var (
		wasmFile, buildDir, arch, image, runtime, abi, memory, timeout string
		envs, labels, annotations                                      []string
		minWarm, maxInst                                               int
	)
	cmd := &cobra.Command{
		Use:   "deploy NAME (--wasm FILE | --build DIR | --image IMAGE)",
		Short: "Deploy a function (creates or updates) from a Wasm module, Go source, or an image",
		Long: `Deploy uploads an artifact and deploys it as the function NAME, or updates NAME.
The artifact is one of:
  --wasm FILE   a WebAssembly module (runtime wasm-aot or wasm-interp)
  --build DIR   the Go main package in DIR, built here (see 'lumos build'): a container
                image for runtime container (the default with --build), whose architecture
                is the gateway's, or a wasip1 module for --runtime wasm-aot/wasm-interp
  --image IMAGE an artifact already uploaded (sha256:<hex>), or the name of an image already
                in containerd's namespace of the gateway (runtime container, the default then)`,
		Example: `  lumos deploy hello2 --wasm hello.wasm --runtime wasm-aot --abi loop
  lumos deploy cat --wasm cat.wasm --abi cgi --runtime wasm-interp --memory 32Mi --timeout 5s
  lumos deploy myfunc --build ./myfunc --abi loop
  lumos deploy myfunc --image registry.local/myfunc:v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if n := btoi(wasmFile != "") + btoi(buildDir != "") + btoi(image != ""); n != 1 {
				return errors.New("give exactly one of --wasm, --build and --image")
			}
			if runtime == "" && (buildDir != "" || image != "" && !gateway.ImageIsArtifact(image)) {
				runtime = runtimeContainer
			}
			var data []byte
			switch {
			case wasmFile != "":
				if data, err = os.ReadFile(wasmFile); err != nil {
					return err
				}
			case buildDir != "":
				o := buildOptions{runtime: runtime, arch: arch}
				if !o.wasm() && o.arch == "" {
					var info gateway.InfoResponse
					if err := c.doJSON(ctx, http.MethodGet, "/system/info", nil, &info); err != nil {
						return fmt.Errorf("ask the gateway its architecture: %w", err)
					}
					o.arch = info.Arch
				}
				if data, err = buildFunction(ctx, buildDir, o); err != nil {
					return err
				}
			}
			if data != nil {
				var art struct {
					Digest string `json:"digest"`
				}
				if err := c.do(ctx, http.MethodPost, "/system/artifacts", bytes.NewReader(data), "application/octet-stream", &art); err != nil {
					return fmt.Errorf("upload %s%s: %w", wasmFile, buildDir, err)
				}
				image = art.Digest
			}
			d := gateway.FunctionDeployment{Service: args[0], Image: image}
			if d.EnvVars, err = keyValues(envs, "--env"); err != nil {
				return err
			}
			if d.Labels, err = keyValues(labels, "--label"); err != nil {
				return err
			}
			if d.Annotations, err = keyValues(annotations, "--annotation"); err != nil {
				return err
			}
			setIf := func(m *map[string]string, k, v string) {
				if v == "" {
					return
				}
				if *m == nil {
					*m = map[string]string{}
				}
				(*m)[k] = v
			}
			setIf(&d.Annotations, "lumos.runtime", runtime)
			setIf(&d.Annotations, "lumos.abi", abi)
			setIf(&d.Annotations, "lumos.timeout", timeout)
			if cmd.Flags().Changed("min") {
				setIf(&d.Labels, "com.openfaas.scale.min", fmt.Sprint(minWarm))
			}
			if cmd.Flags().Changed("max") {
				setIf(&d.Labels, "com.openfaas.scale.max", fmt.Sprint(maxInst))
			}
			if memory != "" {
				d.Limits = &gateway.FunctionResources{Memory: memory}
			}
			err = c.doJSON(ctx, http.MethodPost, "/system/functions", d, nil)
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusConflict {
				err = c.doJSON(ctx, http.MethodPut, "/system/functions", d, nil)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deployed %s (%s)\n%s/function/%s\n", d.Service, image, c.base, d.Service)
			return nil
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&wasmFile, "wasm", "", "WebAssembly module to upload and deploy")
	fl.StringVar(&buildDir, "build", "", "directory of a Go main package to build, upload and deploy")
	fl.StringVar(&arch, "arch", "", "with --build: GOARCH of the container image (default: the gateway's)")
	fl.StringVar(&image, "image", "", "an artifact already uploaded (sha256:...), or an image in the gateway's containerd namespace")
	fl.StringVar(&runtime, "runtime", "", "runtime: wasm-aot, wasm-interp or container (default: the gateway's; container with --build or an image name)")
	fl.StringVar(&abi, "abi", "", "function ABI: loop or cgi (default loop)")
	fl.StringVar(&memory, "memory", "", "memory limit per instance, e.g. 64Mi")
	fl.StringVar(&timeout, "timeout", "", "invocation timeout, e.g. 10s")
	fl.IntVar(&minWarm, "min", 0, "instances kept warm (com.openfaas.scale.min)")
	fl.IntVar(&maxInst, "max", 0, "maximum instances (com.openfaas.scale.max)")
	fl.StringArrayVarP(&envs, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringArrayVarP(&labels, "label", "l", nil, "label KEY=VALUE (repeatable)")
	fl.StringArrayVarP(&annotations, "annotation", "a", nil, "annotation KEY=VALUE (repeatable)")
	return cmd
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func keyValues(pairs []string, flag string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

func newInvokeCmd(cf *clientFlags) *cobra.Command {
	var (
		data, dataFile, method, path, query string
		headers                             []string
		verbose                             bool
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Call a function and print its answer",
		Example: `  lumos invoke hello
  lumos invoke fib --query n=25
  echo '{"a":1}' | lumos invoke json --data-file -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var body io.Reader
			switch {
			case dataFile == "-":
				body = cmd.InOrStdin()
			case dataFile != "":
				f, err := os.Open(dataFile)
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
			case data != "":
				body = strings.NewReader(data)
			}
			u := c.base + "/function/" + url.PathEscape(args[0]) + path
			if query != "" {
				u += "?" + query
			}
			if method == "" {
				method = http.MethodGet
				if body != nil {
					method = http.MethodPost
				}
			}
			req, err := http.NewRequestWithContext(cmd.Context(), method, u, body)
			if err != nil {
				return err
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return fmt.Errorf("--header %q: want Name: value", h)
				}
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			resp, err := c.http.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if verbose {
				fmt.Fprintln(cmd.ErrOrStderr(), resp.Proto, resp.Status)
				for k, vs := range resp.Header {
					for _, v := range vs {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", k, v)
					}
				}
			}
			if _, err := io.Copy(cmd.OutOrStdout(), resp.Body); err != nil {
				return err
			}
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("function answered %s", resp.Status)
			}
			return nil
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&data, "data", "d", "", "request body")
	fl.StringVar(&dataFile, "data-file", "", "read the request body from a file (- for stdin)")
	fl.StringVarP(&method, "method", "X", "", "HTTP method (default GET, or POST with a body)")
	fl.StringVar(&path, "path", "", "subpath after /function/NAME, e.g. /users/1")
	fl.StringVarP(&query, "query", "q", "", "raw query string, e.g. n=25")
	fl.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "print status and headers to stderr")
	return cmd
}

func newListCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deployed functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var fns []gateway.FunctionStatus
			if err := c.doJSON(cmd.Context(), http.MethodGet, "/system/functions", nil, &fns); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tRUNTIME\tABI\tINVOCATIONS\tREPLICAS\tIMAGE")
			orDefault := func(v string) string {
				if v == "" {
					return "(default)"
				}
				return v
			}
			for _, f := range fns {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", f.Name, orDefault(f.Annotations["lumos.runtime"]), orDefault(f.Annotations["lumos.abi"]),
					int64(f.InvocationCount), f.Replicas, shortDigest(f.Image))
			}
			return w.Flush()
		},
	}
	cf.register(cmd)
	return cmd
}

func shortDigest(d string) string {
	if len(d) > 19 && strings.HasPrefix(d, "sha256:") {
		return d[:19]
	}
	return d
}

func newDescribeCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a function's deployment and status as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var st json.RawMessage
			if err := c.doJSON(cmd.Context(), http.MethodGet, "/system/function/"+url.PathEscape(args[0]), nil, &st); err != nil {
				return err
			}
			var out bytes.Buffer
			if err := json.Indent(&out, st, "", "  "); err != nil {
				return err
			}
			out.WriteByte('\n')
			_, err = out.WriteTo(cmd.OutOrStdout())
			return err
		},
	}
	cf.register(cmd)
	return cmd
}

func newScaleCmd(cf *clientFlags) *cobra.Command {
	var replicas int
	cmd := &cobra.Command{
		Use:   "scale NAME --replicas N",
		Short: "Set how many instances a function keeps warm (0 scales to zero)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return errors.New("--replicas is required")
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			req := gateway.ScaleServiceRequest{ServiceName: args[0], Replicas: uint64(max(replicas, 0))}
			if replicas < 0 {
				return errors.New("--replicas must be >= 0")
			}
			if err := c.doJSON(cmd.Context(), http.MethodPost, "/system/scale-function/"+url.PathEscape(args[0]), req, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scaled %s to %d\n", args[0], replicas)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&replicas, "replicas", 0, "instances to keep warm")
	return cmd
}

func newRmCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a deployed function",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			req := gateway.DeleteFunctionRequest{FunctionName: args[0]}
			if err := c.doJSON(cmd.Context(), http.MethodDelete, "/system/functions", req, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
