// Package container runs functions as OCI containers on containerd and runc:
// the "container" runtime.
//
// The artifact is an image tarball (docker-archive or OCI layout, see
// BuildImage), imported into containerd without any registry and unpacked at
// Load. Two ABIs are served, as by invoker/wasm: "loop" instances are one
// long-lived task that serves request frames (package invoker/frame) over
// its stdin and stdout; "cgi" instances are one container whose task runs
// once, with the request's CGI variables in its environment, the body on
// stdin and the CGI response on stdout.
//
// Every container gets its own empty network namespace (no CNI: no network
// at all), a read-only root filesystem, user 65534, no capabilities, no new
// privileges, containerd's default seccomp profile, and memory and pids
// limits. When containerd cannot be reached, Load and NewInstance fail fast
// with errors wrapping invoker.ErrUnavailable, and the Runtime connects again
// on the next call.
//
// Everything the Runtime creates carries its gateway's name (Config.Gateway)
// in the label LabelGateway. When the Runtime starts, and whenever
// containerd is reachable again after an outage or a failed cleanup, it
// reconciles: it deletes the tasks, containers, snapshots and FIFO
// directories carrying its name that no live instance owns, which is what a
// crashed gateway, or a containerd that went away mid-cleanup, leaves behind.
//
// See RATIONALE.md for the design choices and measured numbers.
package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lumos-edge/lumos/invoker"
)

// Defaults for Config fields left zero.
const (
	// DefaultAddress is containerd's usual socket.
	DefaultAddress = "/run/containerd/containerd.sock"
	// DefaultNamespace is the containerd namespace Lumos works in.
	DefaultNamespace = "lumos"
	// DefaultSnapshotter unpacks images; see RATIONALE.md.
	DefaultSnapshotter = "overlayfs"
	// DefaultMemoryLimit caps an instance's memory when the Spec sets none.
	DefaultMemoryLimit int64 = 128 << 20
	// DefaultPidsLimit caps the processes and threads of an instance.
	DefaultPidsLimit int64 = 64
	// DefaultDialTimeout bounds connecting to containerd.
	DefaultDialTimeout = time.Second
	// DefaultGateway is the value of LabelGateway when Config names none.
	DefaultGateway = "lumos"
	// DefaultCallTimeout bounds each containerd call an instance makes.
	DefaultCallTimeout = 10 * time.Second
	// DefaultHealthInterval is how often the Runtime asks whether
	// containerd answers.
	DefaultHealthInterval = time.Second
	// DefaultFIFODir is the root of the directories that hold the stdio
	// FIFOs of tasks.
	DefaultFIFODir = "/run/lumos/fifo"
	// DefaultUID and DefaultGID are the user every function runs as (nobody).
	DefaultUID, DefaultGID uint32 = 65534, 65534
)

// Labels put on every image, container and snapshot the runtime creates.
const (
	// LabelGateway names the gateway that owns the object.
	LabelGateway = "dev.lumos.gateway"
	// LabelFunction names the deployed function.
	LabelFunction = "dev.lumos.function"
)

