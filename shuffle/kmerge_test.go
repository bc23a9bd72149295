package shuffle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/mrpipe/mrpipe/extsort"
)

// TestKMergeMatchesExtsort checks the key-bytes merge against extsort's
// stable merge on inputs with empty lines, lines without separator,
// multi-field keys, a last line without terminator and lines longer than
// the buffers.
func TestKMergeMatchesExtsort(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		nkey := 1 + r.IntN(3)
		sep := byte('\t')
		if seed%3 == 1 {
			sep = ','
		}
		term := byte('\n')
		if seed%5 == 4 {
			term = 0
		}
		s, err := extsort.New(extsort.Options{
			Keys:      []extsort.Key{{StartField: 1, EndField: nkey}},
			Separator: string(sep), Stable: true, ZeroTerminated: term == 0,
		})
		if err != nil {
			t.Fatal(err)
		}
		k := 1 + r.IntN(6)
		var inputs [][]byte
		for i := 0; i < k; i++ {
			var lines [][]byte
			for n := r.IntN(3000); n > 0; n-- {
				var l []byte
				for f := r.IntN(4); f >= 0; f-- {
					l = fmt.Appendf(l, "%c%d", 'a'+r.IntN(3), r.IntN(20))
					if f > 0 {
						l = append(l, sep)
					}
				}
				switch r.IntN(50) {
				case 0:
					l = l[:0]
				case 1:
					l = append(l, bytes.Repeat([]byte{'x'}, 100_000+r.IntN(200_000))...)
				}
				lines = append(lines, l)
			}
			// Sort by key, stable, as the writer does.
			var b bytes.Buffer
			for _, l := range lines {
				b.Write(l)
				b.WriteByte(term)
			}
			var sorted bytes.Buffer
			if _, err := s.Sort(ctx, []extsort.Input{{Name: "x", Reader: &b}}, &sorted); err != nil {
				t.Fatal(err)
			}
			in := sorted.Bytes()
			if len(in) > 0 && r.IntN(2) == 0 {
				in = in[:len(in)-1]
			}
			inputs = append(inputs, in)
		}
		var want bytes.Buffer
		var ins []extsort.Input
		for i, in := range inputs {
			ins = append(ins, extsort.Input{Name: fmt.Sprint(i), Reader: bytes.NewReader(in)})
		}
		st, err := s.Merge(ctx, ins, &want)
		if err != nil {
			t.Fatal(err)
		}
		m := &kmerge{sep: sep, term: term, nkey: nkey}
		var got bytes.Buffer
		m.w = &got
		var rs []io.Reader
		for _, in := range inputs {
			rs = append(rs, io.LimitReader(bytes.NewReader(in), 1<<62))
		}
		if err := m.run(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d: merge differs from extsort (%d vs %d bytes)", seed, got.Len(), want.Len())
		}
		if m.records != st.OutRecords || m.bytes != st.OutBytes {
			t.Fatalf("seed %d: counted %d records %d bytes, extsort %d %d", seed, m.records, m.bytes, st.OutRecords, st.OutBytes)
		}
	}
}
