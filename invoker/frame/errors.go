package frame

import "strconv"

// frameError is an error that wraps sentinels and causes. The package builds
// its messages without fmt, which would add about 360 KB to every Wasm
// module built with the SDK (a tenth of a small Go module, paid again at
// every cold compile).
type frameError struct {
	msg  string
	errs []error
}

func (e *frameError) Error() string   { return e.msg }
func (e *frameError) Unwrap() []error { return e.errs }

// newError concatenates parts into a message: strings as they are,
// integers in decimal, errors by their text (and wraps the errors).
func newError(parts ...any) error {
	e := &frameError{}
	b := make([]byte, 0, 64)
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b = append(b, p...)
		case int:
			b = strconv.AppendInt(b, int64(p), 10)
		case int64:
			b = strconv.AppendInt(b, p, 10)
		case uint64:
			b = strconv.AppendUint(b, p, 10)
		case error:
			b = append(b, p.Error()...)
			e.errs = append(e.errs, p)
		default:
			b = append(b, "?"...)
		}
	}
	e.msg = string(b)
	return e
}

// quote returns s as a Go string literal, for messages.
func quote[T string | []byte](s T) string { return strconv.Quote(string(s)) }
