package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// TestCrashExits3 runs the handler in a child process, which must exit 3
// with "crash: boom" on stderr and write no response.
func TestCrashExits3(t *testing.T) {
	if os.Getenv("LUMOS_CRASH_CHILD") == "1" {
		sdk.Run(handle, strings.NewReader(""), os.Stdout, os.Stderr, []string{"LUMOS_ABI=cgi"})
		t.Fatal("the handler returned")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashExits3$")
	cmd.Env = append(os.Environ(), "LUMOS_CRASH_CHILD=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "crash: boom") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
	if strings.Contains(stdout.String(), "Status: ") {
		t.Fatalf("a response was written: %q", stdout.String())
	}
}
