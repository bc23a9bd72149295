package shuffle

import (
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
