package split

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// records splits data into records ending in delim (the last may not).
func records(data []byte, delim byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, delim)
		if i < 0 {
			out = append(out, data)
			break
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return out
}

func randomData(rng *rand.Rand) []byte {
	var b []byte
	switch rng.IntN(8) {
	case 0:
		return nil
	case 1:
		return []byte{"a\n\x00"[rng.IntN(3)]}
	}
	n := rng.IntN(40)
	alphabet := []byte("ab\n\r\x00")
	for i := 0; i < n; i++ {
		l := rng.IntN(12)
		if rng.IntN(10) == 0 {
			l = rng.IntN(300) // longer than most splits
		}
		for j := 0; j < l; j++ {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		switch rng.IntN(4) {
		case 0:
			b = append(b, '\r', '\n')
		case 1:
			b = append(b, 0)
		default:
			b = append(b, '\n')
		}
	}
	if rng.IntN(3) == 0 && len(b) > 0 {
		b = b[:len(b)-1] // no final terminator
	}
	return b
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads every split and checks the counts.
func readAll(t testing.TB, splits []Split, delim byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range splits {
		r, err := OpenDelim(s, delim)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Bytes() != int64(len(got)) {
			t.Fatalf("%s: Bytes() = %d, read %d", s, r.Bytes(), len(got))
		}
		if want := int64(len(records(got, delim))); r.Records() != want {
			t.Fatalf("%s: Records() = %d, want %d", s, r.Records(), want)
		}
		if st, en := r.Range(); r.Codec() == None && en-st != int64(len(got)) {
			t.Fatalf("%s: Range() = %d,%d, read %d bytes", s, st, en, len(got))
		}
		r.Close()
		out = append(out, got)
	}
	return out
}

// checkSplits checks that the splits' records, concatenated, are the
// file's, each record in one split only.
func checkSplits(t testing.TB, data []byte, parts [][]byte, delim byte, what string) {
	t.Helper()
	if got := bytes.Join(parts, nil); !bytes.Equal(got, data) {
		t.Fatalf("%s: concatenation differs:\n got %q\nwant %q", what, got, data)
	}
	var n int
	for _, p := range parts {
		// A split's records are whole records of the file: its bytes end
		// in delim unless it holds the file's last record.
		if len(p) > 0 && p[len(p)-1] != delim && n+len(p) != len(data) {
			t.Fatalf("%s: a split ends inside a record at %d", what, n+len(p))
		}
		n += len(p)
	}
}

func TestPropertyN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for iter := 0; iter < 3000; iter++ {
		data := randomData(rng)
		p := writeFile(t, dir, "in", data)
		delim := byte('\n')
		if rng.IntN(3) == 0 {
			delim = 0
		}
		n := 1 + rng.IntN(min(len(data)+3, 40))
		if rng.IntN(20) == 0 {
			n = 1 + rng.IntN(len(data)+3) // mostly empty splits
		}
		splits, err := Plan([]string{p}, Options{N: n})
		if err != nil {
			t.Fatal(err)
		}
		if len(splits) != n {
			t.Fatalf("N=%d: %d splits", n, len(splits))
		}
		for k, s := range splits {
			st, en := Chunk(k, n, int64(len(data)))
			if s.Start != st || s.End() != en {
				t.Fatalf("N=%d: split %d is %s, want [%d,%d)", n, k, s, st, en)
			}
		}
		checkSplits(t, data, readAll(t, splits, delim), delim, fmt.Sprintf("%q N=%d delim=%q", data, n, delim))
	}
}

func TestPropertySize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	for iter := 0; iter < 3000; iter++ {
		data := randomData(rng)
		p := writeFile(t, dir, "in", data)
		delim := byte('\n')
		if rng.IntN(3) == 0 {
			delim = 0
		}
		size := int64(1 + rng.IntN(len(data)+3))
		minSize := int64(0)
		if rng.IntN(4) == 0 {
			minSize = int64(rng.IntN(len(data) + 3))
		}
		splits, err := Plan([]string{p}, Options{Size: size, MinSize: minSize})
		if err != nil {
			t.Fatal(err)
		}
		eff := max(size, minSize)
		for k, s := range splits {
			if s.Start != int64(k)*eff || (k < len(splits)-1 && s.Length != eff) || s.Length > eff {
				t.Fatalf("size %d: split %d is %s", eff, k, s)
			}
		}
		checkSplits(t, data, readAll(t, splits, delim), delim, fmt.Sprintf("%q size=%d delim=%q", data, eff, delim))
	}
}

