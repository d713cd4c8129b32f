package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lumos-edge/lumos/gateway/store"
	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// version is one deployed version of a function: its prepared Function and
// its pool on each runtime it serves on (its variants). A redeploy installs
// a new version and retires the old one, which closes once its last
// in-flight invocation has finished.
type version struct {
	name      string
	dep       FunctionDeployment
	set       settings
	createdAt time.Time
	// variants holds one variant for a concrete runtime, and one per
	// candidate that loaded the function for runtime auto (auto.go).
	variants []variant
	// runtimes names the variants' runtimes, in their order: the
	// candidates handed to Config.Chooser.
	runtimes []string
	// skipped says why candidates of runtime auto did not load; nil otherwise.
	skipped []SkippedRuntime
	// calls counts invocations of the function, carried across versions.
	calls *atomic.Uint64
	// state holds the in-flight count, plus retiredBit once retired.
	state atomic.Int64
	// replicas is the last scale request (nil if none); guarded by Gateway.mu.
	replicas *int
	// pinned is set once a scale request (or a restored one) fixed the
	// replicas: the keep-alive tuner leaves the version's pools alone.
	pinned atomic.Bool
}

// variant is a version loaded on one runtime, with its own pool.
type variant struct {
	runtime string
	fn      invoker.Function
	pool    *pool.Pool[invoker.Instance]
}

const retiredBit = int64(1) << 62

// versionCloseTimeout bounds closing a retired version's pool and function.
const versionCloseTimeout = 30 * time.Second

// enter counts an invocation in and returns the invocations in flight, this
// one included; 0 if v is retired (look it up again).
func (v *version) enter() int {
	for {
		s := v.state.Load()
		if s&retiredBit != 0 {
			return 0
		}
		if v.state.CompareAndSwap(s, s+1) {
			return int(s + 1)
		}
	}
}

// leave counts an invocation out, closing v if it was the last one of a
// retired version.
func (g *Gateway) leave(v *version) {
	if v.state.Add(-1) == retiredBit {
		go g.closeVersion(v)
	}
}

// retire marks v retired; it closes now if idle, else at its last leave.
// The caller has removed v from the table.
func (g *Gateway) retire(v *version) {
	g.retiring.Add(1)
	if v.state.Or(retiredBit) == 0 {
		go g.closeVersion(v)
	}
}

func (g *Gateway) closeVersion(v *version) {
	defer g.retiring.Done()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.base), versionCloseTimeout)
	defer cancel()
	g.closeVariants(ctx, v.name, v.variants)
}

// closeVariants closes the pools of vs, then their functions, logging
// failures. A variant's pool may be nil (it never got one).
func (g *Gateway) closeVariants(ctx context.Context, name string, vs []variant) {
	for _, vr := range vs {
		if vr.pool == nil {
			continue
		}
		if err := vr.pool.Close(ctx); err != nil {
			g.log.Warn("close pool", logKeyFunction, name, logKeyRuntime, vr.runtime, logKeyErr, err)
		}
	}
	for _, vr := range vs {
		if err := vr.fn.Close(ctx); err != nil {
			g.log.Warn("close function", logKeyFunction, name, logKeyRuntime, vr.runtime, logKeyErr, err)
		}
	}
}

// lookup returns the current version of name, or nil. The []byte to
// string conversion in the index does not allocate.
func (g *Gateway) lookup(name []byte) *version {
	return (*g.table.Load())[string(name)]
}

// current is lookup for a string name.
func (g *Gateway) current(name string) *version {
	return (*g.table.Load())[name]
}

// setFunction installs v under name (v nil deletes), copying the table.
// The caller holds g.mu.
func (g *Gateway) setFunction(name string, v *version) {
	old := *g.table.Load()
	m := make(map[string]*version, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	if v == nil {
		delete(m, name)
	} else {
		m[name] = v
	}
	g.table.Store(&m)
}

// deployMode says what a deploy may find in the table.
type deployMode int

const (
	modeCreate  deployMode = iota // POST: 409 if present
	modeUpdate                    // PUT: 404 if absent
	modeUpsert                    // Deploy(replace=true)
	modeRestore                   // New: create from the store without persisting
	modeRetry                     // restore a pending function again (pending.go)
)

// checkMode checks that a deploy in mode may install name now. A pending
// function (pending.go) exists for create and update; rec is the
// record a modeRetry attempt loads, which must still be the pending one.
func (g *Gateway) checkMode(name string, mode deployMode, rec *storedFunction) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if mode == modeRetry {
		if !g.isPendingRecord(name, rec) {
			return errSuperseded
		}
		return nil
	}
	exists := g.current(name) != nil || g.pendingEntry(name) != nil
	switch {
	case exists && (mode == modeCreate || mode == modeRestore):
		return fmt.Errorf("%w: function %q already exists", ErrConflict, name)
	case !exists && mode == modeUpdate:
		return fmt.Errorf("%w: function %q", ErrNotFound, name)
	}
	return nil
}

