// Command probe reports what a function can do from inside its sandbox (a
// test function): ?op=dial tries a TCP connection to the address in the
// body, ?op=write tries to create a file at the path in the body, ?op=id
// prints its user and group IDs, ?op=ifaces its network interfaces,
// ?op=status its capabilities, no_new_privs and seccomp mode, ?op=read the
// file at the path in the body, ?op=alloc allocates and touches the number
// of MiB in the body (past the memory limit, the OOM killer stops it).
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// hoard keeps what op=alloc allocated alive.
var hoard [][]byte

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	switch r.Query {
	case "op=dial":
		c, err := net.DialTimeout("tcp", string(r.Body), 2*time.Second)
		if err != nil {
			return sdk.Text(200, "error: "+err.Error()), nil
		}
		c.Close()
		return sdk.Text(200, "ok"), nil
	case "op=write":
		if err := os.WriteFile(string(r.Body), []byte("x"), 0o644); err != nil {
			return sdk.Text(200, "error: "+err.Error()), nil
		}
		return sdk.Text(200, "ok"), nil
	case "op=ifaces":
		ifs, err := net.Interfaces()
		if err != nil {
			return sdk.Text(200, "error: "+err.Error()), nil
		}
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return sdk.Text(200, strings.Join(names, ",")), nil
	case "op=status":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return sdk.Text(200, "error: "+err.Error()), nil
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			for _, k := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"} {
				if strings.HasPrefix(l, k) {
					keep = append(keep, strings.Join(strings.Fields(l), " "))
				}
			}
		}
		return sdk.Text(200, strings.Join(keep, "\n")), nil
	case "op=read":
		b, err := os.ReadFile(string(r.Body))
		if err != nil {
			return sdk.Text(200, "error: "+err.Error()), nil
		}
		return sdk.Text(200, strings.TrimSpace(string(b))), nil
	case "op=alloc":
		n, err := strconv.Atoi(string(r.Body))
		if err != nil {
			return sdk.Text(400, "error: "+err.Error()), nil
		}
		for range n {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
		return sdk.Text(200, fmt.Sprintf("allocated %d MiB", len(hoard))), nil
	case "op=id":
		return sdk.Text(200, fmt.Sprintf("uid=%d gid=%d", os.Getuid(), os.Getgid())), nil
	}
	return sdk.Text(400, "unknown op"), nil
}
