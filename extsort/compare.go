package extsort

import (
	"bytes"
	"encoding/binary"
)

// keyField is a Key in the form the comparison code uses: 0-based fields,
// with negative values where GNU uses SIZE_MAX (start or end of line).
type keyField struct {
	sword, schar int // start field (-1: start of line) and byte offset
	eword, echar int // end field (-1: end of line); echar 0 = end of field
	numeric      bool
	reverse      bool
	fold         bool
	skipsblanks  bool
	skipeblanks  bool
}

// prefix modes: how the 8-byte order-preserving prefix of a line is made.
const (
	pfxLine = iota // the whole line's bytes (no keys)
	pfxKey         // the first key's bytes
	pfxFold        // the first key's bytes, folded to upper case
	pfxNum         // the first key's number, encoded by numPrefix
)

// comparer orders lines (without their terminator) exactly as GNU sort does
// under LC_ALL=C, and makes the key prefixes the sort and merge compare first.
type comparer struct {
	keys       []keyField
	tab        int  // field separator byte, or -1 for blank-separated fields
	reverse    bool // global -r: applies to the last-resort comparison
	lastResort bool // compare whole lines when keys tie (neither -s nor -u)
	stable     bool // ties keep input order (keys given, and -s or -u)
	unique     bool
	pmode      int
	preverse   bool // invert the prefix (first key, or the line, reversed)
	plain      bool // the first key (or line) compares as plain bytes: deeper prefixes may be loaded
}

func newComparer(o *Options) *comparer {
	c := &comparer{tab: -1, reverse: o.Reverse, unique: o.Unique}
	if o.Separator != "" {
		c.tab = int(o.Separator[0])
	}
	global := keyField{
		sword: -1, eword: -1,
		numeric: o.Numeric, reverse: o.Reverse, fold: o.IgnoreCase,
		skipsblanks: o.IgnoreBlanks, skipeblanks: o.IgnoreBlanks,
	}
	for _, k := range o.Keys {
		f := keyField{
			sword: k.StartField - 1, schar: max(k.StartChar-1, 0),
			eword: -1, echar: 0,
			numeric: k.Numeric, reverse: k.Reverse, fold: k.IgnoreCase,
			skipsblanks: k.StartBlanks, skipeblanks: k.EndBlanks,
		}
		if f.sword == 0 && f.schar == 0 {
			f.sword = -1
		}
		if k.EndField > 0 {
			f.eword, f.echar = k.EndField-1, k.EndChar
		}
		if !k.hasOrdering() && !k.Reverse {
			f.numeric, f.fold, f.reverse = global.numeric, global.fold, global.reverse
			f.skipsblanks, f.skipeblanks = global.skipsblanks, global.skipeblanks
		}
		c.keys = append(c.keys, f)
	}
	if len(c.keys) == 0 && (o.Numeric || o.IgnoreCase || o.IgnoreBlanks) {
		c.keys = append(c.keys, global)
	}
	c.lastResort = !o.Stable && !o.Unique
	c.stable = len(c.keys) > 0 && !c.lastResort
	if len(c.keys) == 0 {
		c.pmode, c.preverse, c.plain = pfxLine, o.Reverse, true
		return c
	}
	k := &c.keys[0]
	c.preverse = k.reverse
	switch {
	case k.numeric:
		c.pmode = pfxNum
	case k.fold:
		c.pmode, c.plain = pfxFold, true
	default:
		c.pmode, c.plain = pfxKey, true
	}
	return c
}

// blanks are the bytes GNU sort treats as blank in the C locale.
func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\n' }

func isDigit(b byte) bool { return b-'0' < 10 }

func toUpper(b byte) byte {
	if b-'a' < 26 {
		return b - 'a' + 'A'
	}
	return b
}

// begfield returns where key k starts in line (GNU's begfield).
func (c *comparer) begfield(line []byte, k *keyField) int {
	ptr, lim := 0, len(line)
	sword := k.sword
	if c.tab >= 0 {
		for ptr < lim && sword > 0 {
			sword--
			if i := bytes.IndexByte(line[ptr:], byte(c.tab)); i < 0 {
				ptr = lim
			} else {
				ptr += i + 1
			}
		}
	} else {
		for ptr < lim && sword > 0 {
			sword--
			for ptr < lim && isBlank(line[ptr]) {
				ptr++
			}
			for ptr < lim && !isBlank(line[ptr]) {
				ptr++
			}
		}
	}
	if k.skipsblanks {
		for ptr < lim && isBlank(line[ptr]) {
			ptr++
		}
	}
	return min(lim, ptr+k.schar)
}

