package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// digestPrefix is the only algorithm the store accepts.
const digestPrefix = "sha256:"

// ParseDigest validates a digest of the form "sha256:" followed by exactly 64
// lowercase hex digits and returns the hex part. Anything else, including
// uppercase hex, other algorithms and path elements such as "sha256:../x",
// wraps ErrBadDigest. The hex it returns is safe to use as a file name.
func ParseDigest(s string) (string, error) {
	if len(s) != len(digestPrefix)+2*sha256.Size || s[:len(digestPrefix)] != digestPrefix {
		return "", fmt.Errorf("%w: %.80q", ErrBadDigest, s)
	}
	h := s[len(digestPrefix):]
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("%w: %.80q", ErrBadDigest, s)
		}
	}
	return h, nil
}

// formatDigest turns a finished SHA-256 hash into a digest string.
func formatDigest(h hash.Hash) string {
	return digestPrefix + hex.EncodeToString(h.Sum(nil))
}
