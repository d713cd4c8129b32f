package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
)

func TestLoopServesManyRequests(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.String(), func(t *testing.T) {
			r := newTestRuntime(t, Config{Engine: eng})
			if r.Name() != eng.String() {
				t.Fatalf("Name() = %q", r.Name())
			}
			f := load(t, r, specOf("echo", invoker.ABILoop, loopWasm))
			var tl invoker.Timeline
			inst := instance(t, f, &tl)
			if got := phases(&tl); !slices.Equal(got, []invoker.PhaseName{invoker.PhaseInstantiate, invoker.PhaseFirstReady}) {
				t.Errorf("cold-start phases = %v", got)
			}
			if !inst.Reusable() || inst.ID() == "" || inst.MemoryBytes() <= 0 {
				t.Errorf("Reusable=%v ID=%q MemoryBytes=%d", inst.Reusable(), inst.ID(), inst.MemoryBytes())
			}
			for i := range 5 {
				body := []byte(fmt.Sprintf("request %d", i))
				req := &invoker.Request{
					Method: "POST", Path: "/echo", Query: "i=" + fmt.Sprint(i),
					Header: []invoker.Header{{Name: "X-A", Value: "1"}}, Body: body,
				}
				tl.Reset()
				resp, err := inst.Invoke(context.Background(), req, &tl)
				if err != nil {
					t.Fatal(err)
				}
				copy(body, "XXXXXXX") // the caller owns req after Invoke
				if resp.Status != 200 || string(resp.Body) != fmt.Sprintf("request %d", i) {
					t.Fatalf("response %d: %d %q", i, resp.Status, resp.Body)
				}
				want := []invoker.Header{{Name: "X-Method", Value: "POST"}, {Name: "X-Path", Value: "/echo"}, {Name: "X-Query", Value: fmt.Sprintf("i=%d", i)}}
				if !slices.Equal(resp.Header, want) {
					t.Errorf("headers = %v", resp.Header)
				}
				if got := phases(&tl); !slices.Equal(got, []invoker.PhaseName{invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead}) {
					t.Errorf("invoke phases = %v", got)
				}
			}
		})
	}
}

func TestEnvironmentArgsAndNoFilesystem(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.String(), func(t *testing.T) {
			r := newTestRuntime(t, Config{Engine: eng})
			for _, abi := range []invoker.ABI{invoker.ABILoop, invoker.ABICGI} {
				bin := loopWasm
				if abi == invoker.ABICGI {
					bin = cgiWasm
				}
				spec := specOf("envfn", abi, bin)
				spec.Env = map[string]string{"FOO": "bar", "LUMOS_ABI": "spoofed"}
				f := load(t, r, spec)

				resp := invokeOnce(t, f, &invoker.Request{Method: "GET", Path: "/env"})
				for _, want := range []string{"FOO=bar", "LUMOS_ABI=" + string(abi), "ARGS="} {
					if !strings.Contains(string(resp.Body), want) {
						t.Errorf("%s: env output lacks %q:\n%s", abi, want, resp.Body)
					}
				}
				if strings.Contains(string(resp.Body), "spoofed") {
					t.Errorf("%s: spec env overrode LUMOS_ABI:\n%s", abi, resp.Body)
				}
				if !strings.Contains(string(resp.Body), "envfn") {
					t.Errorf("%s: args lack the function name:\n%s", abi, resp.Body)
				}

				resp = invokeOnce(t, f, &invoker.Request{Method: "GET", Path: "/fs"})
				if s := string(resp.Body); s == "<nil>" || s == "" {
					t.Errorf("%s: opening / succeeded (%q): the guest must have no filesystem", abi, s)
				}
			}
		})
	}
}

