package shuffle

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

func naiveTextHash(key []byte) int32 {
	h := int32(1)
	for _, c := range key {
		h = 31*h + int32(int8(c))
	}
	return h
}

func TestTextHashUnrolled(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 20000; i++ {
		key := make([]byte, r.IntN(40))
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		if got, want := TextHash(key), naiveTextHash(key); got != want {
			t.Fatalf("TextHash(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestPrefixHash checks prefixHash against the plain loop for every key
// length in a buffer, including keys whose last bytes are too near the
// buffer's end to read 8 at a time.
func TestPrefixHash(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(r.Uint32()) // high bytes too: they are signed in Java
	}
	for end := 0; end <= len(b); end++ {
		for n := 0; n <= end; n++ {
			if got, want := prefixHash(b[:end], n), naiveTextHash(b[:n]); got != want {
				t.Fatalf("prefixHash(%d bytes, %d) = %d, want %d", end, n, got, want)
			}
		}
	}
}

func FuzzPrefixHash(f *testing.F) {
	f.Add([]byte("key\tvalue\n"), 3)
	f.Add([]byte("\xff\x80abcdefghijklmnop"), 17)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > len(b) {
			return
		}
		if got, want := prefixHash(b, n), naiveTextHash(b[:n]); got != want {
			t.Fatalf("prefixHash(%q, %d) = %d, want %d", b, n, got, want)
		}
	})
}

// BenchmarkLineKeyHash is the partitioning of key/value lines: find the
// line and its key, hash the key (as Writer's unsorted loop does).
func BenchmarkLineKeyHash(b *testing.B) {
	data := benchKV(16 << 20)
	mod := newFastMod(8)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var n [8]int
		for d := data; len(d) > 0; {
			e := bytes.IndexByte(d, '\n')
			k := lineKey(d[:e], '\t', 1)
			n[mod.mod(uint32(prefixHash(d, len(k)))&0x7fffffff)]++
			d = d[e+1:]
		}
		if n[0]+n[7] == 0 {
			b.Fatal("no keys")
		}
	}
}

func TestFastMod(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	ds := []int{1, 2, 3, 7, 8, 10, 1000, MaxPartitions - 1, MaxPartitions}
	for i := 0; i < 100; i++ {
		ds = append(ds, 1+r.IntN(MaxPartitions))
	}
	for _, d := range ds {
		f := newFastMod(d)
		for _, a := range []uint32{0, 1, uint32(d - 1), uint32(d), math.MaxInt32, math.MaxUint32} {
			if got, want := f.mod(a), int(a%uint32(d)); got != want {
				t.Fatalf("%d %% %d = %d, want %d", a, d, got, want)
			}
		}
		for j := 0; j < 1000; j++ {
			a := r.Uint32()
			if got, want := f.mod(a), int(a%uint32(d)); got != want {
				t.Fatalf("%d %% %d = %d, want %d", a, d, got, want)
			}
		}
	}
}
