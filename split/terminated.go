package split

import "io"

// Terminated returns a reader of r's bytes that ends in term: when r's
// last byte is not term (a file without a final newline), term is added
// after it. An empty r stays empty. Inputs read one after another, as
// cat reads them, stay apart: the last record of one is never glued to
// the first of the next.
func Terminated(r io.Reader, term byte) io.Reader {
	return &terminated{r: r, term: term}
}

type terminated struct {
	r       io.Reader
	term    byte
	last    byte
	seen    bool // some byte was read
	pending bool // term is still to be given
	eof     bool
}

func (t *terminated) Read(p []byte) (int, error) {
	if t.pending {
		if len(p) == 0 {
			return 0, nil
		}
		p[0], t.pending = t.term, false
		return 1, io.EOF
	}
	if t.eof {
		return 0, io.EOF
	}
	n, err := t.r.Read(p)
	if n > 0 {
		t.last, t.seen = p[n-1], true
	}
	if err != io.EOF {
		return n, err
	}
	t.eof = true
	if !t.seen || t.last == t.term {
		return n, io.EOF
	}
	if n < len(p) {
		p[n] = t.term
		return n + 1, io.EOF
	}
	t.pending = true
	return n, nil
}
