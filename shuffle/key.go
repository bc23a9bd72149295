package shuffle

import (
	"bytes"
	"fmt"
)

// KeySpec says where a line's key ends. The zero value is Hadoop
// Streaming's default: the key is everything before the first TAB.
type KeySpec struct {
	// Separator is the one-byte field separator; "" means TAB.
	Separator string
	// Fields is the number of separator-delimited fields in the key
	// (stream.num.map.output.key.fields); 0 means 1.
	Fields int
}

// Sep returns the separator byte.
func (k KeySpec) Sep() byte {
	if k.Separator == "" {
		return '\t'
	}
	return k.Separator[0]
}

// N returns the number of key fields.
func (k KeySpec) N() int { return max(k.Fields, 1) }

// Validate reports a separator that is not one byte or a negative field
// count.
func (k KeySpec) Validate() error {
	if len(k.Separator) > 1 {
		return fmt.Errorf("separator must be one byte, not %q", k.Separator)
	}
	if k.Fields < 0 {
		return fmt.Errorf("invalid number of key fields %d", k.Fields)
	}
	return nil
}

// Key returns the key of line (which has no terminator): the bytes before
// the N-th separator, or the whole line when it has fewer than N.
func (k KeySpec) Key(line []byte) []byte {
	i := keyEnd(line, k.Sep(), k.N())
	return line[:i]
}

// Split splits line into key and value at the N-th separator. A line with
// fewer separators is all key: value is empty and ok is false.
func (k KeySpec) Split(line []byte) (key, value []byte, ok bool) {
	i := keyEnd(line, k.Sep(), k.N())
	if i == len(line) {
		return line, nil, false
	}
	return line[:i], line[i+1:], true
}

// keyEnd returns the index of the n-th sep in line, or len(line).
func keyEnd(line []byte, sep byte, n int) int {
	i := 0
	for {
		j := bytes.IndexByte(line[i:], sep)
		if j < 0 {
			return len(line)
		}
		i += j
		if n--; n == 0 {
			return i
		}
		i++
	}
}

// lineKey is the key of line: the bytes before its nkey-th sep, or the
// whole line when it has fewer. Small enough to inline in the partition
// loops.
func lineKey(line []byte, sep byte, nkey int) []byte {
	i := bytes.IndexByte(line, sep)
	switch {
	case i < 0:
		return line
	case nkey == 1:
		return line[:i]
	}
	return line[:keyEnd(line, sep, nkey)]
}
