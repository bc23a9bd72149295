package streaming

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/shuffle"
)

// TestPreCombinerFlushed checks what Flushed promises: false while every
// key is still in the table, so that Flush writes each key once; true
// once the table has outgrown its bound and written states out.
func TestPreCombinerFlushed(t *testing.T) {
	for _, name := range []string{"sum", "max", "collect"} {
		b, err := NewBuiltin(name, Protocol{}, BuiltinOptions{}, true)
		if err != nil {
			t.Fatal(err)
		}
		var big strings.Builder
		for i := range 20000 {
			fmt.Fprintf(&big, "key%d\t%d\n", i%5000, i)
		}
		for _, tc := range []struct {
			limit   int
			flushed bool
		}{{64 << 20, false}, {64 << 10, true}} {
			var out strings.Builder
			p := NewPreCombiner(b, tc.limit, func(c []byte) error { out.Write(c); return nil })
			if err := p.Write([]byte(big.String())); err != nil {
				t.Fatal(err)
			}
			if p.Flushed() != tc.flushed {
				t.Errorf("%s, limit %d: Flushed() = %v before Flush", name, tc.limit, p.Flushed())
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			keys := map[string]int{}
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				k, _, _ := strings.Cut(l, "\t")
				keys[k]++
			}
			dups := 0
			for _, n := range keys {
				if n > 1 {
					dups++
				}
			}
			if len(keys) != 5000 || !tc.flushed && dups > 0 {
				t.Errorf("%s, limit %d: %d keys, %d written more than once", name, tc.limit, len(keys), dups)
			}
			p.Release()
		}
	}
}

// preCombineSum folds in with a sum pre-combiner bounded to limit bytes,
// in chunks of whole records cut after every cut-th record (all at once
// for 0), and returns its output records sorted, the records it counted
// in and out, and its error. With generic set it folds in the generic
// table of states instead of the sum table.
func preCombineSum(t *testing.T, proto Protocol, in []byte, limit, cut int, generic bool) (recs []string, nIn, nOut int64, err error) {
	t.Helper()
	b, err := NewBuiltin("sum", proto, BuiltinOptions{}, true)
	if err != nil {
		t.Fatal(err)
	}
	term := proto.Terminator()
	var out strings.Builder
	p := NewPreCombiner(b, limit, func(c []byte) error { out.Write(c); return nil })
	defer p.Release()
	if generic {
		p.Release()
	}
	for len(in) > 0 {
		n := len(in)
		if cut > 0 {
			n = 0
			for range cut {
				i := bytes.IndexByte(in[n:], term)
				if i < 0 {
					n = len(in)
					break
				}
				n += i + 1
			}
		}
		if err := p.Write(in[:n]); err != nil {
			return nil, p.In, p.Out, err
		}
		in = in[n:]
	}
	if err := p.Flush(); err != nil {
		return nil, p.In, p.Out, err
	}
	recs = strings.SplitAfter(out.String(), string([]byte{term}))
	slices.Sort(recs)
	return recs, p.In, p.Out, nil
}

// checkPreCombineSum checks the sum table's pre-combiner (with its
// fast path for counts) against the generic one: the same records (the
// two flush at the same records when the memory bound is reached, their
// sizes being counted alike), the same counts and the same error.
func checkPreCombineSum(t *testing.T, proto Protocol, in []byte) {
	t.Helper()
	for _, limit := range []int{0, 300, 3000} {
		want, wantIn, wantOut, wantErr := preCombineSum(t, proto, in, limit, 0, true)
		for _, cut := range []int{0, 1, 3, 17} {
			got, gotIn, gotOut, err := preCombineSum(t, proto, in, limit, cut, false)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || err == nil && (!slices.Equal(got, want) || gotIn != wantIn || gotOut != wantOut) {
				t.Fatalf("%q (limit %d, chunks of %d records): got %q (%d in, %d out), %v; the generic table gives %q (%d, %d), %v",
					in, limit, cut, got, gotIn, gotOut, err, want, wantIn, wantOut, wantErr)
			}
		}
	}
}

func TestPreCombineSumFast(t *testing.T) {
	var many bytes.Buffer
	for i := range 20000 {
		// Keys of lengths up to 62 (held in their slot or in the
		// arena), each seen 16 times, with counts, large values,
		// negative ones, floats and overflow.
		k := strings.Repeat("k", (i%13)*5) + fmt.Sprint(i%97) // 1261 keys
		v := []string{"1", "2", "9223372036854775807", "-3", "0.5", "17", "007"}[i%7]
		fmt.Fprintf(&many, "%s\t%s\n", k, v)
	}
	for _, in := range []string{
		"", "\n", "a\t1\n", "a\t1\na\t2\nb\t3\n",
		"a\t1\na\n", // no value: an error
		"a\t1\na\tx\n",
		"a\t1\t2\n", // a tab in the value
		"\t1\n\t2\n", "a\t\n",
		"a\t9223372036854775807\na\t1\n", // overflow into a float
		"a\t-1\na\t1\na\t1.5\n",
		"a very long key of more than sixteen bytes\t1\na very long key of more than sixteen bytes\t2\n",
		"no final newline\t5",
		many.String(),
	} {
		checkPreCombineSum(t, Protocol{}, []byte(in))
	}
	// Keys of two fields, a separator other than tab, NUL-terminated
	// records, and the separator as the terminator.
	checkPreCombineSum(t, Protocol{Key: shuffle.KeySpec{Separator: ",", Fields: 2}}, []byte("a,b,1\na,b,2\na,c,3\n"))
	checkPreCombineSum(t, Protocol{Key: shuffle.KeySpec{Separator: ","}}, []byte("a,1\na,2\nb\n"))
	checkPreCombineSum(t, Protocol{ZeroTerminated: true}, bytes.ReplaceAll(many.Bytes(), []byte("\n"), []byte{0}))
	checkPreCombineSum(t, Protocol{ZeroTerminated: true, Key: shuffle.KeySpec{Separator: "\x00"}}, []byte("a\x001\x00"))
}

func FuzzPreCombineSum(f *testing.F) {
	f.Add([]byte("a\t1\na\t2\nb\tx\n"))
	f.Add([]byte("0123456789abcdefg\t1\n0123456789abcdefg\t3\n"))
	f.Add([]byte("a\t9223372036854775807\na\t1\n"))
	f.Add([]byte("k\t1\nk\t2\nno final newline\t3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkPreCombineSum(t, Protocol{}, in)
		checkPreCombineSum(t, Protocol{ZeroTerminated: true, Key: shuffle.KeySpec{Separator: "1"}}, in)
	})
}
