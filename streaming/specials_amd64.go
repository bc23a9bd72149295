package streaming

import (
	"math/bits"

	"golang.org/x/sys/cpu"
)

// specialMasksAVX2 writes to masks, for each of the blocks 32-byte blocks
// at p, a mask of the bytes that are a or b (bit k for byte k).
//
//go:noescape
func specialMasksAVX2(p *byte, blocks int, a, b byte, masks *uint32)

// useAVX2 says whether indexSpecials compares 32 bytes at a time.
var useAVX2 = cpu.X86.HasAVX2

// maskBlocks is how many 32-byte blocks indexSpecials masks at a time.
const maskBlocks = 64

// indexSpecials writes to idx the offsets from `from` of the bytes a or b
// in chunk[from:to], in order, and returns their number. idx must have
// room for to-from+specialsSlack entries, and to-from must fit in a
// uint32. With AVX2 it compares 32 bytes at a time, then reads the
// offsets off the masks as indexSpecialsSWAR does; without, it is
// indexSpecialsSWAR.
func indexSpecials(idx []uint32, chunk []byte, from, to int, a, b byte) int {
	if !useAVX2 {
		return indexSpecialsSWAR(idx, chunk, from, to, a, b)
	}
	var masks [maskBlocks]uint32
	n := 0
	i := from
	for to-i >= 32 {
		nb := min((to-i)/32, maskBlocks)
		specialMasksAVX2(&chunk[i], nb, a, b, &masks[0])
		for _, m := range masks[:nb] {
			c := bits.OnesCount32(m)
			// Four entries are written whatever c is (32 bytes of short
			// records hold about that many); only more than four loop.
			off := uint32(i - from)
			idx[n] = off + uint32(bits.TrailingZeros32(m))
			m &= m - 1
			idx[n+1] = off + uint32(bits.TrailingZeros32(m))
			m &= m - 1
			idx[n+2] = off + uint32(bits.TrailingZeros32(m))
			m &= m - 1
			idx[n+3] = off + uint32(bits.TrailingZeros32(m))
			if c > 4 {
				k := n + 4
				for m &= m - 1; m != 0; m &= m - 1 {
					idx[k] = off + uint32(bits.TrailingZeros32(m))
					k++
				}
			}
			n += c
			i += 32
		}
	}
	// The last bytes, offset from i.
	tail := indexSpecialsSWAR(idx[n:], chunk, i, to, a, b)
	for k := n; k < n+tail; k++ {
		idx[k] += uint32(i - from)
	}
	return n + tail
}
