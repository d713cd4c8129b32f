package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	gateway  string
	user     string
	password string
	dataDir  string
}

// register adds the shared client flags to cmd. Defaults come from the
// environment: LUMOS_GATEWAY, LUMOS_USER, LUMOS_PASSWORD, LUMOS_DATA.
func (f *clientFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.gateway, "gateway", "g", envOr("LUMOS_GATEWAY", "http://127.0.0.1:8080"), "gateway URL (env LUMOS_GATEWAY)")
	fl.StringVar(&f.user, "user", envOr("LUMOS_USER", "admin"), "admin user (env LUMOS_USER)")
	fl.StringVar(&f.password, "password", os.Getenv("LUMOS_PASSWORD"), "admin password (env LUMOS_PASSWORD; default: read from the local data dir)")
	fl.StringVar(&f.dataDir, "data-dir", envOr("LUMOS_DATA", defaultDataDir()), "data dir of a local gateway, to read its admin password (env LUMOS_DATA)")
}

// client talks to a gateway's admin and function routes.
type client struct {
	base string
	user string
	pass string
	http *http.Client
}

func (f *clientFlags) client() (*client, error) {
	pass := f.password
	if pass == "" {
		b, err := os.ReadFile(filepath.Join(f.dataDir, passwordFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read admin password: %w", err)
		}
		pass = strings.TrimSpace(string(b))
	}
	return &client{
		base: strings.TrimRight(f.gateway, "/"),
		user: f.user,
		pass: pass,
		http: &http.Client{Timeout: 10 * time.Minute},
	}, nil
}

// apiError is the gateway's JSON error body.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("gateway answered %d", e.Status)
	}
	return fmt.Sprintf("gateway answered %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends a request with admin credentials and decodes a JSON answer into out
// (when out is non-nil). Non-2xx answers become *apiError.
func (c *client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, ae) != nil {
			ae.Message = strings.TrimSpace(string(data))
		}
		return ae
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

func (c *client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, body, "application/json", out)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// defaultDataDir is $XDG_DATA_HOME/lumos, else ~/.local/share/lumos, else ./.lumos-data.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "lumos")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "lumos")
	}
	return ".lumos-data"
}
