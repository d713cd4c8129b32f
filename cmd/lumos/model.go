package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lumos-edge/lumos/gateway"
	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/profiler/model"
)

// Where the model's snapshot persists in the store, and how often.
const (
	modelBucket       = "model"
	modelSnapshotKey  = "snapshot"
	modelSaveInterval = 30 * time.Second
)

// modelRecorder feeds every invocation record to the performance model,
// then to the profiler (when there is one).
type modelRecorder struct {
	model *model.Model
	next  gateway.Recorder // nil: no profiler
}

var _ gateway.Recorder = modelRecorder{}

// Begin implements gateway.Recorder: the profiler's trace context, or none.
func (r modelRecorder) Begin(inv *invoker.Invocation, call gateway.Call) gateway.TraceContext {
	if r.next == nil {
		return gateway.TraceContext{}
	}
	return r.next.Begin(inv, call)
}

// Record implements gateway.Recorder: the model learns from inv, then the
// profiler records it (and may keep it).
func (r modelRecorder) Record(inv *invoker.Invocation) bool {
	r.model.Observe(inv)
	if r.next == nil {
		return false
	}
	return r.next.Record(inv)
}

// observeRecorder hands every invocation record to observe
// (serveOptions.observe: benchmarks read the records), then to next (when
// there is one), which may keep it.
type observeRecorder struct {
	observe func(*invoker.Invocation)
	next    gateway.Recorder
}

var _ gateway.Recorder = observeRecorder{}

// Begin implements gateway.Recorder: next's trace context, or none.
func (r observeRecorder) Begin(inv *invoker.Invocation, call gateway.Call) gateway.TraceContext {
	if r.next == nil {
		return gateway.TraceContext{}
	}
	return r.next.Begin(inv, call)
}

// Record implements gateway.Recorder.
func (r observeRecorder) Record(inv *invoker.Invocation) bool {
	r.observe(inv)
	return r.next != nil && r.next.Record(inv)
}

// blobStore is where the model's snapshot persists (*store.Store).
type blobStore interface {
	Blob(bucket, key string) ([]byte, error)
	PutBlob(bucket, key string, value []byte) error
}

// loadModel imports the stored snapshot into m. A missing one is normal
// (first start); a bad one is logged and the model starts empty.
func loadModel(st blobStore, m *model.Model, log *slog.Logger) {
	data, err := st.Blob(modelBucket, modelSnapshotKey)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err == nil {
		err = m.Import(data)
	}
	if err != nil {
		log.Error("model: cannot load the stored snapshot; starting empty", "err", err)
	}
}

// saveModel stores m's snapshot.
func saveModel(st blobStore, m *model.Model) error {
	data, err := m.Export()
	if err != nil {
		return err
	}
	return st.PutBlob(modelBucket, modelSnapshotKey, data)
}

// modelSaver saves the model's snapshot every interval until stopped.
type modelSaver struct {
	stop chan struct{}
	done chan struct{}
}

func startModelSaver(st blobStore, m *model.Model, interval time.Duration, log *slog.Logger) *modelSaver {
	s := &modelSaver{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if err := saveModel(st, m); err != nil {
					log.Error("model: cannot save the snapshot", "err", err)
				}
			}
		}
	}()
	return s
}

// Stop ends the periodic saves and waits for one in progress.
func (s *modelSaver) Stop() {
	close(s.stop)
	<-s.done
}

// modelOptions are the flags of `lumos model`.
type modelOptions struct {
	bytes   int64
	json    bool
	export  string
	imp     string
	replace bool
	compare string
}

func newModelCmd(cf *clientFlags) *cobra.Command {
	o := modelOptions{}
	cmd := &cobra.Command{
		Use:   "model [NAME]",
		Short: "Show what the performance model learned (per runtime: cold and warm latency, I/O share, memory, error, advice)",
		Long: "Show the gateway's performance model: for every function (or NAME) and runtime, predicted cold and\n" +
			"warm p50/p99 at --bytes of request, the I/O-serialization share, memory, samples, confidence, the\n" +
			"model's live error, and its recommendation with the reason. --export and --import move the model\n" +
			"between gateways as JSON: --import merges the snapshot into the gateway's model (POST), counts add\n" +
			"up; with --replace the snapshot replaces the model (PUT). --compare compares this gateway's model\n" +
			"with an exported one.",
		Example: `  lumos model
  lumos model fib --bytes 65536
  lumos model --export cloud.json
  lumos model --import cloud.json
  lumos model --import cloud.json --replace
  lumos model --compare cloud.json --bytes 1048576`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(cmd, args); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), c, cmd.OutOrStdout(), cmd.InOrStdin(), args)
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&o.bytes, "bytes", model.DefaultBytes, "request size the predictions are made at, bytes")
	fl.BoolVar(&o.json, "json", false, "print the model's JSON document instead of a table")
	fl.StringVar(&o.export, "export", "", "write the model's snapshot (JSON) to FILE (- for stdout)")
	fl.StringVar(&o.imp, "import", "", "merge the snapshot in FILE (- for stdin) into the gateway's model")
	fl.BoolVar(&o.replace, "replace", false, "with --import: replace the gateway's model with the snapshot instead of merging")
	fl.StringVar(&o.compare, "compare", "", "compare the gateway's model with the snapshot in FILE")
	cf.register(cmd)
	return cmd
}

