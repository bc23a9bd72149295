package extsort

import (
	"context"
	"io"
	"os"
	"testing"
)

// BenchmarkSortFile sorts the file named by $MRPIPE_BENCH_FILE with a 256
// MiB budget, for profiling on real inputs:
//
//	go run ./scripts/gen -kind words -size 1G > /tmp/words
//	MRPIPE_BENCH_FILE=/tmp/words go test ./extsort -run X -bench SortFile -benchtime 1x -cpuprofile cpu.out
func BenchmarkSortFile(b *testing.B) {
	name := os.Getenv("MRPIPE_BENCH_FILE")
	if name == "" {
		b.Skip("MRPIPE_BENCH_FILE not set")
	}
	fi, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Memory: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for i := 0; i < b.N; i++ {
		if _, err := s.Sort(context.Background(), []Input{{Name: name}}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
