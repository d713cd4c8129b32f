package interrupt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/lumos-edge/lumos/invoker"
)

// Helpers to hand-assemble modules.
func sec(id byte, payload ...[]byte) []byte { return appendSection(nil, id, bytes.Join(payload, nil)) }
func b(v ...byte) []byte                    { return v }
func str(s string) []byte                   { return appendName(nil, s) }
func module(sections ...[]byte) []byte {
	return append(append([]byte{}, wasmHeader...), bytes.Join(sections, nil)...)
}

// body encodes a function body (locals and code) with its size.
func body(code ...byte) []byte { return append(appendU32(nil, uint32(len(code))), code...) }

// renumberModule exercises every place a function index appears: one import
// (index 0) and eight defined functions f1..f8 (indexes 1..8).
func renumberModule() []byte {
	return module(
		sec(secType, b(3), b(0x60, 0, 1, 0x7f), b(0x60, 1, 0x7f, 1, 0x7f), b(0x60, 0, 0)),
		sec(secImport, b(1), str("env"), str("forty_two"), b(0x00, 0)),
		sec(secFunction, b(8, 0, 0, 1, 0, 2, 0, 1, 1)),
		sec(secTable, b(1, 0x70, 0, 2)),
		// g0: mut i32 = 0; g1: funcref = ref.func f2
		sec(secGlobal, b(2), b(0x7f, 1, 0x41, 0, 0x0b), b(0x70, 0, 0xd2, 2, 0x0b)),
		sec(secExport, b(7),
			str("one"), b(0, 1), str("imp"), b(0, 2), str("ind"), b(0, 3), str("g"), b(0, 4),
			str("via_ref_func"), b(0, 6), str("loop"), b(0, 7), str("tail"), b(0, 8)),
		sec(secStart, b(5)),
		// active [f1 f2] at 0; declarative [f4] (allows ref.func 4 in code);
		// passive expression segment [ref.func f1].
		sec(secElement, b(3), b(0, 0x41, 0, 0x0b, 2, 1, 2), b(3, 0, 1, 4), b(5, 0x70, 1, 0xd2, 1, 0x0b)),
		sec(secCode, b(8),
			body(0, 0x41, 1, 0x0b),                                        // f1: 1
			body(0, 0x10, 0, 0x0b),                                        // f2: call import
			body(0, 0x20, 0, 0x11, 0, 0, 0x0b),                            // f3: call_indirect table[p]
			body(0, 0x23, 0, 0x0b),                                        // f4: g0
			body(0, 0x41, 7, 0x10, 1, 0x6a, 0x24, 0, 0x0b),                // f5 (start): g0 = 7 + f1()
			body(0, 0x41, 1, 0xd2, 4, 0x26, 0, 0x41, 1, 0x11, 0, 0, 0x0b), // f6: table[1] = f4; call it
			body(1, 1, 0x7f, 0x41, 5, 0x21, 1, 0x03, 0x40, 0x20, 1, 0x41, 1, 0x6b, 0x22, 1, 0x0d, 0, 0x0b,
				0x20, 1, 0x20, 0, 0x6a, 0x0b), // f7: count 5 down in a loop, return p + 0
			body(0, 0x20, 0, 0x12, 3, 0x0b), // f8: return_call f3
		),
		sec(secCustom, str("name"), b(1), appendU32(nil, uint32(len(nameMap()))), nameMap()),
	)
}

func nameMap() []byte {
	out := b(9)
	for i, n := range []string{"forty_two", "one_fn", "imp_fn", "ind_fn", "g_fn", "start_fn", "ref_fn", "loop_fn", "tail_fn"} {
		out = append(out, byte(i))
		out = append(out, str(n)...)
	}
	return out
}

// TestInstrumentRenumbers runs the hand-assembled module before and after
// instrumentation on both engines: same results, same function names.
func TestInstrumentRenumbers(t *testing.T) {
	orig := renumberModule()
	inst, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		export string
		arg    []uint64
		want   uint64
		name   string
	}{
		{"one", nil, 1, "one_fn"},
		{"imp", nil, 42, "imp_fn"},
		{"ind", []uint64{0}, 1, "ind_fn"},
		{"ind", []uint64{1}, 42, "ind_fn"},
		{"tail", []uint64{0}, 1, "tail_fn"},
		{"g", nil, 8, "g_fn"},
		{"via_ref_func", nil, 8, "ref_fn"},
		{"loop", []uint64{9}, 9, "loop_fn"},
	}
	for _, e := range engines {
		for _, tc := range []struct {
			name string
			bin  []byte
		}{{"plain", orig}, {"instrumented", inst}} {
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				r := newRuntime(t, e.cfg().WithCoreFeatures(allFeatures))
				_, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
					WithFunc(func() uint32 { return 42 }).Export("forty_two").Instantiate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				mod, err := r.Instantiate(ctx, tc.bin)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range calls {
					fn := mod.ExportedFunction(c.export)
					got, err := fn.Call(ctx, c.arg...)
					if err != nil {
						t.Fatalf("%s%v: %v", c.export, c.arg, err)
					}
					if got[0] != c.want {
						t.Fatalf("%s%v = %d, want %d", c.export, c.arg, got[0], c.want)
					}
					if n := fn.Definition().Name(); n != c.name {
						t.Fatalf("%s is named %q, want %q", c.export, n, c.name)
					}
				}
			})
		}
	}
}

