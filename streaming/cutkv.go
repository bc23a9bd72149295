package streaming

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The pre-combiner's records are short (a URL and a count is typical),
// where a bytes.IndexByte call for each byte sought costs more than the
// search itself. cutKV finds a record's key, value and end in one pass,
// eight bytes at a time.

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// cutKV splits off the first record of chunk: the bytes before its first
// term (all of chunk when there is none), cut at their first sep. It
// returns the record's key (the whole record when it has no sep), its
// value (nil then) and the rest of chunk after the terminator. It is
// KeySpec.Split for one key field, fused with finding the record's end.
func cutKV(chunk []byte, sep, term byte) (key, val, rest []byte) {
	i := indexEither(chunk, sep, term)
	switch {
	case i < 0:
		return chunk, nil, nil
	case chunk[i] == term:
		return chunk[:i], nil, chunk[i+1:]
	}
	key, chunk = chunk[:i], chunk[i+1:]
	// The value is usually a few digits: look at them one by one first.
	for j := 0; j < len(chunk) && j < 16; j++ {
		if chunk[j] == term {
			return key, chunk[:j], chunk[j+1:]
		}
	}
	j := bytes.IndexByte(chunk, term)
	if j < 0 {
		return key, chunk, nil
	}
	return key, chunk[:j], chunk[j+1:]
}

// indexEither returns the index of the first a or b in s, or -1.
func indexEither(s []byte, a, b byte) int {
	ma, mb := swarLo*uint64(a), swarLo*uint64(b)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		xa, xb := w^ma, w^mb
		// A byte of xa or xb is zero where w holds a or b; the lowest
		// flagged byte is exact (borrows only spoil the bytes above it).
		if z := ((xa-swarLo)&^xa | (xb-swarLo)&^xb) & swarHi; z != 0 {
			return i + bits.TrailingZeros64(z)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == a || c == b {
			return i
		}
	}
	return -1
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
