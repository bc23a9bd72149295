//go:build !amd64

package streaming

// indexSpecials writes to idx the offsets from `from` of the bytes a or b
// in chunk[from:to], in order, and returns their number. idx must have
// room for to-from+specialsSlack entries, and to-from must fit in a
// uint32.
func indexSpecials(idx []uint32, chunk []byte, from, to int, a, b byte) int {
	return indexSpecialsSWAR(idx, chunk, from, to, a, b)
}

// useAVX2 is false: there is no AVX2 here.
const useAVX2 = false