// Deploy validates d, loads it through its runtime, persists it and makes it
// serve. With replace false an existing function is a conflict (ErrConflict);
// with replace true it is swapped atomically: new invocations go to the new
// version, and the old one closes after its in-flight invocations finish.
func (g *Gateway) Deploy(ctx context.Context, d FunctionDeployment, replace bool) error {
	mode := modeCreate
	if replace {
		mode = modeUpsert
	}
	_, err := g.deploy(ctx, d, mode, nil)
	return err
}

// deploy does Deploy's work. rec, when restoring, is the stored record.
func (g *Gateway) deploy(ctx context.Context, d FunctionDeployment, mode deployMode, rec *storedFunction) (*version, error) {
	if err := validName(d.Service); err != nil {
		return nil, err
	}
	if err := g.checkMode(d.Service, mode, rec); err != nil {
		return nil, err
	}
	set, err := parseSettings(d, defaults{runtime: g.cfg.DefaultRuntime, timeout: g.cfg.DefaultTimeout, pool: g.cfg.DefaultPool})
	if err != nil {
		return nil, err
	}
	runtimes, err := g.candidates(set)
	if err != nil {
		return nil, err
	}
	spec := invoker.Spec{
		Name:        d.Service,
		ABI:         set.abi,
		Env:         d.EnvVars,
		MemoryLimit: set.memoryLimit,
		CPULimit:    set.cpuLimit,
		Args:        set.args,
		Mounts:      set.mounts,
	}
	if ImageIsArtifact(d.Image) {
		if !g.cfg.Store.HasArtifact(d.Image) {
			return nil, fmt.Errorf("%w: image: no artifact %s was uploaded (POST /system/artifacts)", ErrBadRequest, d.Image)
		}
		st, digest := g.cfg.Store, d.Image
		spec.Digest = digest
		spec.Artifact = func(context.Context) ([]byte, error) { return st.Artifact(digest) }
	} else {
		spec.Image = d.Image
	}
	created := time.Now().UTC()
	var replicas *int
	if rec != nil {
		created, replicas = rec.CreatedAt, rec.Replicas
		if replicas != nil {
			set.pool.MinWarm = min(*replicas, set.pool.MaxInstances)
		}
	}
	variants, skipped, err := g.loadVariants(ctx, d.Service, set.runtime == RuntimeAuto, runtimes, spec)
	if err != nil {
		return nil, err
	}
	v := &version{name: d.Service, dep: d, set: set, createdAt: created, variants: variants, skipped: skipped,
		calls: new(atomic.Uint64), replicas: replicas}
	v.pinned.Store(replicas != nil)
	for i := range variants {
		vr := &variants[i]
		v.runtimes = append(v.runtimes, vr.runtime)
		if vr.pool, err = g.newPool(d.Service, vr.fn, set.pool); err != nil {
			g.closeQuietly(d.Service, variants)
			return nil, fmt.Errorf("%w: pool for %q: %v", ErrBadRequest, d.Service, err)
		}
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.checkMode(d.Service, mode, rec); err != nil {
		g.closeQuietly(d.Service, variants)
		return nil, err
	}
	old := g.current(d.Service)
	if old != nil {
		v.calls, v.createdAt = old.calls, old.createdAt
	}
	if mode != modeRestore && mode != modeRetry {
		if err := g.persist(v); err != nil {
			g.closeQuietly(d.Service, variants)
			return nil, err
		}
	}
	g.setFunction(d.Service, v)
	g.dropPending(d.Service, nil) // this version supersedes a pending one
	if old != nil {
		if g.cfg.Model != nil && (len(old.runtimes) > 1 || len(v.runtimes) > 1) && !slices.Equal(old.runtimes, v.runtimes) {
			g.cfg.Model.Forget(d.Service) // the runtime choice starts over
		}
		g.retire(old)
	}
	return v, nil
}

// newPool builds the instance pool of fn.
func (g *Gateway) newPool(name string, fn invoker.Function, cfg pool.Config) (*pool.Pool[invoker.Instance], error) {
	factory := func(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
		return fn.NewInstance(ctx, tl)
	}
	return pool.New(cfg, factory, g.log.With(logKeyFunction, name))
}

// closeQuietly releases the variants of a version that never served.
func (g *Gateway) closeQuietly(name string, vs []variant) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.base), versionCloseTimeout)
	defer cancel()
	g.closeVariants(ctx, name, vs)
}

