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
// See RATIONALE.md for the design choices and measured numbers.
package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// Gateway names this gateway in the labels. Default DefaultGateway.
	Gateway string
	// DefaultMemoryLimit caps an instance's memory in bytes when the Spec
	// sets none. Default DefaultMemoryLimit.
	DefaultMemoryLimit int64
	// PidsLimit caps an instance's processes and threads. Default DefaultPidsLimit.
	PidsLimit int64
	// DialTimeout bounds each attempt to connect to containerd. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// FIFODir holds the stdio FIFOs of tasks; "" is containerd's default
	// (/run/containerd/fifo).
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

	mu     sync.Mutex
	client *containerd.Client
	closed bool
	// images counts the Functions using each imported image name.
	images map[string]int
	// live holds the instances not closed yet.
	live map[*proc]struct{}

	// imageMu serializes image imports and deletes (not the request path).
	imageMu sync.Mutex

	ids atomic.Uint64
}

// New returns a Runtime configured by cfg. It tries to connect to
// containerd but does not fail when containerd is unreachable: Load and
// NewInstance then fail with invoker.ErrUnavailable until it is back.
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{
		cfg:    cfg,
		log:    log.With("runtime", "container", "containerd", cfg.Address),
		ctx:    namespaces.WithNamespace(context.WithoutCancel(ctx), cfg.Namespace),
		images: make(map[string]int),
		live:   make(map[*proc]struct{}),
	}
	if _, err := r.conn(); err != nil {
		r.log.Warn("containerd unavailable; deployments to the container runtime answer 503 until it is back", "err", err)
	}
	return r, nil
}

// Name returns "container".
func (r *Runtime) Name() string { return "container" }

// conn returns the client, connecting first if needed.
func (r *Runtime) conn() (*containerd.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("container: runtime closed")
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

// track registers p as live; it fails when the runtime is closed.
func (r *Runtime) track(p *proc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("container: runtime closed")
	}
	r.live[p] = struct{}{}
	return nil
}

func (r *Runtime) untrack(p *proc) {
	r.mu.Lock()
	delete(r.live, p)
	r.mu.Unlock()
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
