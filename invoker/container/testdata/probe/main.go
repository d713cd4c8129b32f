// Command probe reports what a function can do from inside its sandbox (a
// test function): ?op=dial tries a TCP connection to the address in the
// body, ?op=write tries to create a file at the path in the body, ?op=id
// prints its user and group IDs.
package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/lumos-edge/lumos/functions/sdk"
)

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
	case "op=id":
		return sdk.Text(200, fmt.Sprintf("uid=%d gid=%d", os.Getuid(), os.Getgid())), nil
	}
	return sdk.Text(400, "unknown op"), nil
}