// persist writes v's record to the store. The caller holds g.mu.
func (g *Gateway) persist(v *version) error {
	rec, err := json.Marshal(storedFunction{Deployment: v.dep, CreatedAt: v.createdAt, Replicas: v.replicas})
	if err != nil {
		return fmt.Errorf("encode record of %q: %w", v.name, err)
	}
	if err := g.cfg.Store.PutFunction(v.name, rec); err != nil {
		return fmt.Errorf("store function %q: %w", v.name, err)
	}
	return nil
}

// remove undeploys name and deletes its record.
func (g *Gateway) remove(name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.current(name)
	if v == nil {
		if found, err := g.removePending(name); found {
			return err
		}
		return fmt.Errorf("%w: function %q", ErrNotFound, name)
	}
	if err := g.cfg.Store.DeleteFunction(name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete function %q: %w", name, err)
	}
	g.setFunction(name, nil)
	g.retire(v)
	if g.cfg.Model != nil {
		g.cfg.Model.Forget(name)
	}
	return nil
}

// scale sets name's warm minimum to replicas (clamped to its maximum).
// Scaling to 0 also destroys the idle instances now (pool.Trim) rather than
// after the idle timeout; busy ones finish their request first.
func (g *Gateway) scale(name string, replicas int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.current(name)
	if v == nil {
		if found, err := g.scalePending(name, replicas); found {
			return err
		}
		return fmt.Errorf("%w: function %q", ErrNotFound, name)
	}
	// Each variant of an auto function keeps replicas warm: the chooser
	// may send any invocation to any of them.
	for _, vr := range v.variants {
		cfg := vr.pool.Config()
		cfg.MinWarm = min(replicas, cfg.MaxInstances)
		if err := vr.pool.SetConfig(cfg); err != nil {
			return fmt.Errorf("%w: scale %q on %s: %v", ErrBadRequest, name, vr.runtime, err)
		}
		if replicas == 0 {
			vr.pool.Trim() // scale to zero now, not after the idle timeout
		}
	}
	r := replicas
	v.replicas = &r
	v.pinned.Store(true) // the keep-alive tuner no longer plans its pools
	return g.persist(v)
}

// restore deploys every function recorded in the store, skipping (and
// logging) those that no longer load, and keeping pending those whose
// runtime is unavailable.
func (g *Gateway) restore(ctx context.Context) {
	recs, err := g.cfg.Store.Functions()
	if err != nil {
		g.log.Error("list stored functions", logKeyErr, err)
		return
	}
	for name, raw := range recs {
		var rec storedFunction
		if err := json.Unmarshal(raw, &rec); err != nil {
			g.log.Error("skip stored function: bad record", logKeyFunction, name, logKeyErr, err)
			continue
		}
		if rec.Deployment.Service != name {
			g.log.Error("skip stored function: name mismatch", logKeyFunction, name, "service", rec.Deployment.Service)
			continue
		}
		_, err := g.deploy(ctx, rec.Deployment, modeRestore, &rec)
		switch {
		case err == nil:
		case errors.Is(err, invoker.ErrUnavailable):
			g.log.Warn("stored function pending: its runtime is unavailable", logKeyFunction, name, logKeyErr, err)
			g.addPending(name, rec, err)
		default:
			g.log.Error("skip stored function: does not deploy", logKeyFunction, name, logKeyErr, err)
		}
	}
}

// PutArtifact stores an artifact and returns its digest ("sha256:<hex>").
func (g *Gateway) PutArtifact(data []byte) (string, error) {
	if int64(len(data)) > g.cfg.MaxArtifactBytes {
		return "", fmt.Errorf("%w: artifact of %d bytes exceeds %d", ErrTooLarge, len(data), g.cfg.MaxArtifactBytes)
	}
	digest, err := g.cfg.Store.PutArtifact(data)
	if err != nil {
		return "", fmt.Errorf("store artifact: %w", err)
	}
	return digest, nil
}
