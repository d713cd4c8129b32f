package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

// Test doubles: structs of function fields.

type fakeRuntime struct {
	load func(ctx context.Context, spec invoker.Spec) (invoker.Function, error)
}

func (r *fakeRuntime) Load(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
	return r.load(ctx, spec)
}

type fakeFunction struct {
	newInstance func(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error)
	close       func(ctx context.Context) error
}

func (f *fakeFunction) NewInstance(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
	return f.newInstance(ctx, tl)
}
func (f *fakeFunction) Close(ctx context.Context) error { return f.close(ctx) }

type fakeInstance struct {
	id       string
	invoke   func(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error)
	reusable bool
	closed   atomic.Bool
	onClose  func()
}

var _ invoker.Instance = (*fakeInstance)(nil)

func (i *fakeInstance) Invoke(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	return i.invoke(ctx, req, tl)
}
func (i *fakeInstance) ID() string         { return i.id }
func (i *fakeInstance) Reusable() bool     { return i.reusable }
func (i *fakeInstance) MemoryBytes() int64 { return 1 << 20 }
func (i *fakeInstance) Close(context.Context) error {
	if !i.closed.Swap(true) && i.onClose != nil {
		i.onClose()
	}
	return nil
}

// echoRuntime is a fake runtime whose behaviour the artifact and the request
// path choose. Artifacts starting with "bad" are invalid, "unavailable" make
// the runtime unavailable. Instances answer by path:
//
//	/panic     panic in Invoke
//	/sleep     wait for the deadline, then fail with ErrTimeout
//	/late      wait for the deadline, then fail with a plain error
//	/trap      fail with ErrTrap ("unreachable executed")
//	/hop       answer hop-by-hop headers that must not be forwarded
//	/status/N  answer status N
//	/lost      on the function's first instance: fail with ErrInstanceLost
//	/headers   answer the request's headers, one "name: value" line each (names lowercased)
//	/block     signal entered, then wait for release
//	anything else: echo (body, method, path, query, X-In header, version).
type echoRuntime struct {
	entered chan struct{} // /block sends here
	release chan struct{} // /block waits on it

	mu                                    sync.Mutex
	loaded, fnClosed, created, instClosed int
	specs                                 []invoker.Spec
}

func newEchoRuntime() *echoRuntime {
	return &echoRuntime{entered: make(chan struct{}, 64), release: make(chan struct{})}
}

func (e *echoRuntime) counts() (loaded, fnClosed, created, instClosed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loaded, e.fnClosed, e.created, e.instClosed
}

func (e *echoRuntime) runtime() *fakeRuntime {
	return &fakeRuntime{load: func(ctx context.Context, spec invoker.Spec) (invoker.Function, error) {
		art, err := spec.Artifact(ctx)
		if err != nil {
			return nil, fmt.Errorf("fake: read artifact: %w", err)
		}
		s := string(art)
		switch {
		case len(s) >= 3 && s[:3] == "bad":
			return nil, fmt.Errorf("fake: magic header missing: %w", invoker.ErrInvalidArtifact)
		case len(s) >= 11 && s[:11] == "unavailable":
			return nil, fmt.Errorf("fake: daemon down: %w", invoker.ErrUnavailable)
		}
		e.mu.Lock()
		e.loaded++
		e.specs = append(e.specs, spec)
		e.mu.Unlock()
		var seq atomic.Int64
		return &fakeFunction{
			newInstance: func(ctx context.Context, tl *invoker.Timeline) (invoker.Instance, error) {
				tl.AddDuration(invoker.PhaseInstantiate, time.Now(), time.Microsecond)
				e.mu.Lock()
				e.created++
				e.mu.Unlock()
				inst := &fakeInstance{
					id:       spec.Name + "-" + strconv.FormatInt(seq.Add(1), 10),
					reusable: spec.ABI == invoker.ABILoop,
					onClose: func() {
						e.mu.Lock()
						e.instClosed++
						e.mu.Unlock()
					},
				}
				inst.invoke = func(ctx context.Context, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
					if req.Path == "/lost" && strings.HasSuffix(inst.id, "-1") {
						return nil, fmt.Errorf("fake: exited while idle: %w", invoker.ErrInstanceLost)
					}
					return e.serve(ctx, s, req, tl)
				}
				return inst, nil
			},
			close: func(context.Context) error {
				e.mu.Lock()
				e.fnClosed++
				e.mu.Unlock()
				return nil
			},
		}, nil
	}}
}

func (e *echoRuntime) serve(ctx context.Context, version string, req *invoker.Request, tl *invoker.Timeline) (*invoker.Response, error) {
	tl.AddDuration(invoker.PhaseExecute, time.Now(), time.Microsecond)
	switch {
	case req.Path == "/panic":
		panic("fake instance exploded")
	case req.Path == "/sleep":
		<-ctx.Done()
		return nil, fmt.Errorf("fake: %w", invoker.ErrTimeout)
	case req.Path == "/late":
		<-ctx.Done()
		return nil, errors.New("fake: pipe closed")
	case req.Path == "/trap":
		return nil, fmt.Errorf("fake: wasm error: unreachable executed: %w", invoker.ErrTrap)
	case req.Path == "/hop":
		return &invoker.Response{Status: 200, Header: []invoker.Header{
			{Name: "Connection", Value: "close"}, {Name: "Content-Length", Value: "999"},
			{Name: "Transfer-Encoding", Value: "chunked"}, {Name: "X-Kept", Value: "yes"},
			{Name: "X-Bad", Value: "a\r\nInjected: 1"},
		}, Body: []byte("hop")}, nil
	case len(req.Path) > 8 && req.Path[:8] == "/status/":
		n, _ := strconv.Atoi(req.Path[8:])
		return &invoker.Response{Status: n, Body: []byte("status")}, nil
	case req.Path == "/headers":
		var b strings.Builder
		for _, h := range req.Header {
			b.WriteString(strings.ToLower(h.Name) + ": " + h.Value + "\n")
		}
		return &invoker.Response{Status: 200, Body: []byte(b.String())}, nil
	case req.Path == "/block":
		e.entered <- struct{}{}
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake: %w", invoker.ErrTimeout)
		}
		return &invoker.Response{Body: []byte("unblocked")}, nil
	}
	in := ""
	for _, h := range req.Header {
		if h.Name == "X-In" {
			in = h.Value
		}
	}
	return &invoker.Response{Status: 200, Header: []invoker.Header{
		{Name: "Content-Type", Value: "text/x-echo"},
		{Name: "X-Method", Value: req.Method}, {Name: "X-Path", Value: req.Path},
		{Name: "X-Query", Value: req.Query}, {Name: "X-Out", Value: in},
		{Name: "X-Version", Value: version},
	}, Body: append([]byte(nil), req.Body...)}, nil
}
