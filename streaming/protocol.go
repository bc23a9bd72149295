package streaming

import (
	"errors"
	"fmt"

	"github.com/mrpipe/mrpipe/shuffle"
)

// Protocol says how records are cut into key and value: the record
// terminator and the key spec (separator and number of key fields), which
// is shuffle's, so that every stage agrees on what a key is. The zero
// value is Hadoop's default: newline-terminated records, TAB separator,
// key = first field.
type Protocol struct {
	Key shuffle.KeySpec
	// ZeroTerminated makes NUL the record terminator (-z).
	ZeroTerminated bool
}

// Terminator returns the record terminator byte.
func (p *Protocol) Terminator() byte {
	if p.ZeroTerminated {
		return 0
	}
	return '\n'
}

// Separator returns the key/value separator as a slice.
func (p *Protocol) Separator() []byte {
	return []byte{p.Key.Sep()}
}

// Validate checks the protocol's settings.
func (p *Protocol) Validate() error {
	if err := p.Key.Validate(); err != nil {
		return err
	}
	if p.Key.Sep() == p.Terminator() {
		return errors.New("the field separator is the record terminator")
	}
	return nil
}

// Split cuts a record (without its terminator) into key and value at the
// key spec's N-th separator. A record with fewer separators is all key,
// with an empty value and ok false. Key and value alias line.
func (p *Protocol) Split(line []byte) (key, value []byte, ok bool) {
	return p.Key.Split(line)
}

// ParseSeparator interprets a -t argument: one byte, or one of the
// escapes \t, \0, \\.
func ParseSeparator(s string) (string, error) {
	switch s {
	case "":
		return "", errors.New("empty separator")
	case `\t`:
		return "\t", nil
	case `\0`:
		return "\x00", nil
	case `\\`:
		return `\`, nil
	}
	if len(s) > 1 {
		return "", fmt.Errorf("separator must be one byte, not %q", s)
	}
	return s, nil
}
