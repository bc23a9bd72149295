package shuffle

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func FuzzKeyFieldPartitioner(f *testing.F) {
	for _, s := range []string{"-k1,1", "-k2.3,4.5nr -k1", "-n -k 2,2", "-k1.2,1.0", "-kx", "-k0"} {
		f.Add(s, []byte("a\tb\tc"), byte('\t'), uint16(7))
	}
	f.Fuzz(func(t *testing.T, opts string, key []byte, sep byte, n uint16) {
		r := int(n%1000) + 1
		p, err := NewKeyFieldPartitioner(r, opts, sep)
		if err != nil {
			return
		}
		if q := p.Partition(key); q < 0 || q >= r {
			t.Fatalf("partition %d of %d", q, r)
		}
		if _, err := ComparatorKeys(opts, 3); err != nil {
			return
		}
	})
}

func FuzzKeySpec(f *testing.F) {
	f.Add([]byte("a\tb\tc"), byte('\t'), uint8(1))
	f.Add([]byte(""), byte(','), uint8(3))
	f.Fuzz(func(t *testing.T, line []byte, sep byte, n uint8) {
		ks := KeySpec{Separator: string([]byte{sep}), Fields: int(n%5) + 1}
		k, v, ok := ks.Split(line)
		if ok {
			if !bytes.Equal(append(append(append([]byte(nil), k...), sep), v...), line) {
				t.Fatalf("key %q + value %q != line %q", k, v, line)
			}
			if bytes.Count(k, []byte{sep}) != ks.N()-1 {
				t.Fatalf("key %q has the wrong number of separators", k)
			}
		} else if !bytes.Equal(k, line) || len(v) != 0 || bytes.Count(line, []byte{sep}) >= ks.N() {
			t.Fatalf("no split of %q: %q %q", line, k, v)
		}
		if !bytes.Equal(ks.Key(line), k) {
			t.Fatal("Key and Split disagree")
		}
	})
}

// FuzzVerifiedRead corrupts one byte of a part file (or truncates it) and
// reads it back: the read must fail or give exactly the original bytes.
func FuzzVerifiedRead(f *testing.F) {
	f.Add(uint16(30), byte(1), false, false)
	f.Add(uint16(3), byte(0x80), true, false)
	f.Add(uint16(200), byte(0xff), true, true)
	data := genLines(400, 9)
	f.Fuzz(func(t *testing.T, pos uint16, xor byte, plain, truncate bool) {
		dir := t.TempDir()
		o := Options{Partitions: 1, Sort: true}
		if plain {
			o.Compress = CompressNone
		}
		w, err := Create(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, PartName(0))
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pt, _ := FindPart(dir, 0)
		want := readPart(t, pt)
		if want == nil {
			t.Fatal("clean part does not verify")
		}
		b := bytes.Clone(orig)
		i := int(pos) % len(b)
		if truncate {
			b = b[:i]
		} else {
			b[i] ^= xor
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got := readPart(t, pt)
		if got != nil && !bytes.Equal(got, want) {
			t.Fatalf("corruption at %d (xor %#x, truncate %v) read without error", i, xor, truncate)
		}
	})
}

// readPart returns the part's bytes, or nil when reading it fails.
func readPart(t *testing.T, pt *Part) []byte {
	r, err := pt.Open()
	if err != nil {
		return nil
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		if !IsVerifyError(err) {
			t.Fatalf("error is not a *VerifyError: %v", err)
		}
		return nil
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func FuzzParseManifest(f *testing.F) {
	dir := f.TempDir()
	w, _ := Create(context.Background(), dir, Options{Partitions: 2})
	w.Write([]byte("a\t1\nb\t2\n"))
	w.Close()
	good, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	f.Add(good)
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest("m", b)
		if err != nil {
			return
		}
		for i := range m.Partitions {
			if _, err := m.Partitions[i].crc(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
