package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lumos-edge/lumos/invoker"
)

// RuntimeAuto is the lumos.runtime of a function whose runtime the gateway
// chooses per invocation: the function is loaded on every candidate runtime
// that accepts it, and Config.Chooser picks one for each invocation.
const RuntimeAuto = "auto"

// knownOrder is the head of the fixed candidate order of runtime auto;
// runtimes not named here follow, sorted by name.
var knownOrder = [...]string{"wasm-aot", "wasm-interp", "container"}

// Chooser picks, per invocation, the runtime of a function deployed with
// runtime "auto". It runs on the request path: it must be cheap (no
// allocation, no blocking).
type Chooser interface {
	// Choose returns the index in candidates (runtime names, fixed order for the
	// function's version) of the runtime that serves an invocation of function
	// whose request body has requestBytes. candidates belongs to the gateway:
	// read it, never change or keep it. An index out of range means 0.
	Choose(function string, requestBytes int, candidates []string) int
}

// SkippedRuntime is a candidate of runtime auto that did not load the
// function, and why.
type SkippedRuntime struct {
	Runtime string `json:"runtime"`
	Reason  string `json:"reason"`
}

// candidateOrder returns the names of runtimes in the candidate order:
// wasm-aot, wasm-interp, container, then the others sorted.
func candidateOrder[R any](runtimes map[string]R) []string {
	out := make([]string, 0, len(runtimes))
	for _, name := range knownOrder {
		if _, ok := runtimes[name]; ok {
			out = append(out, name)
		}
	}
	var rest []string
	for name := range runtimes {
		if !slices.Contains(knownOrder[:], name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// parseCandidates reads annotation lumos.candidates: runtime names separated
// by commas (spaces around them allowed). It checks the syntax only; the
// gateway checks the names against its runtimes. Absent, it returns nil.
func parseCandidates(a map[string]string) ([]string, error) {
	v, ok := a[AnnotationCandidates]
	if !ok {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fieldError("annotations", AnnotationCandidates, v, "want runtime names separated by commas, none empty")
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// candidates returns the runtimes a deployment with set loads on: its one
// runtime, or for runtime auto the configured runtimes in candidate order,
// restricted to lumos.candidates when set. Every name must be configured.
func (g *Gateway) candidates(set settings) ([]string, error) {
	for _, name := range set.candidates {
		if _, ok := g.cfg.Runtimes[name]; !ok {
			return nil, fieldError("annotations", AnnotationCandidates, strings.Join(set.candidates, ","),
				fmt.Sprintf("unknown runtime %q (configured: %s)", name, strings.Join(g.order, ", ")))
		}
	}
	if set.runtime != RuntimeAuto {
		if _, ok := g.cfg.Runtimes[set.runtime]; !ok {
			return nil, fieldError("annotations", AnnotationRuntime, set.runtime,
				fmt.Sprintf("unknown runtime (configured: %s, or %s)", strings.Join(g.order, ", "), RuntimeAuto))
		}
		return []string{set.runtime}, nil
	}
	if set.candidates == nil {
		return g.order, nil
	}
	out := make([]string, 0, len(set.candidates))
	for _, name := range g.order {
		if slices.Contains(set.candidates, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// loadVariants loads spec on each of runtimes. For a concrete runtime (auto
// false) its error is the deploy's. For runtime auto a candidate that
// refuses the artifact (invoker.ErrInvalidArtifact) or is unavailable
// (invoker.ErrUnavailable) is skipped and reported in skipped; when none is
// left the error names each candidate's reason, and wraps
// invoker.ErrUnavailable if any candidate was only unavailable (the function
// may load once it is back: a restore stays pending), else ErrBadRequest.
// Any other error fails the deploy.
func (g *Gateway) loadVariants(ctx context.Context, name string, auto bool, runtimes []string, spec invoker.Spec) (
	[]variant, []SkippedRuntime, error) {
	if !auto {
		fn, err := g.cfg.Runtimes[runtimes[0]].Load(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("load function %q with runtime %s: %w", name, runtimes[0], err)
		}
		return []variant{{runtime: runtimes[0], fn: fn}}, nil, nil
	}
	var vs []variant
	var skipped []SkippedRuntime
	unavailable := false
	for _, rn := range runtimes {
		fn, err := g.cfg.Runtimes[rn].Load(ctx, spec)
		switch {
		case err == nil:
			vs = append(vs, variant{runtime: rn, fn: fn})
		case errors.Is(err, invoker.ErrInvalidArtifact), errors.Is(err, invoker.ErrUnavailable):
			unavailable = unavailable || !errors.Is(err, invoker.ErrInvalidArtifact)
			skipped = append(skipped, SkippedRuntime{Runtime: rn, Reason: err.Error()})
			g.log.Info("runtime auto: candidate skipped", logKeyFunction, name, logKeyRuntime, rn, logKeyErr, err)
		default:
			g.closeQuietly(name, vs)
			return nil, nil, fmt.Errorf("load function %q with runtime %s (candidate of %s): %w", name, rn, RuntimeAuto, err)
		}
	}
	if len(vs) > 0 {
		return vs, skipped, nil
	}
	reasons := make([]string, 0, len(skipped))
	for _, s := range skipped {
		reasons = append(reasons, s.Runtime+": "+s.Reason)
	}
	category := ErrBadRequest
	if unavailable {
		category = invoker.ErrUnavailable
	}
	return nil, nil, fmt.Errorf("%w: function %q: runtime %s: no candidate runtime loads it (%s)",
		category, name, RuntimeAuto, strings.Join(reasons, "; "))
}

// choose returns the index of the variant of v that serves an invocation
// whose request body has requestBytes. The caller checked that v has more
// than one variant.
func (g *Gateway) choose(v *version, requestBytes int) int {
	if g.cfg.Chooser == nil {
		return 0
	}
	i := g.cfg.Chooser.Choose(v.name, requestBytes, v.runtimes)
	if i < 0 || i >= len(v.variants) {
		return 0
	}
	return i
}
