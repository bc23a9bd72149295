package shuffle

import (
	"bytes"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/mrpipe/mrpipe/extsort"
)

// ReadRanges reads a ranges file: split keys, one per line (terminated by
// term), as [WriteRanges] writes them.
func ReadRanges(path string, term byte) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[len(b)-1] == term {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil, nil
	}
	return bytes.Split(b, []byte{term}), nil
}

// WriteRanges writes split keys to path, one per line, through a
// temporary file and a rename.
func WriteRanges(path string, splits [][]byte, term byte) error {
	var b []byte
	for _, s := range splits {
		b = append(append(b, s...), term)
	}
	// As sort -o writes: complete or not at all, through a link, and in
	// place for /dev/stdout and the like.
	out, err := extsort.CreateOutput(path)
	if err != nil {
		return err
	}
	if _, err := out.Write(b); err != nil {
		out.Abort()
		return err
	}
	return out.Commit()
}

// Sampler keeps a uniform random sample of at most Max keys (reservoir
// sampling with a fixed seed, so the same input gives the same sample).
type Sampler struct {
	max  int
	keys [][]byte
	seen int64
	rng  *rand.Rand
}

// NewSampler returns a Sampler of at most max keys.
func NewSampler(max int) *Sampler {
	return &Sampler{max: max, rng: rand.New(rand.NewPCG(0x6d72706970650a, 4))}
}

// Add offers a key to the sample; it copies the key if it keeps it.
func (s *Sampler) Add(key []byte) {
	s.seen++
	if len(s.keys) < s.max {
		s.keys = append(s.keys, bytes.Clone(key))
		return
	}
	if j := s.rng.Int64N(s.seen); j < int64(s.max) {
		s.keys[j] = append(s.keys[j][:0], key...)
	}
}

// Seen returns the number of keys offered.
func (s *Sampler) Seen() int64 { return s.seen }

// Splits returns up to n-1 strictly increasing split keys under cmp (nil:
// unsigned bytes) that cut the sample into n parts of about equal size.
// Fewer come back when the sample has fewer distinct keys.
func (s *Sampler) Splits(n int, cmp func(a, b []byte) int) [][]byte {
	if cmp == nil {
		cmp = bytes.Compare
	}
	keys := slices.Clone(s.keys)
	slices.SortStableFunc(keys, cmp)
	var out [][]byte
	for i := 1; i < n && len(keys) > 0; i++ {
		j := i * len(keys) / n
		// A split must be above the last one, and above the smallest key
		// (or partition 0 would be empty).
		low := keys[0]
		if len(out) > 0 {
			low = out[len(out)-1]
		}
		for j < len(keys) && cmp(keys[j], low) <= 0 {
			j++
		}
		if j >= len(keys) {
			break
		}
		out = append(out, keys[j])
	}
	return out
}
