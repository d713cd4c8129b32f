package sdk_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/lumos-edge/lumos/functions/sdk"
)

func greet(r *sdk.Request) (*sdk.Response, error) {
	if r.Method != "GET" {
		return nil, sdk.Errorf(405, "only GET, not %s", r.Method)
	}
	return sdk.Text(200, "hello from "+r.Path+"\n"), nil
}

// A function's main is sdk.Serve(handler). Run is Serve on explicit
// streams and environment: here, one CGI request as a WAGI host sends it.
func Example() {
	var out strings.Builder
	env := []string{"LUMOS_ABI=cgi", "REQUEST_METHOD=GET", "PATH_INFO=/docs"}
	sdk.Run(greet, strings.NewReader(""), &out, os.Stderr, env)

	env = []string{"LUMOS_ABI=cgi", "REQUEST_METHOD=DELETE"}
	sdk.Run(greet, strings.NewReader(""), &out, os.Stderr, env)

	// CGI header lines end in CRLF; print them with LF for the example.
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// Status: 200 OK
	// Content-Type: text/plain; charset=utf-8
	//
	// hello from /docs
	// Status: 405 Method Not Allowed
	// Content-Type: text/plain; charset=utf-8
	//
	// only GET, not DELETE
}
