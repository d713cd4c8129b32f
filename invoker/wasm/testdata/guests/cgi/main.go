// Command cgi is a test guest of the cgi ABI: PATH_INFO selects the
// behaviour; by default it prints its environment and its stdin.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"time"
	"unsafe"
)

var sink [][]byte

func main() {
	switch os.Getenv("PATH_INFO") {
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
		fmt.Printf("Content-Type: text/plain\n\n%v", err)
		return
	case "/status":
		fmt.Print("Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-Custom: yes\r\n\r\nnot here")
		return
	case "/plain":
		fmt.Print("just text, no headers")
		return
	case "/hello":
		fmt.Print("Content-Type: text/plain\r\n\r\nhello")
		return
	}
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read stdin:", err)
		os.Exit(4)
	}
	env := os.Environ()
	sort.Strings(env)
	fmt.Print("Content-Type: text/plain\r\n\r\n")
	for _, kv := range env {
		fmt.Println(kv)
	}
	fmt.Printf("ARGS=%v\n--\n%s", os.Args, body)
}
