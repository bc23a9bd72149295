package extsort

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		spec string
		want Key
		err  string
	}{
		{"1", Key{StartField: 1}, ""},
		{"2,2", Key{StartField: 2, EndField: 2}, ""},
		{"1.3,1.5", Key{StartField: 1, StartChar: 3, EndField: 1, EndChar: 5}, ""},
		{"2nr,3b", Key{StartField: 2, Numeric: true, Reverse: true, EndField: 3, EndBlanks: true}, ""},
		{"1.2bf", Key{StartField: 1, StartChar: 2, StartBlanks: true, IgnoreCase: true}, ""},
		{"3,3.0", Key{StartField: 3, EndField: 3}, ""},
		{"99999999999", Key{StartField: 1<<31 - 1}, ""},
		{"0", Key{}, "field number is zero: invalid field specification '0'"},
		{"1.0", Key{}, "character offset is zero: invalid field specification '1.0'"},
		{"1,0", Key{}, "field number is zero: invalid field specification '1,0'"},
		{"1x", Key{}, "stray character in field spec: invalid field specification '1x'"},
		{"x", Key{}, "invalid number at field start: invalid count at start of 'x'"},
		{"1.x", Key{}, "invalid number after '.': invalid count at start of 'x'"},
		{"1,x", Key{}, "invalid number after ',': invalid count at start of 'x'"},
		{"", Key{}, "invalid number at field start: invalid count at start of ''"},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.spec)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseKey(%q) error = %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || k != tt.want {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v", tt.spec, k, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		s    string
		want int64
		err  string
	}{
		{"10", 10 << 10, ""},
		{"10b", 10, ""},
		{"1K", 1 << 10, ""},
		{"256M", 256 << 20, ""},
		{"2g", 2 << 30, ""},
		{"1E", 1 << 60, ""},
		{"10X", 0, "invalid suffix in -S argument '10X'"},
		{"-1", 0, "invalid -S argument '-1'"},
		{"", 0, "invalid -S argument ''"},
		{"101%", 0, "invalid -S argument '101%'"},
		{"99999999999999999999", 0, "-S argument '99999999999999999999' too large"},
		{"9999999999E", 0, "-S argument '9999999999E' too large"},
	}
	for _, tt := range tests {
		n, err := ParseSize(tt.s)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseSize(%q) error = %v, want %q", tt.s, err, tt.err)
			}
			continue
		}
		if err != nil || n != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.s, n, err, tt.want)
		}
	}
	if n, err := ParseSize("50%"); err != nil || n <= 0 {
		t.Errorf("ParseSize(50%%) = %d, %v", n, err)
	}
}

// TestNumericOrder lists numbers in GNU sort -n order; equal neighbours
// are marked with "=".
func TestNumericOrder(t *testing.T) {
	order := []string{
		"-1000000000", "-10", "-9.5", "-9.49", "-1", "=-1.000", "=-1e9", "-.5",
		"0", "=-0", "=", "=abc", "=-", "=.", "=+5", "=-0.0", "=\x80", "=\x80-5",
		".000001", ".5", "=0.50", "1", "=\x801", "=01", "=1.", "=  1", "=\t1", "=\x80\x800\x801",
		"1.5", "9", "9.000000000000000000001", "10", "=1\x800", "11", "100", "1000", "=1\x80000",
		"99999999999999999998", "99999999999999999999",
		"123456789012345678901234567890",
	}
	var prev string
	for i, s := range order {
		eq := strings.HasPrefix(s, "=")
		s = strings.TrimPrefix(s, "=")
		if i > 0 {
			d := numCompare([]byte(prev), []byte(s))
			if eq && d != 0 || !eq && d >= 0 {
				t.Errorf("numCompare(%q, %q) = %d, want %s", prev, s, d, map[bool]string{true: "0", false: "< 0"}[eq])
			}
			pp, ps := numPrefix([]byte(prev)), numPrefix([]byte(s))
			if pp > ps || eq && pp != ps {
				t.Errorf("numPrefix(%q) = %x > numPrefix(%q) = %x", prev, pp, s, ps)
			}
		}
		prev = s
	}
}

