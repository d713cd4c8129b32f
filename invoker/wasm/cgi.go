package wasm

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

// cgiInstance serves exactly one request: it is instantiated ahead of
// demand (memory and data segments ready, nothing run) and runs its _start
// at Invoke with the request's CGI environment, body on stdin.
type cgiInstance struct {
	g    *guest
	in   bodyReader
	out  *limitBuffer
	used atomic.Bool
}

var _ invoker.Instance = (*cgiInstance)(nil)

func (f *function) newCGIInstance(ctx context.Context, cm wazero.CompiledModule, tl *invoker.Timeline) (invoker.Instance, error) {
	start := time.Now()
	c := &cgiInstance{out: &limitBuffer{max: frame.DefaultMaxBodyBytes + frame.DefaultMaxMetaBytes}}
	g, err := f.newGuest(ctx, cm, nil, &c.in, c.out)
	if err != nil {
		return nil, err
	}
	c.g = g
	tl.Add(invoker.PhaseInstantiate, start)
	return c, nil
}

// Invoke runs the guest once for req.
func (c *cgiInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	if !c.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("wasm %s: a cgi instance serves one request", c.g.id)
	}
	start := time.Now()
	// Copies: req's buffers belong to the caller once Invoke returns, and
	// a timed-out guest may still be reading.
	c.in.b = append([]byte(nil), req.Body...)
	c.g.env.vars = cgiEnv(c.g.f, req)
	tl.Add(invoker.PhaseRequestWrite, start)

	start = time.Now()
	deadline, _ := ctx.Deadline()
	c.g.ctrl.Arm(deadline)
	if !c.g.run() {
		c.g.ctrl.Disarm()
		return nil, fmt.Errorf("wasm %s: instance closed", c.g.id)
	}
	var err error
	select {
	case <-c.g.exited:
		err = c.g.classify(c.g.exitErr)
	case <-ctx.Done():
		err = c.g.timeout(ctx)
	}
	c.g.ctrl.Disarm()
	tl.Add(invoker.PhaseExecute, start)
	if err != nil {
		return nil, err
	}

	start = time.Now()
	out, err := c.out.bytes()
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", c.g.id, err)
	}
	resp, err := parseCGI(out)
	if err != nil {
		return nil, fmt.Errorf("wasm %s: %w", c.g.id, err)
	}
	tl.Add(invoker.PhaseResponseRead, start)
	return resp, nil
}

// ID returns the instance's unique ID.
func (c *cgiInstance) ID() string { return c.g.id }

// Reusable reports false: a cgi instance serves one request.
func (c *cgiInstance) Reusable() bool { return false }

// MemoryBytes returns the linear memory size (as instantiated, or at exit).
func (c *cgiInstance) MemoryBytes() int64 { return c.g.mem.Load() }

// Close stops the guest; it never waits for guest code.
func (c *cgiInstance) Close(context.Context) error {
	c.g.close()
	return nil
}

// cgiEnv builds the CGI/1.1 environment of req (RFC 3875) on top of the
// spec's environment. Request headers become HTTP_* variables, except
// Proxy (httpoxy) and the two with variables of their own.
func cgiEnv(f *function, req *invoker.Request) []string {
	vars := make(map[string]string, len(f.spec.Env)+len(req.Header)+10)
	maps.Copy(vars, f.spec.Env)
	path := req.Path
	if path == "" {
		path = "/"
	}
	for _, h := range req.Header {
		if strings.ContainsRune(h.Value, 0) {
			continue
		}
		key := headerEnvKey(h.Name)
		switch key {
		case "", "HTTP_PROXY":
			continue
		case "HTTP_CONTENT_TYPE":
			vars["CONTENT_TYPE"] = h.Value
			continue
		case "HTTP_CONTENT_LENGTH":
			continue
		}
		if v, ok := vars[key]; ok && strings.HasPrefix(key, "HTTP_") {
			vars[key] = v + ", " + h.Value
		} else {
			vars[key] = h.Value
		}
	}
	vars["GATEWAY_INTERFACE"] = "CGI/1.1"
	vars["SERVER_PROTOCOL"] = "HTTP/1.1"
	vars["SERVER_SOFTWARE"] = "lumos"
	vars["REQUEST_METHOD"] = req.Method
	vars["SCRIPT_NAME"] = "/function/" + f.spec.Name
	vars["PATH_INFO"] = path
	vars["QUERY_STRING"] = req.Query
	vars["CONTENT_LENGTH"] = strconv.Itoa(len(req.Body))
	vars[envABI] = string(invoker.ABICGI)
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// headerEnvKey returns HTTP_NAME for a header name, or "" if the name has
// bytes other than letters, digits and '-'. A name with '_' is dropped, as
// nginx and Apache do: X_Forwarded_For would otherwise land in the same
// HTTP_X_FORWARDED_FOR as the X-Forwarded-For a trusted proxy sets.
func headerEnvKey(name string) string {
	if name == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(5 + len(name))
	b.WriteString("HTTP_")
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return ""
		}
	}
	return b.String()
}

// bodyReader is a cgi guest's stdin: the request body, set before _start
// runs (the goroutine start orders the write before the guest's reads).
type bodyReader struct {
	b   []byte
	off int
}

// Read implements io.Reader.
func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// limitBuffer is a cgi guest's stdout: a buffer that fails writes past max.
type limitBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
	err error
}

// Write implements io.Writer.
func (w *limitBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if len(w.buf)+len(p) > w.max {
		w.err = fmt.Errorf("%w: more than %d bytes on stdout", invoker.ErrProtocol, w.max)
		w.buf = nil
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *limitBuffer) bytes() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf, w.err
}