// Any cut of a file into ranges gives every record to exactly one range.
func TestPropertyArbitraryCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	for iter := 0; iter < 2000; iter++ {
		data := randomData(rng)
		p := writeFile(t, dir, "in", data)
		var splits []Split
		for off := int64(0); off < int64(len(data)); {
			l := int64(rng.IntN(20))
			splits = append(splits, Split{Path: p, Start: off, Length: l})
			off += l
		}
		// Ranges past the end own nothing.
		splits = append(splits, Split{Path: p, Start: int64(len(data)), Length: 5})
		checkSplits(t, data, readAll(t, splits, '\n'), '\n', fmt.Sprintf("%q", data))
	}
}

func TestSeveralFilesShare(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a", bytes.Repeat([]byte("x\n"), 300))
	b := writeFile(t, dir, "b", bytes.Repeat([]byte("y\n"), 100))
	c := writeFile(t, dir, "c", nil)
	splits, err := Plan([]string{a, b, c}, Options{N: 8})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, s := range splits {
		per[filepath.Base(s.Path)]++
	}
	if len(splits) != 8 || per["a"] != 5 || per["b"] != 2 || per["c"] != 1 {
		t.Fatalf("splits per file: %v (%d in all)", per, len(splits))
	}
	// Fewer splits than files: one per file.
	splits, err = Plan([]string{a, b, c}, Options{N: 1})
	if err != nil || len(splits) != 3 {
		t.Fatalf("N=1 over 3 files: %v %v", splits, err)
	}
	// MinSize caps the count.
	splits, err = Plan([]string{a}, Options{N: 100, MinSize: 200})
	if err != nil || len(splits) != 3 {
		t.Fatalf("MinSize: %d splits, %v", len(splits), err)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.txt", []byte("b\n"))
	writeFile(t, dir, "a.txt", []byte("a\n"))
	writeFile(t, dir, "_SUCCESS", nil)
	writeFile(t, dir, ".hidden", []byte("h\n"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sub/c.txt", []byte("c\n"))
	files, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Path))
	}
	if fmt.Sprint(names) != "[a.txt b.txt]" {
		t.Fatalf("dir: %v", names)
	}
	files, err = Expand([]string{filepath.Join(dir, "*")})
	if err != nil || len(files) != 3 { // a.txt b.txt sub/c.txt
		t.Fatalf("glob: %v %v", files, err)
	}
	// An explicitly named hidden file is used.
	files, err = Expand([]string{filepath.Join(dir, ".hidden")})
	if err != nil || len(files) != 1 {
		t.Fatalf("hidden: %v %v", files, err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "nope")}); err == nil || err.Error() != "open "+filepath.Join(dir, "nope")+": no such file or directory" {
		t.Fatalf("missing: %v", err)
	}
	if _, err := Expand([]string{filepath.Join(dir, "*.gz")}); err == nil {
		t.Fatal("a pattern matching nothing is not an error")
	}
}