// limfield returns where key k ends in line (GNU's limfield).
func (c *comparer) limfield(line []byte, k *keyField) int {
	ptr, lim := 0, len(line)
	eword, echar := k.eword, k.echar
	if echar == 0 {
		eword++
	}
	if c.tab >= 0 {
		for ptr < lim && eword > 0 {
			eword--
			if i := bytes.IndexByte(line[ptr:], byte(c.tab)); i < 0 {
				ptr = lim
			} else {
				ptr += i
			}
			if ptr < lim && (eword > 0 || echar != 0) {
				ptr++
			}
		}
	} else {
		for ptr < lim && eword > 0 {
			eword--
			for ptr < lim && isBlank(line[ptr]) {
				ptr++
			}
			for ptr < lim && !isBlank(line[ptr]) {
				ptr++
			}
		}
	}
	if echar != 0 {
		if k.skipeblanks {
			for ptr < lim && isBlank(line[ptr]) {
				ptr++
			}
		}
		ptr = min(lim, ptr+echar)
	}
	return ptr
}

// keySpan returns the bytes of key k in line; a key that ends before it
// starts is empty.
func (c *comparer) keySpan(line []byte, k *keyField) []byte {
	lim := len(line)
	if k.eword >= 0 {
		lim = c.limfield(line, k)
	}
	beg := 0
	if k.sword >= 0 {
		beg = c.begfield(line, k)
	} else if k.skipsblanks {
		for beg < lim && isBlank(line[beg]) {
			beg++
		}
	}
	if lim < beg {
		lim = beg
	}
	return line[beg:lim]
}

// compare orders two lines: by the keys, then, unless -s or -u, by all
// their bytes (reversed by the global -r).
func (c *comparer) compare(a, b []byte) int {
	if len(c.keys) > 0 {
		if d := c.keycompare(a, b); d != 0 || !c.lastResort {
			return d
		}
	}
	d := bytes.Compare(a, b)
	if c.reverse {
		return -d
	}
	return d
}

func (c *comparer) keycompare(a, b []byte) int {
	for i := range c.keys {
		k := &c.keys[i]
		ka, kb := c.keySpan(a, k), c.keySpan(b, k)
		var d int
		switch {
		case k.numeric:
			d = numCompare(ka, kb)
		case k.fold:
			d = foldCompare(ka, kb)
		default:
			d = bytes.Compare(ka, kb)
		}
		if d != 0 {
			if k.reverse {
				return -d
			}
			return d
		}
	}
	return 0
}

