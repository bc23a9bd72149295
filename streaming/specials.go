package streaming

import (
	"encoding/binary"
	"math/bits"
)

// The pre-combiner's records are short (a URL and a count is typical).
// Finding each one's separator and terminator with a search per byte
// sought, or with a loop that stops at the first of them, costs a call or
// a mispredicted loop exit per record, more than the search itself. So
// indexSpecials finds every separator and terminator of a stretch of
// records at once, 32 bytes at a time with AVX2 and eight at a time
// without, with no branch that depends on where they fall; the records
// are then read off its list.

const (
	swarLo = 0x0101010101010101
	swar7f = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes returns the high bit of every byte of x that is zero, and
// only those (borrows cannot spoil it, as they can with the cheaper
// (x-swarLo)&^x test).
func zeroBytes(x uint64) uint64 {
	return ^(((x & swar7f) + swar7f) | x | swar7f)
}

// specialsSlack is how many entries past the ones it reports
// indexSpecials may write.
const specialsSlack = 4

// indexSpecialsSWAR is indexSpecials eight bytes at a time, in plain Go.
func indexSpecialsSWAR(idx []uint32, chunk []byte, from, to int, a, b byte) int {
	ma, mb := swarLo*uint64(a), swarLo*uint64(b)
	n := 0
	i := from
	for ; i+8 <= to; i += 8 {
		w := binary.LittleEndian.Uint64(chunk[i:])
		m := zeroBytes(w^ma) | zeroBytes(w^mb)
		c := bits.OnesCount64(m)
		// Two entries are written whatever c is (a word of short
		// records holds up to two); only more than two loop.
		off := uint32(i - from)
		idx[n] = off + uint32(bits.TrailingZeros64(m)>>3)
		m &= m - 1
		idx[n+1] = off + uint32(bits.TrailingZeros64(m)>>3)
		if c > 2 {
			k := n + 2
			for m &= m - 1; m != 0; m &= m - 1 {
				idx[k] = off + uint32(bits.TrailingZeros64(m)>>3)
				k++
			}
		}
		n += c
	}
	for ; i < to; i++ {
		if c := chunk[i]; c == a || c == b {
			idx[n] = uint32(i - from)
			n++
		}
	}
	return n
}

// parseDigits parses v when it is 1 to 18 decimal digits and nothing
// else (a count, most often "1"); ok is false otherwise.
func parseDigits(v []byte) (n int64, ok bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	for _, c := range v {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}
