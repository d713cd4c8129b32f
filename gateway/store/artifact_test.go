package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func artifactPath(s *Store, digest string) string {
	return filepath.Join(s.blobDir, strings.TrimPrefix(digest, "sha256:"))
}

func TestArtifactRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"small", []byte("\x00asm\x01\x00\x00\x00")},
		{"one MiB", bytes.Repeat([]byte{0xA5, 0x5A, 0x00}, 1<<20/3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.PutArtifact(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if d != digestOf(tc.data) {
				t.Fatalf("digest %s, want %s", d, digestOf(tc.data))
			}
			if !s.HasArtifact(d) {
				t.Error("HasArtifact = false after put")
			}
			got, err := s.Artifact(d)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("Artifact = %d bytes, %v; want %d bytes", len(got), err, len(tc.data))
			}
			d2, n, err := s.PutArtifactFrom(iotest.OneByteReader(bytes.NewReader(tc.data)), int64(len(tc.data)))
			if err != nil || d2 != d || n != int64(len(tc.data)) {
				t.Fatalf("PutArtifactFrom = %s, %d, %v; want %s, %d", d2, n, err, d, len(tc.data))
			}
		})
	}
}

func TestPutArtifactIdempotentKeepsCreated(t *testing.T) {
	s := openT(t, t.TempDir())
	data := []byte("same bytes")
	d1, err := s.PutArtifact(data)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Artifacts()
	if err != nil {
		t.Fatal(err)
	}
	fi1, err := os.Stat(artifactPath(s, d1))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.PutArtifact(data)
	if err != nil || d2 != d1 {
		t.Fatalf("second put = %s, %v; want %s", d2, err, d1)
	}
	fi2, err := os.Stat(artifactPath(s, d1))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fi1, fi2) {
		t.Error("second put of identical bytes replaced the file")
	}
	after, err := s.Artifacts()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || len(after) != 1 || after[0] != before[0] {
		t.Errorf("Artifacts before %+v, after %+v; want one unchanged entry", before, after)
	}
	if after[0].Size != int64(len(data)) || after[0].Created.IsZero() {
		t.Errorf("ArtifactInfo = %+v", after[0])
	}
	if left := tempFiles(t, s.dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestArtifactCorruptOnDisk(t *testing.T) {
	data := []byte("a perfectly good wasm module")
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"bit flip", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[3] ^= 0x01
			return os.WriteFile(p, b, 0o600)
		}},
		{"truncated", func(p string) error { return os.Truncate(p, int64(len(data)/2)) }},
		{"emptied", func(p string) error { return os.Truncate(p, 0) }},
		{"appended", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteString("trailing garbage")
			return errors.Join(err, f.Close())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, t.TempDir())
			d, err := s.PutArtifact(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.corrupt(artifactPath(s, d)); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Artifact(d); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Artifact of corrupt file = %q, %v; want ErrCorrupt", got, err)
			}
			// Quarantined: no longer served, kept aside for inspection.
			if s.HasArtifact(d) {
				t.Error("corrupt artifact still present")
			}
			if _, err := s.Artifact(d); !errors.Is(err, ErrNotFound) {
				t.Errorf("second read: %v, want ErrNotFound", err)
			}
			q, err := os.ReadDir(s.quarantine)
			if err != nil || len(q) != 1 {
				t.Errorf("quarantine holds %v (%v), want one file", q, err)
			}
			// Putting it again repairs the store.
			if _, err := s.PutArtifact(data); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Artifact(d); err != nil || !bytes.Equal(got, data) {
				t.Errorf("after re-put: %q, %v", got, err)
			}
		})
	}
}

