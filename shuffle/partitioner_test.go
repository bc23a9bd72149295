package shuffle

import (
	"fmt"
	"testing"
)

// The test vectors of the Hadoop Streaming reference, §3.1.
var hadoopVectors = []struct {
	key        string
	textHash   int32
	stringHash int32
	hash       [5]int // HashPartitioner, n = 2, 3, 7, 10, 12
	kfbp       [5]int // KeyFieldBasedPartitioner, no options
	kfbp11     [5]int // KeyFieldBasedPartitioner, -k1,1
}{
	{"", 1, 0, [5]int{1, 1, 1, 1, 1}, [5]int{0, 0, 0, 0, 0}, [5]int{0, 0, 0, 0, 0}},
	{"a", 128, 97, [5]int{0, 2, 2, 8, 8}, [5]int{1, 1, 6, 7, 1}, [5]int{1, 1, 6, 7, 1}},
	{"hello", 127791473, 99162322, [5]int{1, 2, 5, 3, 5}, [5]int{0, 1, 0, 2, 10}, [5]int{0, 1, 0, 2, 10}},
	{"the", 144592, 114801, [5]int{0, 1, 0, 2, 4}, [5]int{1, 0, 1, 1, 9}, [5]int{1, 0, 1, 1, 9}},
	{"Hadoop", -1253493882, -2140997563, [5]int{0, 2, 5, 6, 2}, [5]int{1, 1, 4, 5, 1}, [5]int{1, 1, 4, 5, 1}},
	{"été", -30187949, 227742, [5]int{1, 0, 1, 9, 3}, [5]int{0, 0, 4, 2, 6}, [5]int{0, 2, 3, 8, 8}},
	{"ключ", 1296813641, 33309882, [5]int{1, 2, 4, 1, 5}, [5]int{0, 0, 4, 2, 6}, [5]int{0, 0, 5, 6, 0}},
	{"a\tb", 123385, 93594, [5]int{1, 1, 3, 5, 1}, [5]int{0, 0, 4, 4, 6}, [5]int{1, 1, 6, 7, 1}},
	{"a\tc", 123386, 93595, [5]int{0, 2, 4, 6, 2}, [5]int{1, 1, 5, 5, 7}, [5]int{1, 1, 6, 7, 1}},
	{"11.12.1.2", 256811285, 453324790, [5]int{1, 2, 3, 5, 5}, [5]int{0, 1, 2, 0, 10}, [5]int{0, 1, 2, 0, 10}},
	{"x\ty\tz", 139836472, 111207321, [5]int{0, 1, 6, 2, 4}, [5]int{1, 0, 1, 1, 9}, [5]int{0, 0, 1, 0, 0}},
}

var vectorNs = [5]int{2, 3, 7, 10, 12}

func TestHadoopVectors(t *testing.T) {
	for _, v := range hadoopVectors {
		key := []byte(v.key)
		if got := TextHash(key); got != v.textHash {
			t.Errorf("TextHash(%q) = %d, want %d", v.key, got, v.textHash)
		}
		if got := StringHash(key); got != v.stringHash {
			t.Errorf("StringHash(%q) = %d, want %d", v.key, got, v.stringHash)
		}
		for i, n := range vectorNs {
			hp, _ := NewHashPartitioner(n)
			kf, _ := NewKeyFieldPartitioner(n, "", '\t')
			k11, err := NewKeyFieldPartitioner(n, "-k1,1", '\t')
			if err != nil {
				t.Fatal(err)
			}
			if got := hp.Partition(key); got != v.hash[i] {
				t.Errorf("HashPartitioner(%q, %d) = %d, want %d", v.key, n, got, v.hash[i])
			}
			if got := kf.Partition(key); got != v.kfbp[i] {
				t.Errorf("KeyFieldBasedPartitioner(%q, %d) = %d, want %d", v.key, n, got, v.kfbp[i])
			}
			if got := k11.Partition(key); got != v.kfbp11[i] {
				t.Errorf("KeyFieldBasedPartitioner -k1,1 (%q, %d) = %d, want %d", v.key, n, got, v.kfbp11[i])
			}
		}
	}
}

// javaKeyFieldHash is a direct transcription of Hadoop's
// KeyFieldBasedPartitioner/KeyFieldHelper arithmetic, to compare against.
func TestKeyFieldSpecs(t *testing.T) {
	h := func(s string) int32 {
		var x int32
		for i := 0; i < len(s); i++ {
			x = 31*x + int32(int8(s[i]))
		}
		return x
	}
	cases := []struct {
		opts, key string
		want      int32
	}{
		{"-k2,2", "a\tbc\td", h("bc")},
		{"-k2", "a\tbc\td", h("bc\td")},
		{"-k1,2", "a\tbc\td", h("a\tbc")},
		{"-k2,2 -k1,1", "a\tbc\td", 31*31*h("bc") + h("a") - 31*31*0}, // placeholder replaced below
		{"-k1.2,1.3", "hello\tx", h("el")},
		{"-k3,3", "a\tb", 0},
		{"-k2,2", "a\t", h("")},
		{"-k1.9", "abc", 0},
		{"-n -k 2,2", "a\tb", h("b")},
		{"-k1,1nr", "abc\td", h("abc")},
		{"-k2.1,3.0", "a\tb\tc\td", h("b\tc")},
		{"-k1,2.1", "ab\tcd", h("ab\tc")},
	}
	// -k2,2 -k1,1 hashes "bc" then continues with "a".
	cases[3].want = 31*h("bc") + int32(int8('a'))
	for _, c := range cases {
		o, err := ParseKeyFieldOptions(c.opts)
		if err != nil {
			t.Fatalf("%q: %v", c.opts, err)
		}
		got, _ := keyFieldHash([]byte(c.key), &o, '\t', nil)
		if got != c.want {
			t.Errorf("keyFieldHash(%q, %q) = %d, want %d", c.opts, c.key, got, c.want)
		}
	}
}