// invokeOnce runs one request on a fresh instance.
func invokeOnce(t *testing.T, f invoker.Function, req *invoker.Request) *invoker.Response {
	t.Helper()
	inst := instance(t, f, nil)
	resp, err := inst.Invoke(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestCGI(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.String(), func(t *testing.T) {
			r := newTestRuntime(t, Config{Engine: eng})
			f := load(t, r, specOf("cgifn", invoker.ABICGI, cgiWasm))

			var tl invoker.Timeline
			inst := instance(t, f, &tl)
			if got := phases(&tl); !slices.Equal(got, []invoker.PhaseName{invoker.PhaseInstantiate}) {
				t.Errorf("cold-start phases = %v", got)
			}
			if inst.Reusable() {
				t.Error("cgi instance claims to be reusable")
			}
			req := &invoker.Request{
				Method: "PUT", Path: "/", Query: "a=1&b=2",
				Header: []invoker.Header{
					{Name: "Content-Type", Value: "application/json"},
					{Name: "X-Test", Value: "one"}, {Name: "x-test", Value: "two"},
					{Name: "Proxy", Value: "evil"},
				},
				Body: []byte(`{"hello":"world"}`),
			}
			tl.Reset()
			resp, err := inst.Invoke(context.Background(), req, &tl)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || !slices.Equal(resp.Header, []invoker.Header{{Name: "Content-Type", Value: "text/plain"}}) {
				t.Errorf("status %d headers %v", resp.Status, resp.Header)
			}
			env, body, _ := strings.Cut(string(resp.Body), "--\n")
			for _, want := range []string{
				"REQUEST_METHOD=PUT\n", "PATH_INFO=/\n", "QUERY_STRING=a=1&b=2\n",
				"CONTENT_TYPE=application/json\n", "CONTENT_LENGTH=17\n", "SERVER_PROTOCOL=HTTP/1.1\n",
				"HTTP_X_TEST=one, two\n", "LUMOS_ABI=cgi\n", "ARGS=[cgifn]\n",
			} {
				if !strings.Contains(env, want) {
					t.Errorf("environment lacks %q:\n%s", want, env)
				}
			}
			if strings.Contains(env, "HTTP_PROXY") {
				t.Errorf("HTTP_PROXY reached the guest:\n%s", env)
			}
			if body != `{"hello":"world"}` {
				t.Errorf("stdin echo = %q", body)
			}
			if got := phases(&tl); !slices.Equal(got, []invoker.PhaseName{invoker.PhaseRequestWrite, invoker.PhaseExecute, invoker.PhaseResponseRead}) {
				t.Errorf("invoke phases = %v", got)
			}
			if _, err := inst.Invoke(context.Background(), req, nil); err == nil {
				t.Error("second Invoke of a cgi instance succeeded")
			}

			tests := []struct {
				path   string
				status int
				header []invoker.Header
				body   string
			}{
				{"/status", 404, []invoker.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "X-Custom", Value: "yes"}}, "not here"},
				{"/plain", 200, []invoker.Header{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}}, "just text, no headers"},
				{"/hello", 200, []invoker.Header{{Name: "Content-Type", Value: "text/plain"}}, "hello"},
			}
			for _, tt := range tests {
				resp := invokeOnce(t, f, &invoker.Request{Method: "GET", Path: tt.path})
				if resp.Status != tt.status || !slices.Equal(resp.Header, tt.header) || string(resp.Body) != tt.body {
					t.Errorf("%s: got %d %v %q", tt.path, resp.Status, resp.Header, resp.Body)
				}
			}
		})
	}
}

