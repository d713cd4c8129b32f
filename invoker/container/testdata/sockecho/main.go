// Command sockecho serves HTTP on the unix socket named by its first
// argument, echoing each request's body (a benchmark function: the socket
// alternative to the loop ABI's stdio frames).
package main

import (
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("unix", os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = w.Write(body)
	}))
	os.Stderr.WriteString(err.Error() + "\n")
	os.Exit(1)
}