func TestParseKeyFieldOptions(t *testing.T) {
	good := map[string]string{
		"-k1,1":         "[-k1,1]",
		"-k 2,3":        "[-k2,3]",
		"-k2.3nr":       "[-k2.3nr]",
		"-k1,2.4n -r":   "[-k1,2.4n]",
		"-nr -k3 -k1,1": "[-k3nr -k1,1nr]",
		"-n":            "[-k1n]",
		"-f -k1,1":      "[-k1,1]",
		"-k":            "[-k1]",
		"-k1.2,3.0rn":   "[-k1.2,3nr]",
		"-rn -k1":       "[-k1]", // Hadoop knows only -n, -r and -nr
	}
	for in, want := range good {
		o, err := ParseKeyFieldOptions(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := fmt.Sprint(o.Specs); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"-kx", "-k1x", "-k0", "-k1.0", "-k1,", "-k1,0", "-k1.", "-k1,2.x", "-k1,2b", "-k1b,2", "-k99999999999", "-k1,2,3", "-k1.-2"} {
		if _, err := ParseKeyFieldOptions(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestInvalidUTF8KeyField(t *testing.T) {
	// Java decodes malformed UTF-8 to U+FFFD before hashing with options.
	p, _ := NewKeyFieldPartitioner(1000, "-k1", '\t')
	q, _ := NewKeyFieldPartitioner(1000, "-k1", '\t')
	if a, b := p.Partition([]byte("a\xffb")), q.Partition([]byte("a\uFFFDb")); a != b {
		t.Errorf("invalid byte: %d, U+FFFD: %d", a, b)
	}
	if a, b := p.Partition([]byte("\xe2\x82x")), q.Partition([]byte("\uFFFDx")); a != b {
		t.Errorf("truncated sequence: %d, one U+FFFD: %d", a, b)
	}
	if StringHash([]byte("\xff")) != StringHash([]byte("\uFFFD")) {
		t.Error("StringHash of an invalid byte differs from U+FFFD")
	}
}

func TestTotalOrder(t *testing.T) {
	p, err := NewTotalOrderPartitioner(4, [][]byte{[]byte("g"), []byte("p")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"": 0, "a": 0, "f\xff": 0, "g": 1, "go": 1, "p": 2, "z": 2} {
		if got := p.Partition([]byte(key)); got != want {
			t.Errorf("%q: %d, want %d", key, got, want)
		}
	}
	if _, err := NewTotalOrderPartitioner(2, [][]byte{[]byte("a"), []byte("b")}, nil); err == nil {
		t.Error("too many splits accepted")
	}
	if _, err := NewTotalOrderPartitioner(3, [][]byte{[]byte("b"), []byte("b")}, nil); err == nil {
		t.Error("equal splits accepted")
	}
}

func TestKeySpec(t *testing.T) {
	cases := []struct {
		sep        string
		n          int
		line, k, v string
		ok         bool
	}{
		{"", 0, "a\tb\tc", "a", "b\tc", true},
		{"", 2, "a\tb\tc", "a\tb", "c", true},
		{"", 3, "a\tb\tc", "a\tb\tc", "", false},
		{"", 1, "abc", "abc", "", false},
		{"", 1, "", "", "", false},
		{"", 1, "\tx", "", "x", true},
		{",", 1, "a,b\tc", "a", "b\tc", true},
		{"", 1, "a\t", "a", "", true},
	}
	for _, c := range cases {
		ks := KeySpec{Separator: c.sep, Fields: c.n}
		k, v, ok := ks.Split([]byte(c.line))
		if string(k) != c.k || string(v) != c.v || ok != c.ok {
			t.Errorf("%+v.Split(%q) = %q, %q, %v", ks, c.line, k, v, ok)
		}
		if got := ks.Key([]byte(c.line)); string(got) != c.k {
			t.Errorf("%+v.Key(%q) = %q", ks, c.line, got)
		}
	}
}

func TestSamplerSplits(t *testing.T) {
	s := NewSampler(1000)
	for i := 0; i < 10000; i++ {
		s.Add([]byte(fmt.Sprintf("%05d", i)))
	}
	sp := s.Splits(4, nil)
	if len(sp) != 3 {
		t.Fatalf("%q", sp)
	}
	for i := 1; i < len(sp); i++ {
		if string(sp[i-1]) >= string(sp[i]) {
			t.Fatalf("not increasing: %q", sp)
		}
	}
	s = NewSampler(10)
	for i := 0; i < 100; i++ {
		s.Add([]byte("same"))
	}
	if sp := s.Splits(4, nil); len(sp) != 0 {
		t.Errorf("one distinct key: %q", sp)
	}
}
