package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Top-level bbolt buckets.
var (
	bucketFunctions = []byte("functions")
	bucketMeta      = []byte("meta")
	bucketBlobs     = []byte("blobs")
)

// checkKey rejects keys bbolt cannot store.
func checkKey(what, k string) error {
	if k == "" || len(k) > bolt.MaxKeySize {
		return fmt.Errorf("%w: %s of %d bytes", ErrBadKey, what, len(k))
	}
	return nil
}

// PutFunction stores (or replaces) the record of the function called name.
// The record is opaque to the store; the gateway owns its schema. The write
// is durable when PutFunction returns.
func (s *Store) PutFunction(name string, record []byte) error {
	if err := checkKey("function name", name); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFunctions).Put([]byte(name), record)
	})
	if err != nil {
		return fmt.Errorf("store: put function %q: %w", name, err)
	}
	return nil
}

// Function returns the record of the function called name, or ErrNotFound.
func (s *Store) Function(name string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFunctions).Get([]byte(name))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: function %q: %w", name, err)
	}
	return out, nil
}

// DeleteFunction removes the record of the function called name, or returns
// ErrNotFound.
func (s *Store) DeleteFunction(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFunctions)
		if name == "" || b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("store: delete function %q: %w", name, err)
	}
	return nil
}

// Functions returns every function record by name (for restoring the
// gateway's state at start). The map and its values belong to the caller.
func (s *Store) Functions() (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFunctions).ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list functions: %w", err)
	}
	return out, nil
}

// PutBlob stores value under key in a named bucket of the small key/value
// area that other components (such as the profiler's learned model) use to
// persist with the gateway's data. Buckets are created on first use.
func (s *Store) PutBlob(bucket, key string, value []byte) error {
	if err := checkKey("blob bucket", bucket); err != nil {
		return err
	}
	if err := checkKey("blob key", key); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketBlobs).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("store: put blob %q/%q: %w", bucket, key, err)
	}
	return nil
}

// Blob returns the value stored under key in bucket, or ErrNotFound.
func (s *Store) Blob(bucket, key string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketBlobs).Bucket([]byte(bucket)); b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: blob %q/%q: %w", bucket, key, err)
	}
	return out, nil
}

// view runs fn in a read transaction; ErrClosed after Close.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.View(fn)
}

// update runs fn in a write transaction, durable on return; ErrClosed after Close.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.db.Update(fn)
}