func TestPutArtifactReplacesCorruptCopy(t *testing.T) {
	s := openT(t, t.TempDir())
	data := []byte("module v1")
	d, err := s.PutArtifact(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(artifactPath(s, d), []byte("module v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutArtifact(data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Artifact(d); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Artifact = %q, %v; want the re-put bytes", got, err)
	}
}

func TestBadDigests(t *testing.T) {
	s := openT(t, t.TempDir())
	// A real file outside the artifact dir that traversal would reach.
	if err := os.WriteFile(filepath.Join(s.dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	hex64 := strings.Repeat("ab", 32)
	for _, d := range []string{
		"",
		"sha256:",
		"sha256:../../etc",
		"sha256:../../etc/passwd",
		"sha256:../../../secret",
		"sha256:" + "../../" + hex64[6:],
		"sha256:" + strings.Repeat(".", 64),
		"sha256:" + hex64[:62] + "/x",
		"sha256:" + strings.ToUpper(hex64),
		"sha256:" + hex64[:63],
		"sha256:" + hex64 + "0",
		"sha256:" + hex64 + "\n",
		"sha256:" + hex64[:63] + "\x00",
		"sha256:" + hex64[:63] + "g",
		"SHA256:" + hex64,
		"sha512:" + hex64,
		"sha256 " + hex64,
		hex64,
		"/" + hex64,
	} {
		t.Run(fmt.Sprintf("%.30q", d), func(t *testing.T) {
			if h, err := ParseDigest(d); !errors.Is(err, ErrBadDigest) {
				t.Errorf("ParseDigest = %q, %v; want ErrBadDigest", h, err)
			}
			if _, err := s.Artifact(d); !errors.Is(err, ErrBadDigest) {
				t.Errorf("Artifact: %v, want ErrBadDigest", err)
			}
			if err := s.DeleteArtifact(d); !errors.Is(err, ErrBadDigest) {
				t.Errorf("DeleteArtifact: %v, want ErrBadDigest", err)
			}
			if s.HasArtifact(d) {
				t.Error("HasArtifact = true")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(s.dir, "secret")); err != nil {
		t.Errorf("file outside the artifact dir touched: %v", err)
	}
}

func TestArtifactNotFound(t *testing.T) {
	s := openT(t, t.TempDir())
	d := digestOf([]byte("never stored"))
	if _, err := s.Artifact(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("Artifact: %v, want ErrNotFound", err)
	}
	if err := s.DeleteArtifact(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteArtifact: %v, want ErrNotFound", err)
	}
	if s.HasArtifact(d) {
		t.Error("HasArtifact = true")
	}
}

func TestDeleteArtifact(t *testing.T) {
	s := openT(t, t.TempDir())
	keep, err := s.PutArtifact([]byte("keep"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.PutArtifact([]byte("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArtifact(gone); err != nil {
		t.Fatal(err)
	}
	if s.HasArtifact(gone) || !s.HasArtifact(keep) {
		t.Errorf("after delete: has(gone)=%v has(keep)=%v", s.HasArtifact(gone), s.HasArtifact(keep))
	}
	list, err := s.Artifacts()
	if err != nil || len(list) != 1 || list[0].Digest != keep {
		t.Errorf("Artifacts = %+v, %v", list, err)
	}
}

func TestPutArtifactFromLimitsAndFailuresLeaveNothing(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 10_000) // 100,000 bytes
	for _, tc := range []struct {
		name    string
		r       io.Reader
		max     int64
		wantErr error // nil: success
		wantN   int64
	}{
		{"exactly the limit", bytes.NewReader(payload), int64(len(payload)), nil, int64(len(payload))},
		{"no limit", bytes.NewReader(payload), -1, nil, int64(len(payload))},
		{"empty with zero limit", bytes.NewReader(nil), 0, nil, 0},
		{"one byte over", bytes.NewReader(payload), int64(len(payload)) - 1, ErrTooLarge, 0},
		{"zero limit", bytes.NewReader(payload), 0, ErrTooLarge, 0},
		{"far over, slow reader", iotest.HalfReader(bytes.NewReader(payload)), 4096, ErrTooLarge, 0},
		{"reader fails midway", io.MultiReader(bytes.NewReader(payload[:5000]), iotest.ErrReader(io.ErrUnexpectedEOF)), -1, io.ErrUnexpectedEOF, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, t.TempDir())
			d, n, err := s.PutArtifactFrom(tc.r, tc.max)
			list, lerr := s.Artifacts()
			if lerr != nil {
				t.Fatal(lerr)
			}
			if left := tempFiles(t, s.dir); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
			if tc.wantErr == nil {
				if err != nil || n != int64(len(list)*0)+n || len(list) != 1 || list[0].Digest != d || list[0].Size != n {
					t.Fatalf("PutArtifactFrom = %s, %d, %v; Artifacts = %+v", d, n, err, list)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("PutArtifactFrom: %v, want %v", err, tc.wantErr)
			}
			if d != "" || n != 0 {
				t.Errorf("failed put returned digest %q size %d", d, n)
			}
			if len(list) != 0 {
				t.Errorf("failed put left artifacts: %+v", list)
			}
		})
	}
}

// TestArtifactHammer pounds one store from many goroutines: the same
// artifact, distinct ones, reads, lists and deletes, under -race.
func TestArtifactHammer(t *testing.T) {
	s := openT(t, t.TempDir())
	const workers, rounds = 16, 20
	shared := bytes.Repeat([]byte("shared module "), 4096)
	sharedDigest := digestOf(shared)
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				d, err := s.PutArtifact(shared)
				if err != nil || d != sharedDigest {
					errs <- fmt.Errorf("shared put: %s, %w", d, err)
					return
				}
				if got, err := s.Artifact(sharedDigest); err != nil || !bytes.Equal(got, shared) {
					errs <- fmt.Errorf("shared read: %d bytes, %w", len(got), err)
					return
				}
				own := fmt.Appendf(nil, "worker %d round %d", w, i)
				d, err = s.PutArtifact(own)
				if err != nil {
					errs <- fmt.Errorf("own put: %w", err)
					return
				}
				if got, err := s.Artifact(d); err != nil || !bytes.Equal(got, own) {
					errs <- fmt.Errorf("own read: %q, %w", got, err)
					return
				}
				if _, err := s.Artifacts(); err != nil {
					errs <- fmt.Errorf("list: %w", err)
					return
				}
				if i%2 == 1 { // delete odd rounds, keep even ones
					if err := s.DeleteArtifact(d); err != nil {
						errs <- fmt.Errorf("delete: %w", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.Artifacts()
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers*rounds/2; len(list) != want {
		t.Errorf("%d artifacts, want %d", len(list), want)
	}
	for _, a := range list {
		if _, err := s.Artifact(a.Digest); err != nil {
			t.Errorf("%s: %v", a.Digest, err)
		}
	}
	if left := tempFiles(t, s.dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}
