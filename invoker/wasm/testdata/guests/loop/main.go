// Command loop is a test guest of the loop ABI: it serves request frames
// from stdin until stdin ends. The request path selects the behaviour.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/invoker/frame"
)

var sink [][]byte

func main() {
	in := bufio.NewReader(os.Stdin)
	for {
		req, err := frame.ReadRequest(in, frame.DefaultLimits())
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "read request:", err)
			os.Exit(4)
		}
		resp := &invoker.Response{Status: 200}
		switch req.Path {
		case "/hello":
			resp.Body = []byte("hello")
		case "/env":
			resp.Body = []byte(strings.Join(os.Environ(), "\n") + "\nARGS=" + strings.Join(os.Args, " "))
		case "/spin":
			n := 0
			for {
				n++
			}
		case "/sleep":
			time.Sleep(time.Hour)
		case "/trap":
			p := (*int64)(unsafe.Pointer(uintptr(0xfffffff0)))
			*p = 1
		case "/exit":
			fmt.Fprintln(os.Stderr, "exiting with code 3 as asked")
			os.Exit(3)
		case "/hog":
			for {
				b := make([]byte, 1<<20)
				b[0] = 1
				sink = append(sink, b)
			}
		case "/fs":
			_, err := os.Open("/")
			resp.Body = []byte(fmt.Sprint(err))
		case "/junk":
			os.Stdout.Write([]byte("this is not a frame\n"))
			continue
		default:
			resp.Header = []invoker.Header{{Name: "X-Method", Value: req.Method}, {Name: "X-Path", Value: req.Path}, {Name: "X-Query", Value: req.Query}}
			resp.Body = req.Body
		}
		if err := frame.WriteResponse(os.Stdout, resp); err != nil {
			fmt.Fprintln(os.Stderr, "write response:", err)
			os.Exit(5)
		}
		switch req.Path {
		case "/flood-after": // answer, then write to stdout while idle, forever
			chunk := make([]byte, 1<<20)
			for {
				os.Stdout.Write(chunk)
			}
		case "/spin-after": // answer, then compute while idle, forever
			n := 0
			for {
				n++
			}
		}
	}
}