// fuzzOptions are the option sets FuzzCompare and FuzzSortGNU pick from.
var fuzzOptions = []struct {
	args []string
	o    Options
}{
	{nil, Options{}},
	{[]string{"-n"}, Options{Numeric: true}},
	{[]string{"-f"}, Options{IgnoreCase: true}},
	{[]string{"-r"}, Options{Reverse: true}},
	{[]string{"-b", "-k2"}, Options{IgnoreBlanks: true, Keys: []Key{{StartField: 2}}}},
	{[]string{"-t", ",", "-k2,2n", "-k1,1r"}, Options{Separator: ",", Keys: []Key{{StartField: 2, EndField: 2, Numeric: true}, {StartField: 1, EndField: 1, Reverse: true}}}},
	{[]string{"-k1.2,1.3f"}, Options{Keys: []Key{{StartField: 1, StartChar: 2, EndField: 1, EndChar: 3, IgnoreCase: true}}}},
	{[]string{"-s", "-k2nr"}, Options{Stable: true, Keys: []Key{{StartField: 2, Numeric: true, Reverse: true}}}},
}

// FuzzCompare checks that the comparison is a consistent order and that
// prefixes never contradict it.
func FuzzCompare(f *testing.F) {
	f.Add([]byte("a b"), []byte("a c"), uint8(0))
	f.Add([]byte("-1.5"), []byte("\x80-2"), uint8(1))
	f.Add([]byte(" x,10"), []byte("x,9"), uint8(5))
	f.Fuzz(func(t *testing.T, a, b []byte, oi uint8) {
		o := fuzzOptions[int(oi)%len(fuzzOptions)].o
		c := newComparer(&o)
		a = bytes.ReplaceAll(a, []byte{'\n'}, nil)
		b = bytes.ReplaceAll(b, []byte{'\n'}, nil)
		ab, ba := c.compare(a, b), c.compare(b, a)
		if (ab < 0) != (ba > 0) || (ab == 0) != (ba == 0) {
			t.Fatalf("compare(%q,%q)=%d but compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		if pa, pb := c.prefix(a), c.prefix(b); pa < pb && ab > 0 || pa > pb && ab < 0 {
			t.Fatalf("prefixes %x, %x contradict compare(%q,%q)=%d", pa, pb, a, b, ab)
		}
	})
}

// FuzzSortGNU sorts the fuzzer's lines with each option set and wants GNU
// sort's output.
func FuzzSortGNU(f *testing.F) {
	if _, err := exec.LookPath("sort"); err != nil {
		f.Skip("GNU sort not found")
	}
	f.Add([]byte("b\na\n10\n9\n"), uint8(1))
	f.Add([]byte("x,1\ny,\x802\n,3\n"), uint8(5))
	f.Fuzz(func(t *testing.T, in []byte, oi uint8) {
		set := fuzzOptions[int(oi)%len(fuzzOptions)]
		o := set.o
		o.Memory = MinMemory
		o.TempDirs = []string{t.TempDir()}
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := s.Sort(context.Background(), []Input{{Name: "-", Reader: bytes.NewReader(in)}}, &out); err != nil {
			t.Fatal(err)
		}
		want := gnuSort(t, set.args, in)
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("sort %q of %q: got %q, want %q", set.args, in, out.Bytes(), want)
		}
	})
}

// TestCheck reports the first disorder like GNU sort -c.
func TestCheck(t *testing.T) {
	s, _ := New(Options{Numeric: true})
	err := s.Check(context.Background(), Input{Name: "f", Reader: strings.NewReader("1\n2\n10\n3\n4\n")})
	if !IsDisorder(err) || err.Error() != "f:4: disorder: 3" {
		t.Fatalf("err = %v", err)
	}
	if err := s.Check(context.Background(), Input{Name: "f", Reader: strings.NewReader("1\n2\n10")}); err != nil {
		t.Fatalf("sorted input: %v", err)
	}
	u, _ := New(Options{Unique: true})
	if err := u.Check(context.Background(), Input{Name: "-", Reader: strings.NewReader("a\na\n")}); !IsDisorder(err) {
		t.Fatalf("-u with duplicates: %v", err)
	}
}

// TestMerge merges sorted inputs in order, stable across inputs.
func TestMerge(t *testing.T) {
	s, _ := New(Options{Stable: true, Separator: "\t", Keys: []Key{{StartField: 1, EndField: 1}}, BatchSize: 2, TempDirs: []string{t.TempDir()}})
	ins := []string{"a\t1\nc\t1\n", "a\t2\nb\t2\n", "a\t3\nd\t3", "b\t4\n"}
	var inputs []Input
	for i, in := range ins {
		inputs = append(inputs, Input{Name: string(rune('p' + i)), Reader: strings.NewReader(in)})
	}
	var out bytes.Buffer
	if _, err := s.Merge(context.Background(), inputs, &out); err != nil {
		t.Fatal(err)
	}
	want := "a\t1\na\t2\na\t3\nb\t2\nb\t4\nc\t1\nd\t3\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if !slices.IsSorted(lines) {
		t.Fatal("not sorted")
	}
}
