package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the lumos command line in-process and returns its output.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	srv := startTestServer(t, dir)
	g := []string{"--gateway", srv.url, "--data-dir", dir} // password read from the data dir
	wasm := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(wasm, bundled(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		args    []string
		stdin   string
		want    string
		wantErr bool
	}{
		{args: []string{"deploy", "e1", "--wasm", wasm, "--abi", "cgi", "--runtime", "wasm-interp", "--env", "A=1", "--min", "1", "--timeout", "5s"}, want: "deployed e1"},
		{args: []string{"deploy", "e1", "--wasm", wasm, "--abi", "loop"}, want: "deployed e1"}, // an update
		{args: []string{"invoke", "e1", "--data", "hi there"}, want: "hi there"},
		{args: []string{"invoke", "e1", "--data-file", "-"}, stdin: "from stdin", want: "from stdin"},
		{args: []string{"invoke", "fib", "--query", "n=12"}, want: `"result":144`},
		{args: []string{"list"}, want: "e1"},
		{args: []string{"describe", "e1"}, want: `"lumos.abi": "loop"`},
		{args: []string{"scale", "e1", "--replicas", "2"}, want: "scaled e1 to 2"},
		{args: []string{"rm", "e1"}, want: "removed e1"},
		{args: []string{"invoke", "e1"}, want: "not_found", wantErr: true},
		{args: []string{"describe", "e1"}, want: "404", wantErr: true},
		{args: []string{"deploy", "e2"}, want: "exactly one of --wasm, --build and --image", wantErr: true},
		{args: []string{"deploy", "e2", "--wasm", wasm, "--env", "novalue"}, want: "KEY=VALUE", wantErr: true},
	}
	for _, s := range steps {
		args := append(append([]string{}, s.args...), g...)
		out, err := runCLI(t, s.stdin, args...)
		got := out
		if err != nil {
			got += err.Error()
		}
		if (err != nil) != s.wantErr || !strings.Contains(got, s.want) {
			t.Fatalf("lumos %s: err=%v output %q, want %q (error: %v)", strings.Join(s.args, " "), err, got, s.want, s.wantErr)
		}
	}

	for _, sub := range []string{"serve", "deploy", "invoke", "list", "describe", "scale", "rm"} {
		out, err := runCLI(t, "", sub, "--help")
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Fatalf("lumos %s --help: %v %q", sub, err, out)
		}
	}
}

// TestAdminUser: a configured admin user name applies to the generated password too.
func TestAdminUser(t *testing.T) {
	o := testOptions(t.TempDir())
	o.adminUser, o.adminPassword = "ops", ""
	srv, err := startServer(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	pass, err := os.ReadFile(filepath.Join(o.dataDir, passwordFile))
	if err != nil {
		t.Fatal(err)
	}
	c := &client{base: srv.url, user: "ops", pass: strings.TrimSpace(string(pass)), http: http.DefaultClient}
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/info", nil, nil); err != nil {
		t.Fatalf("ops with the generated password: %v", err)
	}
	c.user = "admin"
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/info", nil, nil); err == nil {
		t.Fatal("the default user still works after another was configured")
	}
}
