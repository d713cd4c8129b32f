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
	"strconv"
	"time"
)

// ArtifactInfo describes a stored artifact.
type ArtifactInfo struct {
	// Digest is "sha256:" + lowercase hex of the content.
	Digest string
	// Size is the content length in bytes.
	Size int64
	// Created is when the artifact was first stored (the file's mtime).
	Created time.Time
}

// PutArtifact stores data and returns its digest. Putting the same bytes
// again is a no-op that returns the same digest (a stored copy that no longer
// verifies is replaced).
func (s *Store) PutArtifact(data []byte) (string, error) {
	digest, _, err := s.PutArtifactFrom(bytes.NewReader(data), -1)
	return digest, err
}

// PutArtifactFrom streams an artifact from r into the store, hashing it on
// the way, and returns its digest and size. At most maxBytes are accepted
// (maxBytes < 0: no limit); a longer stream fails with ErrTooLarge and leaves
// nothing behind. A read error from r is returned wrapped, and nothing is
// stored either.
//
// The content is written to a temp file in the artifact directory, fsynced,
// renamed to its digest and the directory fsynced, so a crash at any point
// leaves either no artifact or the complete one.
func (s *Store) PutArtifactFrom(r io.Reader, maxBytes int64) (digest string, size int64, err error) {
	if s.closed.Load() {
		return "", 0, fmt.Errorf("store: put artifact: %w", ErrClosed)
	}
	tmp, err := os.CreateTemp(s.blobDir, tmpPrefix+"*")
	if err != nil {
		return "", 0, fmt.Errorf("store: put artifact: %w", err)
	}
	tmpName := tmp.Name()
	published := false
	defer func() {
		if !published {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()

	h := sha256.New()
	src := r
	if maxBytes >= 0 {
		src = io.LimitReader(r, maxBytes+1)
	}
	size, err = io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return "", 0, fmt.Errorf("store: put artifact: write %s: %w", tmpName, err)
	}
	if maxBytes >= 0 && size > maxBytes {
		return "", 0, fmt.Errorf("store: put artifact: more than %d bytes: %w", maxBytes, ErrTooLarge)
	}
	digest = formatDigest(h)
	hexName := digest[len(digestPrefix):]
	final := filepath.Join(s.blobDir, hexName)

	// Already stored and intact: keep the existing file (and its Created).
	// The directory is synced all the same: a concurrent put may have
	// renamed that file without having synced the directory yet, and our
	// caller may record the digest as soon as we return.
	if ok, _ := s.verifyFile(final, hexName); ok {
		if err := syncDir(s.blobDir); err != nil {
			return "", 0, fmt.Errorf("store: put artifact %s: %w", digest, err)
		}
		return digest, size, nil
	}

	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("store: put artifact %s: sync: %w", digest, err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("store: put artifact %s: close: %w", digest, err)
	}
	if s.beforeRename != nil {
		s.beforeRename()
	}
	s.renameMu.Lock()
	err = os.Rename(tmpName, final)
	s.renameMu.Unlock()
	if err != nil {
		return "", 0, fmt.Errorf("store: put artifact %s: %w", digest, err)
	}
	published = true
	if err := syncDir(s.blobDir); err != nil {
		return "", 0, fmt.Errorf("store: put artifact %s: %w", digest, err)
	}
	return digest, size, nil
}

// verifyFile reports whether the file at path exists and hashes to hexName.
func (s *Store) verifyFile(path, hexName string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == hexName, nil
}

// Artifact returns the content stored under digest after verifying its hash.
// It fails with ErrBadDigest for a malformed digest, ErrNotFound when absent,
// and ErrCorrupt when the content no longer matches (the file is then moved
// to the quarantine directory, so the artifact can be put again).
func (s *Store) Artifact(digest string) ([]byte, error) {
	hexName, err := ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("store: artifact %s: %w", digest, ErrClosed)
	}
	path := filepath.Join(s.blobDir, hexName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: artifact %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: artifact %s: %w", digest, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: artifact %s: %w", digest, err)
	}
	// Room for the whole file plus the read that sees EOF, so that a file of
	// the size Stat reported is read without growing the buffer.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("store: artifact %s: read: %w", digest, err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hexName {
		s.quarantineFile(path, fi, digest)
		return nil, fmt.Errorf("store: artifact %s: %w (%d bytes on disk)", digest, ErrCorrupt, len(data))
	}
	return data, nil
}

// quarantineFile moves a corrupt artifact out of the way, unless a
// concurrent put has already replaced it with a different (good) file.
func (s *Store) quarantineFile(path string, read os.FileInfo, digest string) {
	s.renameMu.Lock()
	defer s.renameMu.Unlock()
	cur, err := os.Stat(path)
	if err != nil || !os.SameFile(cur, read) {
		return // already moved or replaced
	}
	dst := filepath.Join(s.quarantine, filepath.Base(path)+"."+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.Rename(path, dst); err != nil {
		s.log.Error("store: cannot quarantine corrupt artifact; removing it", logKeyDigest, digest, logKeyErr, err)
		if err := os.Remove(path); err != nil {
			s.log.Error("store: cannot remove corrupt artifact", logKeyDigest, digest, logKeyErr, err)
		}
		return
	}
	s.log.Warn("store: artifact corrupt on disk; quarantined", logKeyDigest, digest, logKeyPath, dst)
}

// HasArtifact reports whether an artifact is stored under digest. It does
// not read the content: Artifact is what verifies it.
func (s *Store) HasArtifact(digest string) bool {
	hexName, err := ParseDigest(digest)
	if err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(s.blobDir, hexName))
	return err == nil && fi.Mode().IsRegular()
}

// Artifacts lists the stored artifacts, ordered by digest. Files in the
// artifact directory that are not named by a digest (temp files of uploads
// in progress) are skipped.
func (s *Store) Artifacts() ([]ArtifactInfo, error) {
	entries, err := os.ReadDir(s.blobDir)
	if err != nil {
		return nil, fmt.Errorf("store: list artifacts: %w", err)
	}
	out := make([]ArtifactInfo, 0, len(entries))
	for _, e := range entries {
		digest := digestPrefix + e.Name()
		if _, err := ParseDigest(digest); err != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("store: list artifacts: %w", err)
		}
		out = append(out, ArtifactInfo{Digest: digest, Size: fi.Size(), Created: fi.ModTime()})
	}
	return out, nil
}

// DeleteArtifact removes the artifact stored under digest; ErrNotFound when
// there is none. The store does not track which functions use an artifact:
// that is the caller's business.
func (s *Store) DeleteArtifact(digest string) error {
	hexName, err := ParseDigest(digest)
	if err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("store: delete artifact %s: %w", digest, ErrClosed)
	}
	s.renameMu.Lock()
	err = os.Remove(filepath.Join(s.blobDir, hexName))
	s.renameMu.Unlock()
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: delete artifact %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: delete artifact %s: %w", digest, err)
	}
	if err := syncDir(s.blobDir); err != nil {
		return fmt.Errorf("store: delete artifact %s: %w", digest, err)
	}
	return nil
}
