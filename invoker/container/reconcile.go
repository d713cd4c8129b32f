package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/snapshots"
)

// reconciled counts what one reconcile removed.
type reconciled struct {
	Tasks, Containers, Snapshots, FIFODirs int
}

func (n reconciled) empty() bool { return n == reconciled{} }

// monitor checks containerd every HealthInterval until ctx ends.
func (r *Runtime) monitor(ctx context.Context) {
	defer close(r.monitorDone)
	t := time.NewTicker(r.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.check(false)
	}
}

// check asks containerd whether it serves, connecting first if needed, and
// reconciles when it answers after it did not (or at start), or after a
// cleanup failed. start (New) also removes FIFO directories without FIFOs,
// which at start no task can be creating.
func (r *Runtime) check(start bool) {
	ctx, cancel := r.callCtx(r.ctx)
	defer cancel()
	client, err := r.conn()
	if err == nil {
		var ok bool
		ok, err = client.IsServing(ctx)
		if err == nil && !ok {
			err = errors.New("containerd is not serving")
		}
	}
	if errors.Is(err, errClosed) {
		return
	}
	up := err == nil
	r.mu.Lock()
	was := r.up
	r.up = up
	r.mu.Unlock()
	switch {
	case !up:
		if was {
			r.log.Warn("containerd unreachable; container invocations answer 503 until it is back", "err", err)
		}
		return
	case !was && !start:
		r.log.Info("containerd reachable again")
	case was && !r.dirty.Load():
		return
	}
	r.dirty.Store(false)
	n, err := r.reconcile(r.ctx, start)
	if err != nil {
		r.dirty.Store(true) // try again at the next check
		r.log.Warn("reconcile", "err", err, "removed", n)
		return
	}
	if !n.empty() {
		r.log.Info("reconciled: removed what no instance owns", "tasks", n.Tasks, "containers", n.Containers,
			"snapshots", n.Snapshots, "fifo_dirs", n.FIFODirs)
	}
}

// reconcile deletes every task (killing it), container, snapshot and FIFO
// directory that carries this Runtime's gateway name (Config.Gateway) in
// its namespace but belongs to no live instance: what a crashed gateway of
// the same name, or a cleanup that failed while containerd was away, left.
// The Runtime reconciles by itself at start and when containerd is back;
// emptyDirs also removes FIFO directories holding no FIFO, which is safe
// only while no instance is being created. Each containerd call is bounded
// by Config.CallTimeout.
func (r *Runtime) reconcile(ctx context.Context, emptyDirs bool) (reconciled, error) {
	var n reconciled
	client, err := r.conn()
	if err != nil {
		return n, err
	}
	ctx = r.withNS(ctx)
	filter := fmt.Sprintf("labels.%q==%q", LabelGateway, r.cfg.Gateway)
	var errs []error

	// Containers first: deleting one deletes its snapshot. An ID is
	// reserved before its container exists, so a container listed here and
	// not owned now is no live instance's.
	cctx, cancel := r.callCtx(ctx)
	cs, err := client.Containers(cctx, filter)
	cancel()
	if err != nil {
		return n, wrapCall(cctx, "list containers", err)
	}
	for _, c := range cs {
		if r.owns(c.ID()) {
			continue
		}
		tasks, err := r.removeContainer(ctx, c)
		n.Tasks += tasks
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n.Containers++
	}

	// Snapshots whose container was never created (containerd failed
	// between preparing the snapshot and creating the container). The
	// snapshot key is the container ID.
	sn := client.SnapshotService(r.cfg.Snapshotter)
	var keys []string
	cctx, cancel = r.callCtx(ctx)
	err = sn.Walk(cctx, func(_ context.Context, info snapshots.Info) error {
		keys = append(keys, info.Name)
		return nil
	}, filter)
	cancel()
	if err != nil {
		errs = append(errs, wrapCall(cctx, "list snapshots", err))
	}
	for _, key := range keys {
		if r.owns(key) {
			continue
		}
		cctx, cancel := r.callCtx(ctx)
		err := sn.Remove(cctx, key)
		cancel()
		switch {
		case err == nil:
			n.Snapshots++
		case !errdefs.IsNotFound(err):
			errs = append(errs, wrapCall(cctx, "remove snapshot "+key, err))
		}
	}

	fifos, err := r.removeFIFODirs(emptyDirs)
	n.FIFODirs = fifos
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("container: reconcile: %w", err)
	}
	return n, nil
}

// removeContainer kills and deletes c's task, if any, then deletes c and
// its snapshot. It returns how many tasks it deleted.
func (r *Runtime) removeContainer(ctx context.Context, c containerd.Container) (int, error) {
	tasks := 0
	cctx, cancel := r.callCtx(ctx)
	defer cancel()
	task, err := c.Task(cctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return 0, wrapCall(cctx, "task of "+c.ID(), err)
	default:
		if _, err := task.Delete(cctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return 0, wrapCall(cctx, "delete task "+c.ID(), err)
		}
		tasks++
	}
	cctx, cancel = r.callCtx(ctx)
	defer cancel()
	if err := c.Delete(cctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return tasks, wrapCall(cctx, "delete container "+c.ID(), err)
	}
	return tasks, nil
}

// fifoSuffixes end the names of a task's FIFOs (cio: "<id>-stdin" ...).
var fifoSuffixes = []string{"-stdin", "-stdout", "-stderr"}

// removeFIFODirs removes the directories of r.fifoDir whose FIFOs belong
// to no owned container ID, and with emptyDirs those holding no FIFO yet.
// containerd's client makes one directory per task and removes it when the
// task is deleted; a crash, or a delete that failed, leaves it.
func (r *Runtime) removeFIFODirs(emptyDirs bool) (int, error) {
	entries, err := os.ReadDir(r.fifoDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("container: reconcile: %w", err)
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(r.fifoDir, e.Name())
		ids, err := fifoIDs(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(ids) == 0 && !emptyDirs || r.ownsAny(ids) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("container: reconcile FIFOs: %w", err)
	}
	return n, nil
}

// fifoIDs returns the container IDs named by the FIFOs in dir.
func fifoIDs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		for _, s := range fifoSuffixes {
			if id, ok := strings.CutSuffix(e.Name(), s); ok {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids, nil
}

// ownsAny reports whether any of ids is reserved.
func (r *Runtime) ownsAny(ids []string) bool {
	for _, id := range ids {
		if r.owns(id) {
			return true
		}
	}
	return false
}
