package functions_test

import (
	"fmt"

	"github.com/lumos-edge/lumos/functions"
)

// A fresh gateway deploys the bundled defaults from the binary itself.
func ExampleList() {
	for _, b := range functions.List() {
		mod, err := functions.Wasm(b.Name)
		if err != nil {
			panic(err)
		}
		fmt.Println(b.Name, b.ABI, string(mod[1:4]))
	}
	// Output:
	// hello loop asm
	// echo loop asm
	// fib loop asm
	// json loop asm
}
