package streaming

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPreCombineSum folds mapper output like the top-URLs job's:
// about 60000 distinct keys, uniformly drawn, each with the value 1.
func BenchmarkPreCombineSum(b *testing.B) {
	var buf bytes.Buffer
	x := uint32(1)
	for buf.Len() < 16<<20 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		fmt.Fprintf(&buf, "/static/page/%d/index.html\t1\n", x%60000)
	}
	benchSum(b, buf.Bytes())
}

// BenchmarkPreCombineZipf folds output shaped like a web log's URLs: keys
// drawn from 100000 by a Zipf law (a few hot ones, a long tail), each with
// the value 1, as the top-URLs mapper writes them.
func BenchmarkPreCombineZipf(b *testing.B) {
	var buf bytes.Buffer
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 4, 100000-1)
	for buf.Len() < 16<<20 {
		fmt.Fprintf(&buf, "/static/%d.html\t1\n", z.Uint64())
	}
	benchSum(b, buf.Bytes())
}

// benchSum folds data with a sum pre-combiner per iteration, in chunks
// of whole records as a mapper's output arrives; the table is reused from
// one iteration to the next, as from one map task to the next.
func benchSum(b *testing.B, data []byte) {
	bi, err := NewBuiltin("sum", Protocol{}, BuiltinOptions{}, true)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := NewPreCombiner(bi, 0, func([]byte) error { return nil })
		for c := data; len(c) > 0; {
			n := min(len(c), ChunkSize)
			n = bytes.LastIndexByte(c[:n], '\n') + 1
			if err := p.Write(c[:n]); err != nil {
				b.Fatal(err)
			}
			c = c[n:]
		}
		if err := p.Flush(); err != nil {
			b.Fatal(err)
		}
		p.Release()
	}
}

// BenchmarkSumTableAppendAll writes out a table of 100000 keys (a map
// task's pre-combined output, in the order the keys came), as a flush
// does.
func BenchmarkSumTableAppendAll(b *testing.B) {
	keys := make([][]byte, 100000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "/static/%d/page-%d.html", r.IntN(1000), i)
	}
	t := newSumTable()
	out := make([]byte, 0, ChunkSize+4096)
	emit := func(b []byte) ([]byte, error) { return b[:0], nil }
	for b.Loop() {
		b.StopTimer()
		for _, k := range keys {
			if _, err := t.add(k, []byte("1")); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		var err error
		if out, err = t.appendAll(out[:0], []byte("\t"), '\n', emit); err != nil {
			b.Fatal(err)
		}
	}
}
