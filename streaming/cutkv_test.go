package streaming

import (
	"bytes"
	"testing"

	"github.com/mrpipe/mrpipe/shuffle"
)

// cutKVRef is cutKV the plain way: find the record's end, then Split.
func cutKVRef(chunk []byte, sep, term byte) (key, val, rest []byte) {
	i := bytes.IndexByte(chunk, term)
	line := chunk
	if i >= 0 {
		line, rest = chunk[:i], chunk[i+1:]
	}
	key, val, _ = shuffle.KeySpec{Separator: string([]byte{sep})}.Split(line)
	return key, val, rest
}

func TestCutKV(t *testing.T) {
	for _, tc := range []struct {
		in             string
		key, val, rest string
		noVal          bool
	}{
		{in: "", key: "", noVal: true},
		{in: "\n", key: "", noVal: true},
		{in: "a\t1\nb\t2\n", key: "a", val: "1", rest: "b\t2\n"},
		{in: "/static/js/2.css\t1\n", key: "/static/js/2.css", val: "1"},
		{in: "no tab at all\nnext\t1\n", key: "no tab at all", noVal: true, rest: "next\t1\n"},
		{in: "last\t12", key: "last", val: "12"},
		{in: "last without tab", key: "last without tab", noVal: true},
		{in: "\t\t\n", key: "", val: "\t"},
		{in: "k\tv w\tx\n", key: "k", val: "v w\tx"},
		{in: "a very long key of more than eight bytes\ta value longer than sixteen bytes\nz", key: "a very long key of more than eight bytes", val: "a value longer than sixteen bytes", rest: "z"},
		{in: "\xff\x00\x80\t\x7f\n", key: "\xff\x00\x80", val: "\x7f"},
	} {
		key, val, rest := cutKV([]byte(tc.in), '\t', '\n')
		if string(key) != tc.key || string(val) != tc.val || string(rest) != tc.rest || (val == nil) != tc.noVal {
			t.Errorf("cutKV(%q) = %q, %q (nil %v), %q; want %q, %q (nil %v), %q", tc.in, key, val, val == nil, rest, tc.key, tc.val, tc.noVal, tc.rest)
		}
	}
}

func FuzzCutKV(f *testing.F) {
	f.Add([]byte("a\t1\nb\t2\n"), byte('\t'), byte('\n'))
	f.Add([]byte("12345678\t1234567812345678\n"), byte('\t'), byte('\n'))
	f.Add([]byte("k,v\x00k2,v2"), byte(','), byte(0))
	f.Add([]byte("\x80\x80\x80\x80\x80\x80\x80\x80\x81\n"), byte('\x81'), byte('\n'))
	f.Fuzz(func(t *testing.T, in []byte, sep, term byte) {
		if sep == term {
			return
		}
		for c := in; ; {
			k1, v1, r1 := cutKV(c, sep, term)
			k2, v2, r2 := cutKVRef(c, sep, term)
			if !bytes.Equal(k1, k2) || !bytes.Equal(v1, v2) || (v1 == nil) != (v2 == nil) || !bytes.Equal(r1, r2) || (r1 == nil) != (r2 == nil) {
				t.Fatalf("cutKV(%q, %q, %q) = %q, %q, %q; want %q, %q, %q", c, sep, term, k1, v1, r1, k2, v2, r2)
			}
			if len(r1) == 0 {
				break
			}
			c = r1
		}
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
