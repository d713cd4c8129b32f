package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// Restore retries: a stored deployment whose runtime was unavailable when
// the gateway started (containerd down) stays pending and is restored again
// in the background, first after Config.RestoreRetry, then at doubling
// delays up to maxRestoreRetry, until it loads or fails for another reason.
const (
	// DefaultRestoreRetry is the first delay before restoring a pending
	// function again.
	DefaultRestoreRetry = time.Second
	// maxRestoreRetry caps the delay between restore attempts, and so the
	// time a function stays pending after its runtime is back.
	maxRestoreRetry = 10 * time.Second
)

// errSuperseded: a pending function was deleted or redeployed while a
// restore attempt was loading it; the attempt is dropped.
var errSuperseded = errors.New("pending restore superseded")

// pendingFunction is a stored deployment waiting for its runtime. Entries
// are replaced, never changed, except err (guarded by Gateway.pendMu).
type pendingFunction struct {
	rec   storedFunction
	since time.Time
	err   error // the last attempt's
}

// addPending records name as waiting for its runtime.
func (g *Gateway) addPending(name string, rec storedFunction, err error) {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	g.pending[name] = &pendingFunction{rec: rec, since: time.Now(), err: err}
}

// pendingEntry returns name's pending entry, or nil.
func (g *Gateway) pendingEntry(name string) *pendingFunction {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	return g.pending[name]
}

// dropPending forgets name's pending entry, if any; only the entry p when
// p is not nil. It reports whether it dropped one.
func (g *Gateway) dropPending(name string, p *pendingFunction) bool {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	cur := g.pending[name]
	if cur == nil || (p != nil && cur != p) {
		return false
	}
	delete(g.pending, name)
	return true
}

// pendingError is the error of invoking a pending function: 503, saying why.
func (g *Gateway) pendingError(name string) error {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	p := g.pending[name]
	if p == nil {
		return nil
	}
	return fmt.Errorf("%w: function %q is not serving yet: its runtime was unavailable when the gateway started "+
		"(pending for %v, restore retried in the background; last error: %v)",
		invoker.ErrUnavailable, name, time.Since(p.since).Round(time.Second), p.err)
}

// pendingStatus describes a pending function for the admin API.
func (g *Gateway) pendingStatus(name string) (FunctionStatus, bool) {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	p := g.pending[name]
	if p == nil {
		return FunctionStatus{}, false
	}
	return p.status(), true
}

// pendingStatuses describes every pending function.
func (g *Gateway) pendingStatuses() []FunctionStatus {
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	out := make([]FunctionStatus, 0, len(g.pending))
	for _, p := range g.pending {
		out = append(out, p.status())
	}
	return out
}

// status is the function's status without instances. The caller holds pendMu.
func (p *pendingFunction) status() FunctionStatus {
	d := p.rec.Deployment
	return FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: d.Namespace, EnvProcess: d.EnvProcess,
		EnvVars: d.EnvVars, Constraints: d.Constraints, Secrets: d.Secrets, Labels: d.Labels,
		Annotations: d.Annotations, Limits: d.Limits, Requests: d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
		CreatedAt:              p.rec.CreatedAt,
		Pending:                fmt.Sprintf("runtime unavailable, restore retried in the background: %v", p.err),
	}
}

// removePending deletes a pending function and its record. The caller
// holds g.mu.
func (g *Gateway) removePending(name string) (bool, error) {
	if g.pendingEntry(name) == nil {
		return false, nil
	}
	if err := g.cfg.Store.DeleteFunction(name); err != nil {
		return true, fmt.Errorf("delete function %q: %w", name, err)
	}
	g.dropPending(name, nil)
	return true, nil
}

// scalePending records a scale request for a pending function: its record
// is rewritten and the entry replaced, so that an attempt loading the old
// one is dropped. The caller holds g.mu.
func (g *Gateway) scalePending(name string, replicas int) (bool, error) {
	p := g.pendingEntry(name)
	if p == nil {
		return false, nil
	}
	rec := p.rec
	rec.Replicas = &replicas
	raw, err := json.Marshal(rec)
	if err != nil {
		return true, fmt.Errorf("encode record of %q: %w", name, err)
	}
	if err := g.cfg.Store.PutFunction(name, raw); err != nil {
		return true, fmt.Errorf("store function %q: %w", name, err)
	}
	g.pendMu.Lock()
	g.pending[name] = &pendingFunction{rec: rec, since: p.since, err: p.err}
	g.pendMu.Unlock()
	return true, nil
}

// retryRestores restores the pending functions again with growing delays
// until none is left or the gateway closes.
func (g *Gateway) retryRestores() {
	defer close(g.retryDone)
	delay := g.cfg.RestoreRetry
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-g.retryCtx.Done():
			return
		case <-t.C:
		}
		if g.retryPending() == 0 {
			return
		}
		delay = min(2*delay, max(maxRestoreRetry, g.cfg.RestoreRetry))
		t.Reset(delay)
	}
}

// retryPending tries each pending function once and returns how many are
// still pending.
func (g *Gateway) retryPending() int {
	g.pendMu.Lock()
	todo := make(map[string]*pendingFunction, len(g.pending))
	for name, p := range g.pending {
		todo[name] = p
	}
	g.pendMu.Unlock()
	for name, p := range todo {
		_, err := g.deploy(g.retryCtx, p.rec.Deployment, modeRetry, &p.rec)
		switch {
		case err == nil:
			g.log.Info("restored pending function: its runtime is back", logKeyFunction, name)
		case errors.Is(err, errSuperseded), errors.Is(err, ErrClosed), g.retryCtx.Err() != nil:
		case errors.Is(err, invoker.ErrUnavailable):
			g.pendMu.Lock()
			p.err = err
			g.pendMu.Unlock()
		default:
			if g.dropPending(name, p) {
				g.log.Error("skip stored function: does not deploy", logKeyFunction, name, logKeyErr, err)
			}
		}
	}
	g.pendMu.Lock()
	defer g.pendMu.Unlock()
	return len(g.pending)
}

// isPendingRecord reports whether rec is the record of name's current
// pending entry (an attempt to restore it may install it). The caller
// holds g.mu.
func (g *Gateway) isPendingRecord(name string, rec *storedFunction) bool {
	p := g.pendingEntry(name)
	return p != nil && &p.rec == rec
}

// startRetries starts retrying the pending functions, if any.
func (g *Gateway) startRetries() {
	g.pendMu.Lock()
	n := len(g.pending)
	g.pendMu.Unlock()
	if n == 0 {
		close(g.retryDone)
		return
	}
	g.log.Warn("some stored functions wait for their runtime; restores are retried in the background", "pending", n)
	go g.retryRestores()
}

// waitRetries stops the retries and waits for them, or for ctx.
func (g *Gateway) waitRetries(ctx context.Context) error {
	g.cancelRetry()
	select {
	case <-g.retryDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