// TestInstrumentRejects checks that undecodable input and reserved names are
// refused with errors the gateway maps to 400.
func TestInstrumentRejects(t *testing.T) {
	valid := renumberModule()
	tests := []struct {
		name  string
		in    []byte
		clash bool
	}{
		{"empty", nil, false},
		{"bad magic", []byte("\x00wasm\x01\x00\x00\x00"), false},
		{"component version", []byte("\x00asm\x0d\x00\x01\x00"), false},
		{"truncated", valid[:len(valid)/2], false},
		{"unknown section", module(sec(14, b(0))), false},
		{"sections out of order", module(sec(secFunction, b(0)), sec(secType, b(0))), false},
		{"unknown opcode", module(sec(secType, b(1), b(0x60, 0, 0)), sec(secFunction, b(1, 0)),
			sec(secCode, b(1), body(0, 0x27, 0x0b))), false},
		{"unknown simd opcode", module(sec(secType, b(1), b(0x60, 0, 0)), sec(secFunction, b(1, 0)),
			sec(secCode, b(1), body(0, 0xfd, 0x9a, 0x01, 0x0b))), false},
		{"trailing bytes in body", module(sec(secType, b(1), b(0x60, 0, 0)), sec(secFunction, b(1, 0)),
			sec(secCode, b(1), body(0, 0x0b, 0x01))), false},
		{"implausible import count", module(sec(secImport, b(0xff, 0xff, 0xff, 0xff, 0x0f))), false},
		{"implausible data size", module(sec(secData, b(1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f))), false},
		{"too many locals", module(sec(secType, b(1), b(0x60, 0, 0)), sec(secFunction, b(1, 0)),
			sec(secCode, b(1), body(1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b))), false},
		{"imports lumos.yield", module(sec(secType, b(1), b(0x60, 0, 0)),
			sec(secImport, b(1), str(ImportModule), str(ImportName), b(0, 0))), true},
		{"exports lumos.interrupt", module(sec(secGlobal, b(1), b(0x7f, 1, 0x41, 0, 0x0b)),
			sec(secExport, b(1), str(FlagExport), b(3, 0))), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.in)
			if err == nil {
				t.Fatalf("Instrument accepted it: % x", out)
			}
			if !errors.Is(err, invoker.ErrInvalidArtifact) {
				t.Fatalf("error %q does not wrap invoker.ErrInvalidArtifact", err)
			}
			if errors.Is(err, ErrNameClash) != tc.clash {
				t.Fatalf("error %q: name clash = %v, want %v", err, !tc.clash, tc.clash)
			}
		})
	}
}

// TestInstrumentEmptyModule: a module with no sections gains the import,
// the global and its export, and still instantiates.
func TestInstrumentEmptyModule(t *testing.T) {
	inst, err := Instrument(module())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	mod, err := r.Instantiate(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewController(0).Bind(mod); err != nil {
		t.Fatal(err)
	}
	if _, ok := mod.ExportedGlobal(FlagExport).(api.MutableGlobal); !ok {
		t.Fatal("no mutable flag export")
	}
}

// FuzzInstrument: Instrument never panics, and whatever wazero accepts
// (with every feature it supports) stays acceptable after instrumentation.
func FuzzInstrument(f *testing.F) {
	f.Add(renumberModule())
	f.Add(module())
	for _, name := range []string{"infinite_loop.wasm", "wasi_env.wasm", "wasi_arg.wasm", "cat-zig.wasm"} {
		bin, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bin)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures))
	defer r.Close(ctx)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, ierr := Instrument(in)
		if errors.Is(ierr, errImplausible) {
			// wazero v1.12.0 would allocate from the implausible count and
			// may run out of memory: this is what Instrument guards against.
			return
		}
		cm, err := r.CompileModule(ctx, in)
		if err != nil {
			return
		}
		_ = cm.Close(ctx)
		if ierr != nil {
			if errors.Is(ierr, ErrNameClash) {
				return
			}
			t.Fatalf("wazero accepts the input, Instrument rejects it: %v", ierr)
		}
		cm2, err := r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented module does not compile: %v", err)
		}
		_ = cm2.Close(ctx)
	})
}