func foldCompare(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if x, y := toUpper(a[i]), toUpper(b[i]); x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

// number is a parsed -n key: sign, integer digits without leading zeros,
// fraction digits without trailing zeros. Anything that is not a number has
// the value zero, and so has "-0".
type number struct {
	neg bool
	// int holds the integer digits, with any thousands separators that
	// follow them; nint counts the digits alone.
	int, frac []byte
	nint      int
}

// thousandsSep is the byte GNU sort takes for a thousands separator in the
// C locale. The locale defines none, and sort stands in CHAR_MAX+1, which
// on machines with a signed char is 0x80 and so matches that byte.
const thousandsSep = 0x80

// parseNumber reads the number at the start of key after blanks, by GNU
// sort's -n rules in the C locale: an optional '-', digits, an optional '.'
// and digits; no '+', no exponent. Byte 0x80 is skipped among leading zeros
// and after integer digits, as GNU's thousands separator.
func parseNumber(k []byte) number {
	i := 0
	for i < len(k) && isBlank(k[i]) {
		i++
	}
	var n number
	if i < len(k) && k[i] == '-' {
		n.neg = true
		i++
	}
	for i < len(k) && (k[i] == '0' || k[i] == thousandsSep) {
		i++
	}
	s := i
	for i < len(k) && isDigit(k[i]) {
		i++
		n.nint++
		for i < len(k) && k[i] == thousandsSep {
			i++
		}
	}
	n.int = k[s:i]
	if i < len(k) && k[i] == '.' {
		i++
		s = i
		for i < len(k) && isDigit(k[i]) {
			i++
		}
		e := i
		for e > s && k[e-1] == '0' {
			e--
		}
		n.frac = k[s:e]
	}
	if n.nint == 0 && len(n.frac) == 0 {
		n.neg = false
	}
	return n
}

// numCompare compares the numbers at the start of a and b as GNU sort -n.
func numCompare(a, b []byte) int {
	x, y := parseNumber(a), parseNumber(b)
	if x.neg != y.neg {
		if x.neg {
			return -1
		}
		return 1
	}
	d := x.nint - y.nint
	if d == 0 {
		if len(x.int) == x.nint && len(y.int) == y.nint {
			d = bytes.Compare(x.int, y.int)
		} else {
			d = digitCompare(x.int, y.int)
		}
	}
	if d == 0 {
		d = bytes.Compare(x.frac, y.frac)
	}
	if x.neg {
		return -d
	}
	return d
}

// digitCompare compares two digit strings of the same digit count, skipping
// thousands separators.
func digitCompare(a, b []byte) int {
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == thousandsSep {
			i++
		}
		for j < len(b) && b[j] == thousandsSep {
			j++
		}
		if i == len(a) || j == len(b) {
			return 0
		}
		if a[i] != b[j] {
			return int(a[i]) - int(b[j])
		}
		i++
		j++
	}
}

// numPrefix encodes the number at the start of k in 64 bits so that a
// smaller number never gets a larger prefix: 2 bits of sign class
// (negative, zero, positive), 14 bits of integer digit count, then the first
// 12 significant digits as nibbles; negative magnitudes are inverted.
// Numbers whose prefixes are equal are told apart by numCompare.
func numPrefix(k []byte) uint64 {
	n := parseNumber(k)
	if n.nint == 0 && len(n.frac) == 0 {
		return 2 << 62
	}
	var v uint64
	if l := n.nint; l >= 1<<14-1 {
		v = (1<<14 - 1) << 48 // too many digits: leave the rest to numCompare
	} else {
		v = uint64(l) << 48
		shift := 44
		for _, d := range [2][]byte{n.int, n.frac} {
			for _, c := range d {
				if shift < 0 {
					break
				}
				if c == thousandsSep {
					continue
				}
				v |= uint64(c-'0') << shift
				shift -= 4
			}
		}
	}
	if n.neg {
		return 1<<62 | (^v & (1<<62 - 1))
	}
	return 3<<62 | v
}

// load8 returns the first 8 bytes of b as a big-endian number, padded with
// zero bytes.
func load8(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var v uint64
	for i, c := range b {
		v |= uint64(c) << (56 - 8*i)
	}
	return v
}

func load8Fold(b []byte) uint64 {
	var v uint64
	for i := 0; i < 8 && i < len(b); i++ {
		v |= uint64(toUpper(b[i])) << (56 - 8*i)
	}
	return v
}

// prefix returns line's 8-byte order-preserving prefix: if
// prefix(a) < prefix(b) then a sorts before b.
func (c *comparer) prefix(line []byte) uint64 {
	var v uint64
	switch c.pmode {
	case pfxLine:
		v = load8(line)
	case pfxKey:
		v = load8(c.keySpan(line, &c.keys[0]))
	case pfxFold:
		v = load8Fold(c.keySpan(line, &c.keys[0]))
	default:
		v = numPrefix(c.keySpan(line, &c.keys[0]))
	}
	if c.preverse {
		v = ^v
	}
	return v
}

// deepPrefix returns the prefix of the plain first key (or line) from its
// byte depth on, and whether the key has bytes beyond depth+8.
func (c *comparer) deepPrefix(line []byte, depth int) (uint64, bool) {
	k := line
	if c.pmode != pfxLine {
		k = c.keySpan(line, &c.keys[0])
	}
	var v uint64
	if depth < len(k) {
		if c.pmode == pfxFold {
			v = load8Fold(k[depth:])
		} else {
			v = load8(k[depth:])
		}
	}
	if c.preverse {
		v = ^v
	}
	return v, len(k) > depth+8
}
