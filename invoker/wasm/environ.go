package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

// WASI errno values the environ functions return.
const (
	errnoSuccess = 0
	errnoFault   = 21
)

// envKey is the context key of a guest's environment.
type envKey struct{}

// guestEnv is the environment of one instance, as KEY=VALUE strings. A cgi
// instance sets vars before each run of _start (the goroutine start orders
// the write before the guest's reads); a loop instance sets it once.
type guestEnv struct {
	vars []string
}

// withEnv returns ctx carrying env for the environ host functions.
func withEnv(ctx context.Context, env *guestEnv) context.Context {
	return context.WithValue(ctx, envKey{}, env)
}

func envFrom(ctx context.Context) []string {
	if e, _ := ctx.Value(envKey{}).(*guestEnv); e != nil {
		return e.vars
	}
	return nil
}

// environSizesGet implements WASI environ_sizes_get from the calling
// instance's environment (wazero fixes the environment at instantiation; a
// cgi instance instantiated ahead of demand learns its request later).
func environSizesGet(ctx context.Context, mod api.Module, stack []uint64) {
	vars := envFrom(ctx)
	n := uint32(0)
	for _, v := range vars {
		n += uint32(len(v)) + 1
	}
	mem := mod.Memory()
	if mem == nil || !mem.WriteUint32Le(uint32(stack[0]), uint32(len(vars))) ||
		!mem.WriteUint32Le(uint32(stack[1]), n) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// environGet implements WASI environ_get: pointers to NUL-terminated
// strings at environ, the strings themselves at environ_buf.
func environGet(ctx context.Context, mod api.Module, stack []uint64) {
	vars := envFrom(ctx)
	ptrs, buf := uint32(stack[0]), uint32(stack[1])
	mem := mod.Memory()
	if mem == nil {
		stack[0] = errnoFault
		return
	}
	for i, v := range vars {
		if !mem.WriteUint32Le(ptrs+4*uint32(i), buf) ||
			!mem.WriteString(buf, v) ||
			!mem.WriteByte(buf+uint32(len(v)), 0) {
			stack[0] = errnoFault
			return
		}
		buf += uint32(len(v)) + 1
	}
	stack[0] = errnoSuccess
}
