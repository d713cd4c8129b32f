package store_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/lumos-edge/lumos/gateway/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "lumos-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	digest, err := s.PutArtifact([]byte("\x00asm\x01\x00\x00\x00"))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.PutFunction("hello", []byte(`{"artifact":"`+digest+`"}`)); err != nil {
		log.Fatal(err)
	}
	module, err := s.Artifact(digest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(digest, len(module))

	_, err = s.Artifact("sha256:../../etc/passwd")
	fmt.Println(errors.Is(err, store.ErrBadDigest))

	creds, generated, err := s.EnsureCredentials()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.User, generated, creds)
	// Output:
	// sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476 8
	// true
	// admin true admin:<redacted>
}
