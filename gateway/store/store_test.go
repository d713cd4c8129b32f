package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openT opens a store in dir and closes it when the test ends.
func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// tempFiles lists the upload temp files in a data directory.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, artifactsDir, sha256Dir, tmpPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenCreatesLayoutWithPrivateModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s := openT(t, dir)
	d, err := s.PutArtifact([]byte("module"))
	if err != nil {
		t.Fatal(err)
	}
	hexName, _ := ParseDigest(d)
	for _, tc := range []struct {
		path string
		dir  bool
		perm os.FileMode
	}{
		{dir, true, 0o700},
		{filepath.Join(dir, artifactsDir), true, 0o700},
		{filepath.Join(dir, artifactsDir, sha256Dir), true, 0o700},
		{filepath.Join(dir, artifactsDir, quarantineDir), true, 0o700},
		{filepath.Join(dir, dbFile), false, 0o600},
		{filepath.Join(dir, artifactsDir, sha256Dir, hexName), false, 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() != tc.dir || fi.Mode().Perm() != tc.perm {
			t.Errorf("%s: mode %v, want dir=%v perm %v", tc.path, fi.Mode(), tc.dir, tc.perm)
		}
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
}

func TestOpenSecondHolderFailsWithErrLocked(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir)
	// flock locks belong to the open file description, so a second Open in
	// the same process contends exactly like a second process would.
	s2, err := Open(dir, nil)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded while the first holds the lock")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := Open("", nil); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestOpenRemovesLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := s.PutArtifact([]byte("keep me"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	blobDir := filepath.Join(dir, artifactsDir, sha256Dir)
	for _, name := range []string{tmpPrefix + "1", tmpPrefix + "abc", tmpPrefix} {
		if err := os.WriteFile(filepath.Join(blobDir, name), []byte("half an upl"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign file is neither removed nor listed.
	foreign := filepath.Join(blobDir, "README")
	if err := os.WriteFile(foreign, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temp files left after Open: %v", left)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
	list, err := s.Artifacts()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Digest != good {
		t.Errorf("Artifacts() = %+v, want only %s", list, good)
	}
}

func TestReopenPersistsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.PutArtifact([]byte("wasm bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutFunction("hello", []byte(`{"artifact":"`+d+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob("profiler", "model", []byte("weights")); err != nil {
		t.Fatal(err)
	}
	creds, gen, err := s.EnsureCredentials()
	if err != nil || !gen {
		t.Fatalf("EnsureCredentials = %v, %v, %v", creds, gen, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	if got, err := s.Artifact(d); err != nil || string(got) != "wasm bytes" {
		t.Errorf("Artifact after reopen = %q, %v", got, err)
	}
	if got, err := s.Function("hello"); err != nil || !strings.Contains(string(got), d) {
		t.Errorf("Function after reopen = %q, %v", got, err)
	}
	if got, err := s.Blob("profiler", "model"); err != nil || string(got) != "weights" {
		t.Errorf("Blob after reopen = %q, %v", got, err)
	}
	again, gen, err := s.EnsureCredentials()
	if err != nil || gen || again != creds {
		t.Errorf("EnsureCredentials after reopen = %v, generated=%v, %v; want the stored ones", again, gen, err)
	}
}

func TestClosedStoreRefuses(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.PutArtifact([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"PutArtifact": func() error { _, err := s.PutArtifact([]byte("y")); return err }(),
		"Artifact":    func() error { _, err := s.Artifact(d); return err }(),
		"Delete":      s.DeleteArtifact(d),
		"PutFunction": s.PutFunction("f", nil),
		"Function":    func() error { _, err := s.Function("f"); return err }(),
		"Functions":   func() error { _, err := s.Functions(); return err }(),
		"PutBlob":     s.PutBlob("b", "k", nil),
		"Credentials": func() error { _, _, err := s.Credentials(); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
