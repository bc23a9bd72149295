package shuffle

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// benchKV makes about size bytes of key<TAB>value lines with random
// lower-case keys, like scripts/gen -kind kv.
func benchKV(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, size+128)
	for len(b) < size {
		for n := 4 + r.IntN(20); n > 0; n-- {
			b = append(b, byte('a'+r.IntN(26)))
		}
		b = append(b, '\t')
		for n := 10 + r.IntN(60); n > 0; n-- {
			b = append(b, byte('A'+r.IntN(26)))
		}
		b = append(b, '\n')
	}
	return b
}

// benchWords makes about size bytes of word<TAB>1 lines over a Zipf
// vocabulary, like scripts/gen -kind words.
func benchWords(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	z := rand.NewZipf(r, 1.1, 2, 199_999)
	b := make([]byte, 0, size+64)
	for len(b) < size {
		b = fmt.Appendf(b, "w%x\t1\n", z.Uint64()*2654435761%1000003)
	}
	return b
}

func benchPartition(b *testing.B, compress string) {
	data := benchKV(64 << 20)
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, err := Create(context.Background(), dir, Options{Partitions: 8, Compress: compress})
		if err != nil {
			b.Fatal(err)
		}
		for d := data; len(d) > 0; {
			n := min(1<<20, len(d))
			if _, err := w.Write(d[:n]); err != nil {
				b.Fatal(err)
			}
			d = d[n:]
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPartition is mrpart -R 8 (no sort) on key/value lines.
func BenchmarkPartition(b *testing.B)     { benchPartition(b, CompressS2) }
func BenchmarkPartitionNone(b *testing.B) { benchPartition(b, CompressNone) }

// BenchmarkMerge is mrmerge -p 0 over 4 sorted map outputs of word-count
// lines.
func BenchmarkMerge(b *testing.B) {
	base := b.TempDir()
	var parts []*Part
	var total int64
	for m := 0; m < 4; m++ {
		dir := filepath.Join(base, fmt.Sprint(m))
		w, err := Create(context.Background(), dir, Options{Partitions: 8, Sort: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(benchWords(32<<20, uint64(m))); err != nil {
			b.Fatal(err)
		}
		man, err := w.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += man.Partitions[0].Bytes
		pt, err := FindPart(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		parts = append(parts, pt)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Merge(context.Background(), parts, io.Discard, MergeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