// TestThirdPartyModulesAsCGI runs cat programs built by the Rust, Zig, Zig-cc
// and TinyGo toolchains: with no grant they see no file and print nothing;
// given a read-only mount and a file argument, they print the file.
func TestThirdPartyModulesAsCGI(t *testing.T) {
	mods, err := filepath.Glob("testdata/thirdparty/*.wasm")
	if err != nil || len(mods) != 4 {
		t.Fatalf("third-party modules: %v %v", mods, err)
	}
	dir := t.TempDir()
	const content = "a file the function was granted\n"
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, eng := range engines {
		r := newTestRuntime(t, Config{Engine: eng})
		for _, path := range mods {
			t.Run(eng.String()+"/"+filepath.Base(path), func(t *testing.T) {
				bin, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				name := strings.TrimSuffix(filepath.Base(path), ".wasm")
				f := load(t, r, specOf(name, invoker.ABICGI, bin))
				resp := invokeOnce(t, f, &invoker.Request{Method: "POST", Path: "/", Body: []byte("ignored")})
				if resp.Status != 200 || len(resp.Body) != 0 {
					t.Errorf("no grant: got %d %q", resp.Status, resp.Body)
				}

				spec := specOf(name+"-granted", invoker.ABICGI, bin)
				spec.Args = []string{"note.txt"}
				spec.Mounts = []invoker.Mount{{HostPath: dir, GuestPath: "/"}}
				resp = invokeOnce(t, load(t, r, spec), &invoker.Request{Method: "GET", Path: "/"})
				if resp.Status != 200 || string(resp.Body) != content {
					t.Errorf("granted: got %d %q, want the file", resp.Status, resp.Body)
				}

				// The grant is read-only and ends at the mount.
				spec = specOf(name+"-outside", invoker.ABICGI, bin)
				spec.Args = []string{"../../etc/passwd"}
				spec.Mounts = []invoker.Mount{{HostPath: dir, GuestPath: "/"}}
				inst := instance(t, load(t, r, spec), nil)
				if resp, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: "/"}, nil); err == nil && strings.Contains(string(resp.Body), "root:") {
					t.Errorf("read outside the mount: %q", resp.Body)
				}
			})
		}
	}
}

func TestGuestFailures(t *testing.T) {
	tests := []struct {
		path string
		want error
		msg  []string // substrings of the error
	}{
		{"/trap", invoker.ErrTrap, []string{"out of bounds memory access"}},
		{"/exit", invoker.ErrExit, []string{"code 3", "exiting with code 3 as asked"}},
		{"/hog", invoker.ErrOutOfMemory, []string{"out of memory"}},
	}
	for _, eng := range engines {
		r := newTestRuntime(t, Config{Engine: eng, DefaultMemoryLimit: 32 << 20})
		for _, abi := range []invoker.ABI{invoker.ABILoop, invoker.ABICGI} {
			bin := loopWasm
			if abi == invoker.ABICGI {
				bin = cgiWasm
			}
			f := load(t, r, specOf("fail", abi, bin))
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%s/%s%s", eng, abi, tt.path), func(t *testing.T) {
					inst := instance(t, f, nil)
					_, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: tt.path}, nil)
					if !errors.Is(err, tt.want) {
						t.Fatalf("err = %v, want %v", err, tt.want)
					}
					for _, m := range tt.msg {
						if !strings.Contains(err.Error(), m) {
							t.Errorf("error %q lacks %q", err, m)
						}
					}
					if got := inst.MemoryBytes(); got > 32<<20 {
						t.Errorf("memory %d above the 32 MiB limit", got)
					}
				})
			}
		}
	}
}

func TestTimeout(t *testing.T) {
	for _, eng := range engines {
		r := newTestRuntime(t, Config{Engine: eng})
		for _, abi := range []invoker.ABI{invoker.ABILoop, invoker.ABICGI} {
			bin := loopWasm
			if abi == invoker.ABICGI {
				bin = cgiWasm
			}
			f := load(t, r, specOf("slow", abi, bin))
			for _, path := range []string{"/spin", "/sleep"} {
				t.Run(fmt.Sprintf("%s/%s%s", eng, abi, path), func(t *testing.T) {
					inst := instance(t, f, nil)
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					defer cancel()
					_, err := inst.Invoke(ctx, &invoker.Request{Method: "GET", Path: path}, nil)
					if !errors.Is(err, invoker.ErrTimeout) {
						t.Fatalf("err = %v, want ErrTimeout", err)
					}
					if deadline, _ := ctx.Deadline(); time.Now().Before(deadline) {
						t.Error("Invoke returned ErrTimeout before the deadline")
					}
					g := guestOf(inst)
					if err := inst.Close(context.Background()); err != nil {
						t.Fatal(err)
					}
					if err := inst.Close(context.Background()); err != nil {
						t.Fatalf("second Close: %v", err)
					}
					<-g.exited // the guest really stopped (the test's own timeout bounds this)
					if !errors.Is(g.exitErr, invoker.ErrTimeout) && path == "/spin" {
						t.Errorf("spinning guest ended with %v, want an interrupt", g.exitErr)
					}
				})
			}
		}
	}
}