func TestCompressed(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("hello world\n"), 5000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data[:len(data)/2])
	zw.Close()
	zw = gzip.NewWriter(&gz) // multi-member, as cat a.gz b.gz
	zw.Write(data[len(data)/2:])
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	zst := enc.EncodeAll(data, nil)
	g := writeFile(t, dir, "in.gz", gz.Bytes())
	z := writeFile(t, dir, "in.zst", zst)
	plain := writeFile(t, dir, "in.txt", data)
	splits, err := Plan([]string{g, z, plain}, Options{N: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 6 || splits[0].Codec != Gzip || splits[1].Codec != Zstd || splits[0].Length != int64(gz.Len()) {
		t.Fatalf("splits: %v", splits)
	}
	parts := readAll(t, splits, '\n')
	if !bytes.Equal(parts[0], data) || !bytes.Equal(parts[1], data) || !bytes.Equal(bytes.Join(parts[2:], nil), data) {
		t.Fatal("decoded data differs")
	}
	// A byte range not starting at 0 of a compressed file owns nothing.
	r, err := Open(Split{Path: g, Start: 10, Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); len(b) != 0 {
		t.Fatal("range of a compressed file read records")
	}
	r.Close()
	// A corrupt stream is an error naming the file.
	bad := writeFile(t, dir, "bad.gz", append(gz.Bytes()[:40:40], 0, 0, 0))
	r, err = Open(Split{Path: bad, Length: 43})
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("corrupt gzip read without error")
	}
}

func TestParseDescriptor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Split
		ok   bool
	}{
		{"a/b.txt\t10\t20\n", Split{Path: "a/b.txt", Start: 10, Length: 20}, true},
		{"a:b.txt:10+20", Split{Path: "a:b.txt", Start: 10, Length: 20}, true},
		{"with\ttab\t1\t2", Split{Path: "with\ttab", Start: 1, Length: 2}, true},
		{"x\t-1\t2", Split{}, false},
		{"x:1+", Split{}, false},
		{"x", Split{}, false},
		{"\t1\t2", Split{}, false},
	} {
		got, err := ParseDescriptor(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDescriptor(%q) = %v, %v", c.in, got, err)
		}
	}
	s := Split{Path: "p", Start: 3, Length: 4}
	if s.String() != "p:3+4" || s.Descriptor() != "p\t3\t4" {
		t.Fatal(s.String(), s.Descriptor())
	}
}

func TestSendTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	for iter := 0; iter < 200; iter++ {
		data := randomData(rng)
		if iter == 0 {
			data = bytes.Repeat([]byte("0123456789abcde\n"), 300000) // several MiB
		}
		p := writeFile(t, dir, "in", data)
		n := 1 + rng.IntN(5)
		splits, _ := Plan([]string{p}, Options{N: n})
		var parts [][]byte
		for _, s := range splits {
			r, err := Open(s)
			if err != nil {
				t.Fatal(err)
			}
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan []byte)
			go func() { b, _ := io.ReadAll(pr); done <- b }()
			// Half the time to a pipe (splice), else to a file (sendfile).
			var got []byte
			if iter%2 == 0 {
				if _, err := r.SendTo(pw); err != nil {
					t.Fatal(err)
				}
				pw.Close()
				got = <-done
			} else {
				pw.Close()
				<-done
				f, _ := os.Create(filepath.Join(dir, "out"))
				if _, err := r.SendTo(f); err != nil {
					t.Fatal(err)
				}
				f.Close()
				got, _ = os.ReadFile(filepath.Join(dir, "out"))
			}
			pr.Close()
			if r.Bytes() != int64(len(got)) || r.Records() != -1 {
				t.Fatalf("counts after SendTo: %d %d, sent %d", r.Bytes(), r.Records(), len(got))
			}
			r.Close()
			parts = append(parts, got)
		}
		checkSplits(t, data, parts, '\n', "SendTo")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), uint8(2), false)
	f.Add([]byte("\n\n\n"), uint8(3), true)
	f.Add([]byte("x\x00y\r\n"), uint8(1), true)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, n uint8, z bool) {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		delim := byte('\n')
		if z {
			delim = 0
		}
		splits, err := Plan([]string{p}, Options{N: int(n%64) + 1})
		if err != nil {
			t.Fatal(err)
		}
		if detect(data) != None {
			return
		}
		checkSplits(t, data, readAll(t, splits, delim), delim, "fuzz")
	})
}

func BenchmarkPlan(b *testing.B) {
	p := filepath.Join(b.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for b.Loop() {
		splits, err := Plan([]string{p}, Options{N: 1000})
		if err != nil || len(splits) != 1000 {
			b.Fatal(len(splits), err)
		}
	}
}