// Config configures a Runtime. Zero fields take their defaults.
type Config struct {
	// Address is containerd's socket. Default DefaultAddress.
	Address string
	// Namespace is the containerd namespace. Default DefaultNamespace.
	Namespace string
	// Snapshotter unpacks images. Default DefaultSnapshotter.
	Snapshotter string
	// Gateway names this gateway in the labels; it is also what the
	// Runtime reconciles: objects labelled with it that no live instance
	// owns are deleted. Two gateways sharing a containerd namespace need
	// different names (lumos serve uses an id stored in its data dir).
	// Letters, digits, '.', '_' and '-', at most 128. Default DefaultGateway.
	Gateway string
	// DefaultMemoryLimit caps an instance's memory in bytes when the Spec
	// sets none. Default DefaultMemoryLimit.
	DefaultMemoryLimit int64
	// PidsLimit caps an instance's processes and threads. Default DefaultPidsLimit.
	PidsLimit int64
	// DialTimeout bounds each attempt to connect to containerd. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// CallTimeout bounds each containerd call of an instance (create a
	// container, create or start a task, update its spec) and of
	// reconciling; past it the call fails with invoker.ErrUnavailable.
	// Default DefaultCallTimeout.
	CallTimeout time.Duration
	// HealthInterval is how often the Runtime checks that containerd
	// answers, to reconcile when it is back. Default DefaultHealthInterval.
	HealthInterval time.Duration
	// FIFODir is the root of the task FIFO directories: the Runtime
	// keeps its own under FIFODir/<Namespace>/<Gateway>, so that it can
	// remove those a crash left. Default DefaultFIFODir.
	FIFODir string
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// Runtime runs container functions on one containerd. It is safe for
// concurrent use.
type Runtime struct {
	cfg Config
	log *slog.Logger
	// ctx carries the namespace; background work (task waits, cleanup)
	// derives from it.
	ctx context.Context

	// fifoDir holds this Runtime's task FIFO directories.
	fifoDir string

	mu     sync.Mutex
	client *containerd.Client
	closed bool
	// up is the last health check's answer.
	up bool
	// images counts the Functions using each imported image name.
	images map[string]int
	// live holds the instances not closed yet.
	live map[*proc]struct{}
	// owned holds the container IDs in use, reserved before the container
	// is created and released once it is deleted (or its deletion failed):
	// reconcile never touches an owned ID.
	owned map[string]struct{}

	// dirty says a cleanup failed: reconcile at the next health check.
	dirty atomic.Bool
	// stop ends the health monitor; monitorDone is closed when it has.
	stop        context.CancelFunc
	monitorDone chan struct{}

	// imageMu serializes image imports and deletes (not the request path).
	imageMu sync.Mutex

	ids atomic.Uint64
}

// New returns a Runtime configured by cfg. It connects to containerd and
// reconciles (see the package doc), but does not fail when containerd is
// unreachable: Load and NewInstance then fail with invoker.ErrUnavailable
// until it is back, and the Runtime reconciles then. It fails only on an
// invalid Config.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Address == "" {
		cfg.Address = DefaultAddress
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = DefaultSnapshotter
	}
	if cfg.Gateway == "" {
		cfg.Gateway = DefaultGateway
	}
	if cfg.DefaultMemoryLimit <= 0 {
		cfg.DefaultMemoryLimit = DefaultMemoryLimit
	}
	if cfg.PidsLimit <= 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.FIFODir == "" {
		cfg.FIFODir = DefaultFIFODir
	}
	if !validName.MatchString(cfg.Gateway) {
		return nil, fmt.Errorf("container: gateway name %q: want letters, digits, '.', '_' or '-', at most 128", cfg.Gateway)
	}
	if !validName.MatchString(cfg.Namespace) {
		return nil, fmt.Errorf("container: namespace %q: want letters, digits, '.', '_' or '-', at most 128", cfg.Namespace)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{
		cfg:         cfg,
		log:         log.With("runtime", "container", "containerd", cfg.Address),
		ctx:         namespaces.WithNamespace(context.WithoutCancel(ctx), cfg.Namespace),
		fifoDir:     filepath.Join(cfg.FIFODir, cfg.Namespace, cfg.Gateway),
		images:      make(map[string]int),
		live:        make(map[*proc]struct{}),
		owned:       make(map[string]struct{}),
		monitorDone: make(chan struct{}),
	}
	// Nothing is owned yet: everything labelled with this gateway is a
	// previous run's.
	r.check(true)
	if !r.up {
		r.log.Warn("containerd unavailable; deployments to the container runtime answer 503 until it is back")
	}
	mctx, stop := context.WithCancel(r.ctx)
	r.stop = stop
	go r.monitor(mctx)
	return r, nil
}

// validName is what a gateway name and a namespace may be: they name
// directories and label values.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Name returns "container".
func (r *Runtime) Name() string { return "container" }