func (o *modelOptions) validate(cmd *cobra.Command, args []string) error {
	n := 0
	for _, f := range []string{o.export, o.imp, o.compare} {
		if f != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("use at most one of --export, --import and --compare")
	case n == 1 && len(args) > 0:
		return errors.New("--export, --import and --compare cover the whole model: give no NAME")
	case o.bytes < 0:
		return fmt.Errorf("--bytes %d: want a non-negative size", o.bytes)
	case cmd.Flags().Changed("bytes") && len(args) == 0 && o.compare == "":
		return errors.New("--bytes needs a NAME (or --compare)")
	case o.replace && o.imp == "":
		return errors.New("--replace applies to --import only")
	case o.json && (o.export != "" || o.imp != ""):
		return errors.New("--json applies to the documents, not to --export or --import (snapshots are JSON already)")
	}
	return nil
}

func (o *modelOptions) run(ctx context.Context, c *client, out io.Writer, in io.Reader, args []string) error {
	switch {
	case o.export != "":
		data, err := c.raw(ctx, http.MethodGet, "/system/model-snapshot", nil)
		if err != nil {
			return err
		}
		if o.export == "-" {
			_, err = out.Write(data)
			return err
		}
		if err := os.WriteFile(o.export, data, 0o644); err != nil {
			return fmt.Errorf("--export: %w", err)
		}
		fmt.Fprintf(out, "exported the model to %s (%d bytes)\n", o.export, len(data))
		return nil
	case o.imp != "":
		data, err := readInput(o.imp, in)
		if err != nil {
			return fmt.Errorf("--import: %w", err)
		}
		method, did := http.MethodPost, "merged %s into the model\n" // POST merges
		if o.replace {
			method, did = http.MethodPut, "replaced the model with %s\n" // PUT replaces
		}
		if _, err := c.raw(ctx, method, "/system/model-snapshot", data); err != nil {
			return err
		}
		fmt.Fprintf(out, did, o.imp)
		return nil
	case o.compare != "":
		other, err := readInput(o.compare, in)
		if err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		mine, err := c.raw(ctx, http.MethodGet, "/system/model-snapshot", nil)
		if err != nil {
			return err
		}
		cmp, err := model.CompareSnapshots(mine, other, int(o.bytes))
		if err != nil {
			return fmt.Errorf("--compare %s: %w", o.compare, err)
		}
		if o.json {
			return printJSON(out, cmp)
		}
		return printComparison(out, cmp, o.compare)
	case len(args) == 1:
		path := "/system/model/" + url.PathEscape(args[0]) + "?bytes=" + strconv.FormatInt(o.bytes, 10)
		if o.json {
			return c.printRaw(ctx, out, path)
		}
		var doc model.FunctionDoc
		if err := c.doJSON(ctx, http.MethodGet, path, nil, &doc); err != nil {
			return err
		}
		return printFunction(out, doc)
	default:
		if o.json {
			return c.printRaw(ctx, out, "/system/model")
		}
		var ov model.Overview
		if err := c.doJSON(ctx, http.MethodGet, "/system/model", nil, &ov); err != nil {
			return err
		}
		return printOverview(out, ov)
	}
}

func readInput(name string, in io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(in)
	}
	return os.ReadFile(name)
}

// raw sends body (nil: none) and returns the answer's body.
func (c *client) raw(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var data json.RawMessage
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	if err := c.do(ctx, method, path, r, "application/json", &data); err != nil {
		return nil, err
	}
	return data, nil
}

