// Package functions ships Lumos's bundled functions inside the lumos
// binary: the WebAssembly modules of the sample functions (hello, echo, fib,
// json) that a fresh gateway deploys, of the test functions (spin, crash,
// trap) that exercise timeouts and failures, and of the workload suite of
// the Lumos paper (Suite, with Workloads describing how to drive and check
// each) plus two of its functions written in C (CFunctions). The sources
// live in the subdirectories, written against package functions/sdk (the C
// ones in c/); the modules in wasm/ are built from them by `go generate
// ./functions` and committed, and TestEmbeddedModulesUpToDate fails when
// they are stale.
package functions

//go:generate go run ./internal/build

import (
	"embed"
	"errors"
	"fmt"

	"github.com/lumos-edge/lumos/invoker"
)

// modules holds wasm/<name>.wasm for every bundled function. embed.FS is read-only.
//
//go:embed wasm/*.wasm
var modules embed.FS

// ErrNotBundled is returned by Wasm for a name no bundled function has.
var ErrNotBundled = errors.New("functions: not a bundled function")

// Bundled describes a function that ships inside the lumos binary.
type Bundled struct {
	// Name is the function's name, also its directory and module file name.
	Name string
	// ABI is the ABI it is deployed with. The SDK speaks both; the host
	// tells it which through LUMOS_ABI.
	ABI invoker.ABI
	// Description says what it does, in one line.
	Description string
}

// List returns the sample functions a fresh gateway deploys, in a new slice.
func List() []Bundled {
	return []Bundled{
		{Name: "hello", ABI: invoker.ABILoop, Description: `answers "Hello, world!" (noop)`},
		{Name: "echo", ABI: invoker.ABILoop, Description: "answers the request body, with X-Echo-Method, -Path and -Query headers"},
		{Name: "fib", ABI: invoker.ABILoop, Description: `naive recursive Fibonacci of ?n= or {"number": n}, n in [0, 50] (CPU-bound)`},
		{Name: "json", ABI: invoker.ABILoop, Description: "decodes a JSON body, uppercases its strings, sorts keys, counts values (serialization)"},
	}
}

// TestFunctions returns the functions made to fail, for tests of timeouts
// and error handling, in a new slice.
func TestFunctions() []Bundled {
	return []Bundled{
		{Name: "spin", ABI: invoker.ABILoop, Description: "loops forever when invoked (timeouts)"},
		{Name: "crash", ABI: invoker.ABILoop, Description: `writes "crash: boom" to stderr and exits 3 when invoked`},
		{Name: "trap", ABI: invoker.ABILoop, Description: "performs a WebAssembly trap (out-of-bounds store) when invoked"},
	}
}

// Suite returns the workload suite of the Lumos paper, plus JSON
// serialization (SeBS) and gzip compression (FunctionBench), in a new
// slice. Each is one Go source built for both the wasm and the container
// runtime; Workloads describes their inputs and checks their answers.
func Suite() []Bundled {
	return []Bundled{
		{Name: "hello", ABI: invoker.ABILoop, Description: `answers "Hello, world!" (noop)`},
		{Name: "fib", ABI: invoker.ABILoop, Description: `naive recursive Fibonacci of {"number": n} (CPU-bound)`},
		{Name: "prime", ABI: invoker.ABILoop, Description: `counts the primes up to {"limit": n} with a sieve (CPU and memory)`},
		{Name: "nbody", ABI: invoker.ABILoop, Description: `the Benchmarks Game n-body simulation for {"n": steps} (floating point)`},
		{Name: "mandelbrot", ABI: invoker.ABILoop, Description: `the Benchmarks Game Mandelbrot set as a PBM bitmap of {"image_size": n}`},
		{Name: "audio", ABI: invoker.ABILoop, Description: `a 440 Hz sine wave as a 16-bit WAV of {"audio_size": KB}`},
		{Name: "thumbnail", ABI: invoker.ABILoop, Description: `scales a JPEG or PNG body (or a bundled 720x480 image) by scale_factor into a JPEG`},
		{Name: "fuzzy", ABI: invoker.ABILoop, Description: `the words of a text nearest to search_term by Levenshtein distance`},
		{Name: "langdetect", ABI: invoker.ABILoop, Description: `names the language of {"input_text"} from character trigrams (7 languages)`},
		{Name: "aes", ABI: invoker.ABILoop, Description: `AES-256-GCM encrypt or decrypt of {"key", "message", "op"}`},
		{Name: "json", ABI: invoker.ABILoop, Description: "decodes a JSON body, uppercases its strings, sorts keys, counts values (serialization)"},
		{Name: "gzip", ABI: invoker.ABILoop, Description: "gzips the body, or ?size=N bytes of generated text (compression)"},
	}
}

// CFunctions returns the suite functions also written in C (c/<name>.c,
// built with clang and wasi-libc), in a new slice. They speak the cgi ABI
// only and answer exactly like the Go function of the name without "c-".
func CFunctions() []Bundled {
	return []Bundled{
		{Name: "c-fib", ABI: invoker.ABICGI, Description: "fib in C (clang, wasi-libc): the same answers as fib"},
		{Name: "c-prime", ABI: invoker.ABICGI, Description: "prime in C (clang, wasi-libc): the same answers as prime"},
	}
}

// Wasm returns a copy of the embedded module of the bundled function name
// (from List, TestFunctions, Suite or CFunctions).
func Wasm(name string) ([]byte, error) {
	if !bundled(name) {
		return nil, fmt.Errorf("%w: %q", ErrNotBundled, name)
	}
	b, err := modules.ReadFile("wasm/" + name + ".wasm")
	if err != nil {
		return nil, fmt.Errorf("functions: module of %q: %w", name, err)
	}
	return b, nil
}

func bundled(name string) bool {
	for _, l := range [][]Bundled{List(), TestFunctions(), Suite(), CFunctions()} {
		for _, b := range l {
			if b.Name == name {
				return true
			}
		}
	}
	return false
}