// conn returns the client, connecting first if needed.
func (r *Runtime) conn() (*containerd.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if r.client != nil {
		return r.client, nil
	}
	if _, err := os.Stat(r.cfg.Address); err != nil {
		return nil, fmt.Errorf("container: %w: containerd socket: %w", invoker.ErrUnavailable, err)
	}
	c, err := containerd.New(r.cfg.Address,
		containerd.WithDefaultNamespace(r.cfg.Namespace),
		containerd.WithTimeout(r.cfg.DialTimeout))
	if err != nil {
		return nil, fmt.Errorf("container: %w: connect to containerd: %w", invoker.ErrUnavailable, err)
	}
	r.client = c
	return c, nil
}

// withNS returns ctx carrying the runtime's namespace.
func (r *Runtime) withNS(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// errClosed is the error of every call after Close.
var errClosed = errors.New("container: runtime closed")

// errSlow is the cause of a containerd call cut by Config.CallTimeout.
var errSlow = errors.New("containerd did not answer in time")

// callCtx bounds one containerd call by Config.CallTimeout, or ctx's own
// deadline when that is sooner. wrapCall reports the cut as unavailability.
func (r *Runtime) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(r.withNS(ctx), r.cfg.CallTimeout, errSlow)
}

// wrapCall is wrap for a call made with a context from callCtx: a call
// that ran past CallTimeout (not past the caller's own deadline) means
// containerd is in trouble, so it wraps invoker.ErrUnavailable.
func wrapCall(ctx context.Context, what string, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errSlow) {
		return fmt.Errorf("container: %s: %w: %w (%w)", what, invoker.ErrUnavailable, cause, err)
	}
	return wrap(what, err)
}

// wrap adds context to err from containerd, marking it unavailable when
// containerd could not be reached.
func wrap(what string, err error) error {
	if isUnavailable(err) && !errors.Is(err, invoker.ErrUnavailable) {
		return fmt.Errorf("container: %s: %w: %w", what, invoker.ErrUnavailable, err)
	}
	return fmt.Errorf("container: %s: %w", what, err)
}

// isUnavailable reports whether err says containerd cannot be reached.
func isUnavailable(err error) bool {
	if errdefs.IsUnavailable(err) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s, ok := status.FromError(e); ok && s.Code() == codes.Unavailable {
			return true
		}
	}
	return false
}

// labels returns the labels of the objects created for a function.
func (r *Runtime) labels(function string) map[string]string {
	return map[string]string{LabelGateway: r.cfg.Gateway, LabelFunction: function}
}

// newID returns a container ID unique in the namespace.
func (r *Runtime) newID() string {
	return fmt.Sprintf("lumos-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), r.ids.Add(1))
}

// reserveID returns a new container ID, owned (so never reconciled) until
// release. It fails when the runtime is closed.
func (r *Runtime) reserveID() (string, error) {
	id := r.newID()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", errClosed
	}
	r.owned[id] = struct{}{}
	return id, nil
}

// release gives up id after its container was deleted; clean false says
// the deletion failed, so the next health check reconciles.
func (r *Runtime) release(id string, clean bool) {
	if !clean {
		r.dirty.Store(true)
	}
	r.mu.Lock()
	delete(r.owned, id)
	r.mu.Unlock()
}

// owns reports whether id is reserved.
func (r *Runtime) owns(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.owned[id]
	return ok
}

// track registers p as live; it fails when the runtime is closed.
func (r *Runtime) track(p *proc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	r.live[p] = struct{}{}
	return nil
}

// untrack forgets p once its container is deleted (clean) or its deletion
// failed.
func (r *Runtime) untrack(p *proc, clean bool) {
	r.mu.Lock()
	delete(r.live, p)
	r.mu.Unlock()
	r.release(p.id, clean)
}

// Close destroys every instance still alive (task, container and snapshot)
// and closes the connection to containerd. Images stay until their
// Functions are closed; a later Load reuses them.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	live := make([]*proc, 0, len(r.live))
	for p := range r.live {
		live = append(live, p)
	}
	r.mu.Unlock()
	r.stop()
	<-r.monitorDone // it uses the client
	r.mu.Lock()
	client := r.client
	r.mu.Unlock()

	var errs []error
	for _, p := range live {
		errs = append(errs, p.close(ctx))
	}
	if client != nil {
		errs = append(errs, client.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container: close: %w", err)
	}
	return nil
}
