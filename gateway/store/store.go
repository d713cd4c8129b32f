// Package store keeps the gateway's persistent data: deployed function
// records, content-addressed artifacts (Wasm modules, later OCI tarballs) and
// the admin credentials.
//
// Layout under the data directory (created 0700):
//
//	lumos.db                      bbolt: functions, credentials, blobs (0600)
//	artifacts/sha256/<hex>        one file per artifact, named by its SHA-256 (0600)
//	artifacts/sha256/.tmp-*       uploads in progress; removed at Open
//	artifacts/quarantine/<hex>.*  files whose content no longer matched their name
//
// Everything survives a restart, including SIGKILL in the middle of a deploy or
// an upload: records are written in bbolt transactions, and an artifact becomes
// visible only by an atomic rename of a fully written, fsynced temp file, so a
// half-written artifact is never served. Reads verify the hash, so what a
// failing disk corrupts is detected, quarantined and reported as ErrCorrupt.
//
// A Store is safe for concurrent use. Only one process can open a data
// directory at a time: a second one fails after DefaultOpenTimeout with an
// error that wraps ErrLocked.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors returned by the Store. Callers test them with errors.Is; the store
// wraps them with the name or digest concerned.
var (
	// ErrNotFound: no artifact, function, blob or credentials under that name.
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt: an artifact's content does not match its digest. The file
	// has been moved to the quarantine directory; put the artifact again.
	ErrCorrupt = errors.New("store: artifact corrupt")
	// ErrBadDigest: a digest is not "sha256:" followed by 64 lowercase hex digits.
	ErrBadDigest = errors.New("store: bad digest")
	// ErrTooLarge: a streamed artifact exceeded its size limit.
	ErrTooLarge = errors.New("store: artifact too large")
	// ErrBadKey: an empty or oversized function name, blob bucket or key, or
	// invalid credentials.
	ErrBadKey = errors.New("store: bad key")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("store: data directory locked by another process")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("store: closed")
)

// DefaultOpenTimeout is how long Open waits for the database lock held by
// another process before it gives up with ErrLocked.
const DefaultOpenTimeout = time.Second

// File and directory names inside the data directory.
const (
	dbFile        = "lumos.db"
	artifactsDir  = "artifacts"
	sha256Dir     = "sha256"
	quarantineDir = "quarantine"
	tmpPrefix     = ".tmp-"
)

// Log keys.
const (
	logKeyDir    = "dir"
	logKeyPath   = "path"
	logKeyDigest = "digest"
	logKeyErr    = "err"
	logKeyCount  = "count"
)

// Store is the gateway's persistent data. Create it with Open.
type Store struct {
	dir        string
	blobDir    string // artifacts/sha256
	quarantine string // artifacts/quarantine
	db         *bolt.DB
	log        *slog.Logger
	closed     atomic.Bool

	// renameMu orders renames into blobDir (publishing an artifact) against
	// moving a corrupt file out of it, so that quarantining never removes a
	// good file that a concurrent put has just renamed into place.
	renameMu sync.Mutex

	// beforeRename, when set by a test in this package, runs after an
	// artifact's temp file is written and synced and before it is renamed.
	beforeRename func()
}

// Open opens (creating if needed) the data directory dir. logger may be nil.
//
// It takes bbolt's exclusive lock on dir/lumos.db, waiting at most
// DefaultOpenTimeout; then it removes temp files left by a crashed upload.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		return nil, fmt.Errorf("store: open: empty directory name")
	}
	s := &Store{
		dir:        dir,
		blobDir:    filepath.Join(dir, artifactsDir, sha256Dir),
		quarantine: filepath.Join(dir, artifactsDir, quarantineDir),
		log:        logger,
	}
	for _, d := range []string{dir, s.blobDir, s.quarantine} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", dir, err)
		}
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("store: data directory is accessible to other users; it holds the admin credentials",
			logKeyDir, dir, "mode", fi.Mode().Perm().String())
	}

	dbPath := filepath.Join(dir, dbFile)
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: DefaultOpenTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: %w (waited %v): %w", dbPath, ErrLocked, DefaultOpenTimeout, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", dbPath, err)
	}
	s.db = db
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFunctions, bucketMeta, bucketBlobs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dbPath, err)
	}
	// The lock is ours: no other process can be writing temp files now.
	if err := s.removeTemps(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return s, nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the database and its lock. Calls after the first return nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.dir, err)
	}
	return nil
}

// removeTemps deletes the temp files of uploads that never completed.
func (s *Store) removeTemps() error {
	entries, err := os.ReadDir(s.blobDir)
	if err != nil {
		return fmt.Errorf("clean temp files: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		p := filepath.Join(s.blobDir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clean temp file: %w", err)
		}
		n++
	}
	if n > 0 {
		s.log.Info("store: removed temp files of interrupted uploads", logKeyCount, n, logKeyDir, s.blobDir)
		if err := syncDir(s.blobDir); err != nil {
			return fmt.Errorf("clean temp files: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs a directory so that renames and removals in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
