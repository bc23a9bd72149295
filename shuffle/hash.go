package shuffle

import (
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// TextHash is Hadoop's Text.hashCode (WritableComparator.hashBytes): 1,
// then h = 31*h + b for each byte b as a signed Java byte, with 32-bit
// wraparound.
func TextHash(key []byte) int32 {
	// Eight bytes at a time: h*31^8 + b0*31^7 + ... + b7 is the same sum
	// modulo 2^32, with shorter dependency chains.
	const (
		p1 = 31
		p2 = p1 * 31
		p3 = p2 * 31
		p4 = p3 * 31
		p5 = p4 * 31
		p6 = p5 * 31
		p7 = p6 * 31 & 0xffffffff
		p8 = p7 * 31 & 0xffffffff
	)
	h := uint32(1)
	for len(key) >= 8 {
		k := key[:8:8]
		h = h*p8 +
			uint32(int8(k[0]))*p7 + uint32(int8(k[1]))*p6 +
			uint32(int8(k[2]))*p5 + uint32(int8(k[3]))*p4 +
			uint32(int8(k[4]))*p3 + uint32(int8(k[5]))*p2 +
			uint32(int8(k[6]))*p1 + uint32(int8(k[7]))
		key = key[8:]
	}
	for _, c := range key {
		h = 31*h + uint32(int8(c))
	}
	return int32(h)
}

// tailMul[r][i] is 31^(r-1-i) for i < r and 0 from r on; tailPow[r] is
// 31^r: the weights of the last r < 8 bytes of a key.
var tailMul, tailPow = func() (m [8][8]uint32, p [8]uint32) {
	for r := range 8 {
		w := uint32(1)
		for i := r - 1; i >= 0; i-- {
			m[r][i] = w
			w *= 31
		}
		p[r] = w
	}
	return m, p
}()

// prefixHash is TextHash(b[:n]). When b holds 8 bytes past the key's last
// whole 8 bytes (a line's key is followed by the rest of its line), it
// weighs the last n%8 bytes without a loop: keys of varied lengths then
// cost no mispredicted branches, a fifth of mrpart's partitioning.
func prefixHash(b []byte, n int) int32 {
	full := n &^ 7
	if len(b) < full+8 {
		return TextHash(b[:n])
	}
	h := uint32(TextHash(b[:full]))
	r := n & 7
	m, k := &tailMul[r], b[full:full+8:full+8]
	h = h*tailPow[r] +
		uint32(int8(k[0]))*m[0] + uint32(int8(k[1]))*m[1] +
		uint32(int8(k[2]))*m[2] + uint32(int8(k[3]))*m[3] +
		uint32(int8(k[4]))*m[4] + uint32(int8(k[5]))*m[5] +
		uint32(int8(k[6]))*m[6]
	return int32(h)
}

// fastMod computes a % d for 32-bit a and a fixed d > 0 without a
// division (Lemire, Kaser and Kurz, "Faster remainder by direct
// computation", 2019).
// A power of two d is a mask.
type fastMod struct {
	m    uint64
	d    uint64
	mask uint32
	pow2 bool
}

func newFastMod(d int) fastMod {
	return fastMod{m: ^uint64(0)/uint64(d) + 1, d: uint64(d), mask: uint32(d - 1), pow2: d&(d-1) == 0}
}

func (f fastMod) mod(a uint32) int {
	if f.pow2 {
		return int(a & f.mask)
	}
	hi, _ := bits.Mul64(f.m*uint64(a), f.d)
	return int(hi)
}

// StringHash is Java's String.hashCode of the key decoded from UTF-8 as
// Text.toString decodes it (malformed sequences become U+FFFD): 0, then
// h = 31*h + c over the UTF-16 code units.
func StringHash(key []byte) int32 {
	h := int32(0)
	for i := 0; i < len(key); {
		if c := key[i]; c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, n := decodeJava(key[i:])
		i += n
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + int32(r1)
			h = 31*h + int32(r2)
		} else {
			h = 31*h + int32(r)
		}
	}
	return h
}

// decodeJava decodes one character as Java's UTF-8 decoder does with
// REPLACE: a malformed sequence becomes one U+FFFD covering its maximal
// valid prefix (at least one byte), as the Unicode standard recommends.
func decodeJava(b []byte) (rune, int) {
	r, n := utf8.DecodeRune(b)
	if r != utf8.RuneError || n > 1 {
		return r, n
	}
	return utf8.RuneError, maximalSubpart(b)
}

// maximalSubpart returns the length of the longest prefix of b that starts
// a well-formed UTF-8 sequence but does not complete one (at least 1).
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
		need = 2
	case c == 0xed:
		need, hi = 2, 0x9f
	case c == 0xf0:
		need, lo = 3, 0x90
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		need, hi = 3, 0x8f
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return i
}

// javaUTF8 appends key re-encoded as Java's new String(bytes, UTF_8)
// .getBytes(UTF_8) would: identical for valid UTF-8, with every malformed
// sequence replaced by EF BF BD.
func javaUTF8(dst, key []byte) []byte {
	for i := 0; i < len(key); {
		if c := key[i]; c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := decodeJava(key[i:])
		if r == utf8.RuneError && n >= 1 && !(n == 3 && key[i] == 0xef && key[i+1] == 0xbf && key[i+2] == 0xbd) {
			dst = append(dst, 0xef, 0xbf, 0xbd)
		} else {
			dst = append(dst, key[i:i+n]...)
		}
		i += n
	}
	return dst
}
