package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// DefaultAdminUser is the user name of generated credentials.
const DefaultAdminUser = "admin"

// passwordBytes is the entropy of a generated password.
const passwordBytes = 32

var keyCredentials = []byte("credentials")

// Credentials are the gateway's admin user and password. They live in the
// database file (mode 0600) inside the data directory (0700).
type Credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// String redacts the password so that printing Credentials never leaks it.
func (c Credentials) String() string { return c.User + ":<redacted>" }

// LogValue redacts the password in structured logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.User), slog.String("password", "<redacted>"))
}

// Credentials returns the stored credentials and whether there are any.
func (s *Store) Credentials() (Credentials, bool, error) {
	var c Credentials
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		c, found, err = loadCredentials(tx)
		return err
	})
	if err != nil {
		return Credentials{}, false, fmt.Errorf("store: credentials: %w", err)
	}
	return c, found, nil
}

// SetCredentials replaces the stored credentials. User and password must not
// be empty (ErrBadKey).
func (s *Store) SetCredentials(c Credentials) error {
	if c.User == "" || c.Password == "" {
		return fmt.Errorf("store: set credentials: %w: empty user or password", ErrBadKey)
	}
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: set credentials: %w", err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyCredentials, v)
	})
	if err != nil {
		return fmt.Errorf("store: set credentials: %w", err)
	}
	return nil
}

// EnsureCredentials returns the stored credentials, or generates, stores and
// returns new ones (user DefaultAdminUser, a base64url password of 32 bytes
// from crypto/rand) with generated true. Load and generation happen in one
// transaction, so concurrent calls agree on a single set.
func (s *Store) EnsureCredentials() (c Credentials, generated bool, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		var found bool
		var err error
		if c, found, err = loadCredentials(tx); err != nil || found {
			return err
		}
		c, err = generateCredentials()
		if err != nil {
			return err
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		generated = true
		return tx.Bucket(bucketMeta).Put(keyCredentials, v)
	})
	if err != nil {
		return Credentials{}, false, fmt.Errorf("store: ensure credentials: %w", err)
	}
	return c, generated, nil
}

func loadCredentials(tx *bolt.Tx) (Credentials, bool, error) {
	v := tx.Bucket(bucketMeta).Get(keyCredentials)
	if v == nil {
		return Credentials{}, false, nil
	}
	var c Credentials
	if err := json.Unmarshal(v, &c); err != nil {
		return Credentials{}, false, fmt.Errorf("decode stored credentials: %w", err)
	}
	return c, true, nil
}

func generateCredentials() (Credentials, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, fmt.Errorf("generate password: %w", err)
	}
	return Credentials{User: DefaultAdminUser, Password: base64.RawURLEncoding.EncodeToString(b)}, nil
}
