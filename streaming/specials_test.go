package streaming

import (
	"slices"
	"testing"
)

// indexSpecialsRef is indexSpecials a byte at a time.
func indexSpecialsRef(chunk []byte, from, to int, a, b byte) []uint32 {
	var idx []uint32
	for i := from; i < to; i++ {
		if chunk[i] == a || chunk[i] == b {
			idx = append(idx, uint32(i-from))
		}
	}
	return idx
}

func checkIndexSpecials(t *testing.T, chunk []byte, a, b byte) {
	t.Helper()
	for _, f := range []struct {
		name string
		fn   func([]uint32, []byte, int, int, byte, byte) int
	}{{"indexSpecials", indexSpecials}, {"indexSpecialsSWAR", indexSpecialsSWAR}} {
		for _, r := range [][2]int{{0, len(chunk)}, {len(chunk) / 3, len(chunk)}, {1, len(chunk) - 1}} {
			from, to := r[0], r[1]
			if from > to || from < 0 || to > len(chunk) {
				continue
			}
			idx := make([]uint32, to-from+specialsSlack)
			// Garbage past the entries must not matter.
			for i := range idx {
				idx[i] = 0xdeadbeef
			}
			n := f.fn(idx, chunk, from, to, a, b)
			if want := indexSpecialsRef(chunk, from, to, a, b); !slices.Equal(idx[:n], want) {
				t.Fatalf("%s(%q[%d:%d], %q, %q) = %v, want %v", f.name, chunk, from, to, a, b, idx[:n], want)
			}
		}
	}
}

func TestIndexSpecials(t *testing.T) {
	for _, in := range []string{
		"", "\n", "\t", "a\t1\nb\t2\n", "/static/js/2.css\t1\n",
		"\t\t\t\t\t\t\t\t\n\n\n\n\n\n\n\n", // a word of nothing else
		"abcdefgh\tabcdefgh\nabcdefg\t",    // on word boundaries and off
		"\x00\x01\x08\x09\x0a\x0b\x89\x8a\xff\x7f\x80\x81\x09\x0a\x00\x00\x0a",
		"no tab at all and no newline, longer than a word or two",
	} {
		checkIndexSpecials(t, []byte(in), '\t', '\n')
	}
	checkIndexSpecials(t, []byte("k,v\x00k2,v2\x00,,,,\x00\x00\x00"), ',', 0)
	checkIndexSpecials(t, []byte("\x80\x80\x80\x80\x80\x80\x80\x80\x81\x81\x81\n"), 0x81, '\n')
	// Longer than the blocks compared at once (32 bytes, 64 blocks of
	// them), with more than four hits in some blocks and none in others.
	var long []byte
	for i := range 5000 {
		long = append(long, []byte("/static/js/2.css\t1\n")[:i%20]...)
		if i%97 == 0 {
			long = append(long, "\t\t\t\t\t\n\n\n\n\n"...)
		}
		if i%89 == 0 {
			long = append(long, make([]byte, 100)...)
		}
	}
	checkIndexSpecials(t, long, '\t', '\n')
	if !useAVX2 {
		t.Log("no AVX2 here: indexSpecials is indexSpecialsSWAR")
	}
}

func FuzzIndexSpecials(f *testing.F) {
	f.Add([]byte("a\t1\nb\t2\n"), byte('\t'), byte('\n'))
	f.Add([]byte("12345678\t1234567812345678\n"), byte('\t'), byte('\n'))
	f.Add([]byte("k,v\x00k2,v2"), byte(','), byte(0))
	f.Add([]byte("\x80\x80\x80\x80\x80\x80\x80\x80\x81\n"), byte('\x81'), byte('\n'))
	f.Add([]byte("/static/js/2.css\t1\n/0.html\t1\n/a/b/c/d/e/f/g/h/i/j/k/l/m/n\t12\n\t\t\t\t\t\t\n"), byte('\t'), byte('\n'))
	f.Fuzz(func(t *testing.T, in []byte, a, b byte) {
		checkIndexSpecials(t, in, a, b)
	})
}

func TestParseDigits(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int64
		ok bool
	}{
		{"1", 1, true}, {"0", 0, true}, {"0042", 42, true},
		{"999999999999999999", 999999999999999999, true},
		{"1000000000000000000", 0, false}, // 19 digits: the slow path
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"1.5", 0, false}, {"1e3", 0, false}, {"x", 0, false},
	} {
		n, ok := parseDigits([]byte(tc.in))
		if n != tc.n && ok || ok != tc.ok {
			t.Errorf("parseDigits(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
		if ok {
			if i, _, isInt, err := parseNumber([]byte(tc.in)); err != nil || !isInt || i != n {
				t.Errorf("parseNumber(%q) = %d, %v, %v; parseDigits gave %d", tc.in, i, isInt, err, n)
			}
		}
	}
}
