package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// TestTrapIsFatalNatively runs the handler in a child process: natively the
// out-of-bounds store is a fault no recover can catch (the Wasm trap is
// tested in package functions).
func TestTrapIsFatalNatively(t *testing.T) {
	if os.Getenv("LUMOS_TRAP_CHILD") == "1" {
		sdk.Run(handle, strings.NewReader(""), os.Stdout, os.Stderr, []string{"LUMOS_ABI=cgi"})
		t.Fatal("the handler returned")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrapIsFatalNatively$")
	cmd.Env = append(os.Environ(), "LUMOS_TRAP_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "unexpected fault address 0xffffff00") {
		t.Fatalf("err %v, output:\n%.600s", err, out)
	}
	if strings.Contains(string(out), "Status: ") {
		t.Fatal("the SDK answered: the fault was recovered")
	}
}
