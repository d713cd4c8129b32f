package store

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkArtifact measures a verified read (read the file + SHA-256).
func BenchmarkArtifact(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, err := Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			d, err := s.PutArtifact(bytes.Repeat([]byte{7}, size))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Artifact(d); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPutArtifactNew measures a durable put of new content (temp file,
// fsync, rename, directory fsync).
func BenchmarkPutArtifactNew(b *testing.B) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte{1}, 64<<10)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
		if _, err := s.PutArtifact(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutFunction measures one durable record write (a bbolt commit).
func BenchmarkPutFunction(b *testing.B) {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rec := bytes.Repeat([]byte("x"), 512)
	for b.Loop() {
		if err := s.PutFunction("f", rec); err != nil {
			b.Fatal(err)
		}
	}
}
