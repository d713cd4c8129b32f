package interrupt

// Instrument rewrites a WebAssembly binary so that it checks the interrupt
// flag at every function entry and loop header (see the package doc).
// It returns an error wrapping invoker.ErrInvalidArtifact for input it cannot
// decode or that already uses the reserved names.
func Instrument(wasm []byte) ([]byte, error) {
	// Skeleton: pass-through until the rewriter lands.
	out := make([]byte, len(wasm))
	copy(out, wasm)
	return out, nil
}
