package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestFunctionRecords(t *testing.T) {
	s := openT(t, t.TempDir())
	if fs, err := s.Functions(); err != nil || len(fs) != 0 {
		t.Fatalf("Functions on empty store = %v, %v", fs, err)
	}
	want := map[string][]byte{
		"hello":      []byte(`{"v":1}`),
		"fib":        []byte(`{"v":2}`),
		"empty-body": {},
		"ünïcode/ok": []byte(`{}`),
	}
	for name, rec := range want {
		if err := s.PutFunction(name, rec); err != nil {
			t.Fatalf("PutFunction(%q): %v", name, err)
		}
	}
	// Replace one.
	want["hello"] = []byte(`{"v":3}`)
	if err := s.PutFunction("hello", want["hello"]); err != nil {
		t.Fatal(err)
	}
	for name, rec := range want {
		got, err := s.Function(name)
		if err != nil || !bytes.Equal(got, rec) {
			t.Errorf("Function(%q) = %q, %v; want %q", name, got, err, rec)
		}
	}
	got, err := s.Functions()
	if err != nil || !maps.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("Functions = %q, %v; want %q", got, err, want)
	}
	// The caller owns what it got: changing it changes nothing stored.
	got["fib"][0] = 'X'
	if again, _ := s.Function("fib"); !bytes.Equal(again, want["fib"]) {
		t.Errorf("stored record changed through a returned slice: %q", again)
	}

	if err := s.DeleteFunction("fib"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fib", "never", ""} {
		if _, err := s.Function(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Function(%q) after delete: %v, want ErrNotFound", name, err)
		}
		if err := s.DeleteFunction(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteFunction(%q): %v, want ErrNotFound", name, err)
		}
	}
}

func TestBadKeys(t *testing.T) {
	s := openT(t, t.TempDir())
	long := strings.Repeat("k", bolt.MaxKeySize+1)
	for name, err := range map[string]error{
		"empty function":    s.PutFunction("", []byte("x")),
		"long function":     s.PutFunction(long, []byte("x")),
		"empty blob bucket": s.PutBlob("", "k", nil),
		"empty blob key":    s.PutBlob("b", "", nil),
		"long blob key":     s.PutBlob("b", long, nil),
	} {
		if !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", name, err)
		}
	}
}

func TestBlobs(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, tc := range []struct{ bucket, key, value string }{
		{"profiler", "model", "v1"},
		{"profiler", "model", "v2"}, // replaced
		{"profiler", "stats", "s"},
		{"other", "model", "separate namespace"},
	} {
		if err := s.PutBlob(tc.bucket, tc.key, []byte(tc.value)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ bucket, key, want string }{
		{"profiler", "model", "v2"},
		{"profiler", "stats", "s"},
		{"other", "model", "separate namespace"},
	} {
		if got, err := s.Blob(tc.bucket, tc.key); err != nil || string(got) != tc.want {
			t.Errorf("Blob(%q,%q) = %q, %v; want %q", tc.bucket, tc.key, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ bucket, key string }{
		{"profiler", "missing"}, {"missing", "model"}, {"", ""},
	} {
		if _, err := s.Blob(tc.bucket, tc.key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Blob(%q,%q): %v, want ErrNotFound", tc.bucket, tc.key, err)
		}
	}
}

func TestRecordsHammer(t *testing.T) {
	s := openT(t, t.TempDir())
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("fn-%d", w)
			for i := range rounds {
				rec := fmt.Appendf(nil, `{"round":%d}`, i)
				if err := s.PutFunction(name, rec); err != nil {
					errs <- err
					return
				}
				if got, err := s.Function(name); err != nil || !bytes.Equal(got, rec) {
					errs <- fmt.Errorf("Function(%s) = %q, %v", name, got, err)
					return
				}
				if _, err := s.Functions(); err != nil {
					errs <- err
					return
				}
				if err := s.PutBlob("shared", "k", rec); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fs, err := s.Functions()
	if err != nil || len(fs) != workers {
		t.Fatalf("Functions = %d records, %v; want %d", len(fs), err, workers)
	}
	want := fmt.Appendf(nil, `{"round":%d}`, rounds-1)
	for name, rec := range fs {
		if !bytes.Equal(rec, want) {
			t.Errorf("%s = %q, want %q", name, rec, want)
		}
	}
}