func TestLoopProtocolViolation(t *testing.T) {
	r := newTestRuntime(t, Config{Engine: Interpreter})
	f := load(t, r, specOf("junk", invoker.ABILoop, loopWasm))
	inst := instance(t, f, nil)
	_, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: "/junk"}, nil)
	if !errors.Is(err, invoker.ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
	if _, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: "/hello"}, nil); err == nil {
		t.Error("a broken instance served another request")
	}
}

func TestInvalidArtifacts(t *testing.T) {
	fn := func(mod, name string, params, results int) []byte {
		return importEntryBytes(mod, name, 0, append(append([]byte{0x60, byte(params)}, repeat(0x7f, params)...), append([]byte{byte(results)}, repeat(0x7f, results)...)...))
	}
	tests := []struct {
		name string
		bin  []byte
		msg  string
	}{
		{"text", []byte("#!/bin/sh\necho hello\n"), "not WebAssembly"},
		{"empty", nil, "not WebAssembly"},
		{"wasm version 2", []byte("\x00asm\x02\x00\x00\x00"), "version"},
		{"truncated Go module", loopWasm[:len(loopWasm)/2], "unexpected end"},
		{"unknown module", buildModule(fn("env", "foo", 0, 0), true), "env.foo"},
		{"unknown WASI function", buildModule(fn("wasi_snapshot_preview1", "no_such_call", 0, 0), true), "no_such_call"},
		{"WASI signature mismatch", buildModule(fn("wasi_snapshot_preview1", "fd_write", 0, 0), true), "signature"},
		{"imported memory", buildModule(importEntryBytes("env", "memory", 2, []byte{0, 1}), true), "memory"},
		{"imported global", buildModule(importEntryBytes("env", "g", 3, []byte{0x7f, 0}), true), "global"},
		{"imported table", buildModule(importEntryBytes("env", "t", 1, []byte{0x70, 0, 1}), true), "table"},
		{"no _start", buildModule(nil, false), "_start"},
	}
	for _, eng := range engines {
		r := newTestRuntime(t, Config{Engine: eng})
		for _, tt := range tests {
			t.Run(eng.String()+"/"+tt.name, func(t *testing.T) {
				_, err := r.Load(context.Background(), specOf("bad", invoker.ABICGI, tt.bin))
				if !errors.Is(err, invoker.ErrInvalidArtifact) {
					t.Fatalf("err = %v, want ErrInvalidArtifact", err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %q lacks %q", err, tt.msg)
				}
			})
		}
		t.Run(eng.String()+"/valid minimal module", func(t *testing.T) {
			f := load(t, r, specOf("minimal", invoker.ABICGI, buildModule(fn("wasi_snapshot_preview1", "sched_yield", 0, 1), true)))
			resp := invokeOnce(t, f, &invoker.Request{Method: "GET", Path: "/"})
			if resp.Status != 200 || len(resp.Body) != 0 {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
		})
		t.Run(eng.String()+"/image name instead of a module", func(t *testing.T) {
			spec := invoker.Spec{Name: "img", ABI: invoker.ABILoop, Image: "docker.io/library/hello:latest"}
			_, err := r.Load(context.Background(), spec)
			if !errors.Is(err, invoker.ErrInvalidArtifact) || !strings.Contains(err.Error(), spec.Image) {
				t.Fatalf("err = %v, want ErrInvalidArtifact naming the image", err)
			}
		})
		t.Run(eng.String()+"/memory limit below the module's minimum", func(t *testing.T) {
			spec := specOf("tiny", invoker.ABILoop, loopWasm)
			spec.MemoryLimit = 1 << 20
			if _, err := r.Load(context.Background(), spec); !errors.Is(err, invoker.ErrInvalidArtifact) {
				t.Fatalf("err = %v, want ErrInvalidArtifact", err)
			}
		})
	}
}

func repeat(b byte, n int) []byte { return []byte(strings.Repeat(string(rune(b)), n)) }

// importEntryBytes encodes one import section entry; for a function import
// desc is its type (0x60 params results), which buildModule moves to the
// type section.
func importEntryBytes(mod, name string, kind byte, desc []byte) []byte {
	b := append([]byte{byte(len(mod))}, mod...)
	b = append(append(b, byte(len(name))), name...)
	return append(append(b, kind), desc...)
}

// buildModule returns a module with at most one import and, if start, an
// exported no-op _start.
func buildModule(imp []byte, start bool) []byte {
	section := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	b := []byte("\x00asm\x01\x00\x00\x00")
	types := []byte{0x60, 0, 0} // type 0: () -> ()
	nTypes := byte(1)
	nFuncImports := byte(0)
	if len(imp) > 0 {
		kindAt := 1 + int(imp[0]) + 1 + int(imp[1+int(imp[0])])
		if imp[kindAt] == 0 { // function: move its type to the type section
			types = append(types, imp[kindAt+1:]...)
			imp = append(imp[:kindAt+1:kindAt+1], 1)
			nTypes, nFuncImports = 2, 1
		}
	}
	b = append(b, section(1, append([]byte{nTypes}, types...)...)...)
	if len(imp) > 0 {
		b = append(b, section(2, append([]byte{1}, imp...)...)...)
	}
	if start {
		b = append(b, section(3, 1, 0)...)
		b = append(b, section(7, append(append([]byte{1, 6}, "_start"...), 0, nFuncImports)...)...)
		b = append(b, section(10, 1, 2, 0, 0x0b)...)
	}
	return b
}

func TestEvictionAndRecompile(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.String(), func(t *testing.T) {
			// A one-byte bound keeps only the newest module.
			r := newTestRuntime(t, Config{Engine: eng, CompiledCacheBytes: 1})
			a := load(t, r, specOf("a", invoker.ABILoop, loopWasm))
			live := instance(t, a, nil)
			b := load(t, r, specOf("b", invoker.ABICGI, cgiWasm))
			st := r.Stats()
			if st.Modules != 1 || st.Evictions != 1 {
				t.Fatalf("after loading b: %+v", st)
			}
			// An instance outlives the eviction of its compiled module.
			if resp, err := live.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: "/hello"}, nil); err != nil || string(resp.Body) != "hello" {
				t.Fatalf("live instance after eviction: %v %v", resp, err)
			}
			var tl invoker.Timeline
			inst := instance(t, a, &tl)
			if got := phases(&tl); got[0] != invoker.PhaseCompile {
				t.Errorf("NewInstance after eviction: phases %v, want compile first", got)
			}
			if resp, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: "/hello"}, nil); err != nil || string(resp.Body) != "hello" {
				t.Fatalf("recompiled instance: %v %v", resp, err)
			}
			st = r.Stats()
			if st.Misses != 1 || st.Evictions != 2 || st.Compiles != 3 {
				t.Errorf("stats %+v, want 1 miss, 2 evictions, 3 compiles", st)
			}
			tl.Reset()
			_ = instance(t, b, &tl) // b was evicted by a's recompile
			if got := phases(&tl); got[0] != invoker.PhaseCompile {
				t.Errorf("phases %v, want compile first", got)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := r.Stats(); st.Modules != 0 {
				t.Errorf("closing the only function using a module left %d modules", st.Modules)
			}
		})
	}
}

func TestDiskCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	spec := specOf("cached", invoker.ABILoop, loopWasm)
	var tl [2]invoker.Timeline
	for i := range 2 {
		r, err := New(context.Background(), Config{Engine: Compiler, CacheDir: dir, CompiledCacheBytes: 1})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		f, err := r.Load(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		loadTime := time.Since(start)
		st := r.Stats()
		// Evict it, so that NewInstance reports how the module came back.
		if _, err := r.Load(context.Background(), specOf("other", invoker.ABICGI, cgiWasm)); err != nil {
			t.Fatal(err)
		}
		inst, err := f.NewInstance(context.Background(), &tl[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("runtime %d: Load took %v, stats after load %+v, NewInstance phases %v", i, loadTime, st, tl[i].Phases())
		if i == 0 && (st.Compiles != 1 || st.CacheLoads != 0) {
			t.Errorf("first runtime: %+v, want one compile", st)
		}
		if i == 1 && (st.Compiles != 0 || st.CacheLoads != 1) {
			t.Errorf("second runtime: %+v, want one cache load", st)
		}
		if got := phases(&tl[i])[0]; got != invoker.PhaseCacheLoad {
			t.Errorf("runtime %d: NewInstance after eviction began with %s, want cache_load", i, got)
		}
		_ = inst.Close(context.Background())
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentInstances(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.String(), func(t *testing.T) {
			r := newTestRuntime(t, Config{Engine: eng})
			loop := load(t, r, specOf("loop", invoker.ABILoop, loopWasm))
			cgi := load(t, r, specOf("cgi", invoker.ABICGI, cgiWasm))
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for w := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- hammer(loop, cgi, w)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func hammer(loop, cgi invoker.Function, w int) error {
	ctx := context.Background()
	ids := map[string]bool{}
	for i := range 3 {
		inst, err := loop.NewInstance(ctx, nil)
		if err != nil {
			return err
		}
		ids[inst.ID()] = true
		for j := range 10 {
			body := fmt.Sprintf("w%d-i%d-j%d", w, i, j)
			resp, err := inst.Invoke(ctx, &invoker.Request{Method: "POST", Path: "/", Body: []byte(body)}, nil)
			if err != nil {
				return err
			}
			if string(resp.Body) != body {
				return fmt.Errorf("loop got %q, want %q", resp.Body, body)
			}
		}
		if err := inst.Close(ctx); err != nil {
			return err
		}
		c, err := cgi.NewInstance(ctx, nil)
		if err != nil {
			return err
		}
		body := fmt.Sprintf("cgi-w%d-i%d", w, i)
		resp, err := c.Invoke(ctx, &invoker.Request{Method: "POST", Path: "/", Body: []byte(body)}, nil)
		if err != nil {
			return err
		}
		if !strings.HasSuffix(string(resp.Body), "--\n"+body) {
			return fmt.Errorf("cgi got %q", resp.Body)
		}
		_ = c.Close(ctx)
	}
	if len(ids) != 3 {
		return fmt.Errorf("instance IDs not unique: %v", ids)
	}
	return nil
}

// TestIdleMisbehaviour: a loop guest that answers, then floods stdout or
// keeps computing while idle, is stopped within the idle grace; the host
// keeps none of the flood; and the next request learns that the instance was
// lost before anything of it was sent, so it can go to another instance.
func TestIdleMisbehaviour(t *testing.T) {
	for _, eng := range engines {
		r := newTestRuntime(t, Config{Engine: eng})
		f := load(t, r, specOf("idle", invoker.ABILoop, loopWasm))
		for _, path := range []string{"/flood-after", "/spin-after"} {
			t.Run(eng.String()+path, func(t *testing.T) {
				inst := instance(t, f, nil)
				resp, err := inst.Invoke(context.Background(), &invoker.Request{Method: "GET", Path: path}, nil)
				if err != nil || resp.Status != 200 {
					t.Fatalf("the answer before misbehaving: %v %v", resp, err)
				}
				select {
				case <-guestOf(inst).exited:
				case <-time.After(30 * time.Second):
					t.Fatal("the idle guest was never stopped")
				}
				out := inst.(*loopInstance).out
				out.mu.Lock()
				kept := len(out.buf)
				out.mu.Unlock()
				if kept != 0 {
					t.Fatalf("the host kept %d bytes of the guest's idle output", kept)
				}
				_, err = inst.Invoke(context.Background(), helloReq, nil)
				if !errors.Is(err, invoker.ErrInstanceLost) {
					t.Fatalf("next request: %v, want ErrInstanceLost", err)
				}
			})
		}
	}
}

// TestExpiredContextKeepsInstance: a request whose deadline passed before it
// was sent fails with ErrTimeout and leaves the instance serving.
func TestExpiredContextKeepsInstance(t *testing.T) {
	r := newTestRuntime(t, Config{Engine: Compiler})
	inst := instance(t, load(t, r, specOf("expired", invoker.ABILoop, loopWasm)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := inst.Invoke(ctx, helloReq, nil); !errors.Is(err, invoker.ErrTimeout) {
		t.Fatalf("expired context: %v, want ErrTimeout", err)
	}
	if resp, err := inst.Invoke(context.Background(), helloReq, nil); err != nil || string(resp.Body) != "hello" {
		t.Fatalf("the instance after an expired request: %v %v", resp, err)
	}
}
