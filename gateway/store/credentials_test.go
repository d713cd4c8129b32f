package store

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestCredentialsGeneratedOnceAndStable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, found, err := s.Credentials(); err != nil || found || c != (Credentials{}) {
		t.Fatalf("Credentials on a new store = %v, %v, %v", c, found, err)
	}
	c, gen, err := s.EnsureCredentials()
	if err != nil || !gen {
		t.Fatalf("first EnsureCredentials: generated=%v, %v", gen, err)
	}
	if c.User != DefaultAdminUser {
		t.Errorf("user %q, want %q", c.User, DefaultAdminUser)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Password)
	if err != nil || len(raw) != passwordBytes {
		t.Errorf("password %q decodes to %d bytes (%v), want %d base64url bytes", c.Password, len(raw), err, passwordBytes)
	}
	c2, gen, err := s.EnsureCredentials()
	if err != nil || gen || c2 != c {
		t.Errorf("second EnsureCredentials = %v, generated=%v, %v", c2, gen, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	if got, found, err := s.Credentials(); err != nil || !found || got != c {
		t.Errorf("Credentials after reopen = %v, %v, %v", got, found, err)
	}
	if got, gen, err := s.EnsureCredentials(); err != nil || gen || got != c {
		t.Errorf("EnsureCredentials after reopen = %v, generated=%v, %v", got, gen, err)
	}
}

func TestGeneratedPasswordsDiffer(t *testing.T) {
	a, _, err := openT(t, t.TempDir()).EnsureCredentials()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := openT(t, t.TempDir()).EnsureCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if a.Password == b.Password {
		t.Error("two stores generated the same password")
	}
}

func TestSetCredentials(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, tc := range []struct {
		c       Credentials
		wantErr error
	}{
		{Credentials{User: "root", Password: "s3cret"}, nil},
		{Credentials{User: "", Password: "x"}, ErrBadKey},
		{Credentials{User: "x", Password: ""}, ErrBadKey},
	} {
		err := s.SetCredentials(tc.c)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("SetCredentials(%v): %v, want %v", tc.c, err, tc.wantErr)
		}
	}
	got, found, err := s.Credentials()
	if err != nil || !found || got != (Credentials{User: "root", Password: "s3cret"}) {
		t.Errorf("Credentials = %v, %v, %v", got, found, err)
	}
	if _, gen, err := s.EnsureCredentials(); err != nil || gen {
		t.Errorf("EnsureCredentials replaced set credentials: generated=%v, %v", gen, err)
	}
}

func TestEnsureCredentialsConcurrentAgree(t *testing.T) {
	s := openT(t, t.TempDir())
	const n = 16
	got := make([]Credentials, n)
	gens := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, gen, err := s.EnsureCredentials()
			if err != nil {
				t.Error(err)
			}
			got[i], gens[i] = c, gen
		})
	}
	wg.Wait()
	generated := 0
	for i := range n {
		if gens[i] {
			generated++
		}
		if got[i] != got[0] {
			t.Errorf("caller %d got %v, caller 0 got %v", i, got[i], got[0])
		}
	}
	if generated != 1 {
		t.Errorf("%d callers generated credentials, want exactly 1", generated)
	}
}

func TestCredentialsNeverPrintPassword(t *testing.T) {
	c := Credentials{User: "admin", Password: "do-not-print-me"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("creds", "c", c)
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", c),
		"%+v":  fmt.Sprintf("%+v", c),
		"%s":   fmt.Sprintf("%s", c),
		"slog": logged.String(),
	} {
		if strings.Contains(out, c.Password) || !strings.Contains(out, "admin") {
			t.Errorf("%s: %q", name, out)
		}
	}
}