// printRaw prints the JSON answer of GET path, indented.
func (c *client) printRaw(ctx context.Context, out io.Writer, path string) error {
	data, err := c.raw(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err != nil {
		return fmt.Errorf("decode answer of GET %s: %w", path, err)
	}
	b.WriteByte('\n')
	_, err = b.WriteTo(out)
	return err
}

func printJSON(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

// msString prints milliseconds as a duration; "-" when unknown (0).
func msString(v float64) string {
	if v <= 0 {
		return "-"
	}
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// sizeString prints bytes in binary units; "-" when unknown (0).
func sizeString(b int64) string {
	switch {
	case b <= 0:
		return "-"
	case b >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%dB", b)
}

func errString(e model.LiveError) string {
	if e.Scored == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", e.MAPE*100)
}

func ratioString(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3gx", r)
}

const runtimeHeader = "RUNTIME\tABI\tCOLD P50\tCOLD P99\tWARM P50\tWARM P99\tIO SHARE\tMEMORY\tSAMPLES C/W\tCONFIDENCE\tERROR"

func runtimeRow(d model.RuntimeDoc) string {
	rt := d.Runtime
	if d.Extrapolated {
		rt += "*"
	}
	ioShare := "-"
	if d.WarmP50Ms > 0 {
		ioShare = fmt.Sprintf("%.0f%%", d.IOShare*100)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s", rt, d.ABI, msString(d.ColdP50Ms), msString(d.ColdP99Ms),
		msString(d.WarmP50Ms), msString(d.WarmP99Ms), ioShare, sizeString(d.MemoryBytes), d.Samples.Cold, d.Samples.Warm, d.Confidence, errString(d.Error))
}

// printFunction prints one function's document as a table and its advice.
func printFunction(out io.Writer, doc model.FunctionDoc) error {
	fmt.Fprintf(out, "%s, requests of %s (%d bytes):\n", doc.Function, sizeString(int64(doc.Bytes)), doc.Bytes)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, runtimeHeader)
	var extrapolated []string
	for _, d := range doc.Runtimes {
		fmt.Fprintln(w, runtimeRow(d))
		if d.Extrapolated {
			extrapolated = append(extrapolated, fmt.Sprintf("%s from %s", d.Runtime, d.From))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(extrapolated) > 0 {
		fmt.Fprintf(out, "* extrapolated across functions (never run here): %s\n", strings.Join(extrapolated, ", "))
	}
	r := doc.Recommendation
	if r.Runtime == "" {
		_, err := fmt.Fprintf(out, "Recommendation: none. %s\n", r.Reason)
		return err
	}
	_, err := fmt.Fprintf(out, "Recommendation: runtime %s, idle timeout %s, prewarm %d. %s\n", r.Runtime, r.IdleTimeout, r.Prewarm, r.Reason)
	return err
}

// printOverview prints every function's table, the runtime relations and
// the environment.
func printOverview(out io.Writer, ov model.Overview) error {
	e := ov.Environment
	fmt.Fprintf(out, "Model learned on %s, %d cores, %s memory, %s %s/%s (wazero %s, containerd %s)\n",
		orDash(e.CPUModel), e.Cores, sizeString(e.MemoryBytes), orDash(e.GoVersion), e.OS, e.Arch, orDash(e.Wazero), orDash(e.Containerd))
	for _, o := range ov.Origins {
		fmt.Fprintf(out, "  with a snapshot imported from %s, %d cores\n", orDash(o.CPUModel), o.Cores)
	}
	if len(ov.Functions) == 0 {
		_, err := fmt.Fprintln(out, "No function observed yet.")
		return err
	}
	for _, f := range ov.Functions {
		fmt.Fprintln(out)
		if err := printFunction(out, f); err != nil {
			return err
		}
	}
	if len(ov.Relations) > 0 {
		fmt.Fprintln(out, "\nRuntime relations (geometric mean over functions run on both):")
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "A\tB\tWARM A/B\tCOLD A/B\tFUNCTIONS")
		for _, r := range ov.Relations {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", r.A, r.B, ratioString(r.WarmRatio), ratioString(r.ColdRatio), r.Functions)
		}
		return w.Flush()
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printComparison prints the ratios of this gateway's predictions to file's.
func printComparison(out io.Writer, c model.Comparison, file string) error {
	fmt.Fprintf(out, "This gateway (%s, %d cores) against %s (%s, %d cores), requests of %d bytes:\n",
		orDash(c.Environment.CPUModel), c.Environment.Cores, file, orDash(c.Other.CPUModel), c.Other.Cores, c.Bytes)
	if len(c.Keys) == 0 {
		_, err := fmt.Fprintln(out, "No function and runtime in common.")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "FUNCTION\tRUNTIME\tABI\tWARM P50\tTHEIRS\tRATIO\tCOLD P50\tTHEIRS\tRATIO")
	for _, k := range c.Keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Function, k.Runtime, k.ABI, msString(k.WarmP50Ms), msString(k.OtherWarm),
			ratioString(k.WarmRatio), msString(k.ColdP50Ms), msString(k.OtherCold), ratioString(k.ColdRatio))
	}
	return w.Flush()
}
