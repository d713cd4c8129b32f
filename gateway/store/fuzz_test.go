package store

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseDigest checks that whatever ParseDigest accepts is a canonical
// digest whose hex part is a plain file name: nothing can escape the
// artifact directory.
func FuzzParseDigest(f *testing.F) {
	for _, seed := range []string{
		"sha256:" + strings.Repeat("0", 64),
		"sha256:" + strings.Repeat("f", 64),
		"sha256:" + strings.Repeat("F", 64),
		"sha256:../../etc",
		"sha256:" + strings.Repeat("a", 63) + "/",
		"sha512:" + strings.Repeat("a", 64),
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseDigest(s)
		if err != nil {
			if h != "" {
				t.Fatalf("error %v with non-empty result %q", err, h)
			}
			return
		}
		if "sha256:"+h != s {
			t.Fatalf("ParseDigest(%q) = %q: not the input's hex part", s, h)
		}
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Fatalf("ParseDigest(%q) = %q: not 64 lowercase hex digits", s, h)
		}
		base := "/data/artifacts/sha256"
		if p := filepath.Join(base, h); filepath.Dir(p) != base || filepath.Base(p) != h {
			t.Fatalf("ParseDigest(%q) = %q escapes the directory: %s", s, h, p)
		}
	})
}
