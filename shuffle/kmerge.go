package shuffle

import (
	"bytes"
	"context"
	"io"

	"github.com/mrpipe/mrpipe/extsort"
)

// kmerge is the k-way merge of sorted parts by key bytes (the key of a
// line is the bytes before its N-th separator), stable in the order of
// the inputs. It reads each input into one large buffer and copies runs
// of consecutive lines that come from the same input with one copy each:
// per line it finds the terminator and the key and compares the key with
// that of the input next in line; per run it does a heap step.
type kmerge struct {
	sep, term byte
	nkey      int
	out       []byte
	w         io.Writer
	records   int64
	bytes     int64
}

// mcursor is one input of a kmerge: buf[pos:lim] are complete lines,
// buf[lim:end] the start of the next one; the current line is
// buf[pos:le] (le is its terminator) with key buf[pos:pos+klen].
type mcursor struct {
	idx  int
	r    io.Reader
	buf  []byte
	pos  int
	le   int
	lim  int
	end  int
	klen int
	eof  bool
}

func (c *mcursor) key() []byte { return c.buf[c.pos : c.pos+c.klen] }

// before reports whether a's current line goes before b's: smaller key,
// or the same key from an earlier input.
func before(a, b *mcursor) bool {
	if d := bytes.Compare(a.key(), b.key()); d != 0 {
		return d < 0
	}
	return a.idx < b.idx
}

// fill reads until buf holds a complete line after pos, or the input
// ends. It reports false at the end of the input.
func (m *kmerge) fill(ctx context.Context, c *mcursor) (bool, error) {
	if c.pos > 0 {
		n := copy(c.buf, c.buf[c.pos:c.end])
		c.pos, c.end = 0, n
	}
	scan := c.end
	for {
		if i := bytes.IndexByte(c.buf[scan:c.end], m.term); i >= 0 {
			c.lim = scan + i + 1
			if j := bytes.LastIndexByte(c.buf[c.lim:c.end], m.term); j >= 0 {
				c.lim += j + 1
			}
			return true, nil
		}
		scan = c.end
		if c.eof {
			if c.end > 0 {
				// A last line without terminator gets one.
				if c.end == len(c.buf) {
					c.buf = append(c.buf, m.term)
				} else {
					c.buf[c.end] = m.term
				}
				c.end++
				continue
			}
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if c.end == len(c.buf) {
			nb := append(c.buf, 0) // a long line: grow
			c.buf = nb[:cap(nb)]
		}
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			return false, err
		}
	}
}

// line sets up the current line at pos, which is below lim.
func (m *kmerge) line(c *mcursor) {
	l := c.buf[c.pos:c.lim]
	e := bytes.IndexByte(l, m.term)
	c.le = c.pos + e
	l = l[:e]
	if m.nkey == 1 {
		if k := bytes.IndexByte(l, m.sep); k >= 0 {
			c.klen = k
			return
		}
		c.klen = e
		return
	}
	c.klen = keyEnd(l, m.sep, m.nkey)
}

func (m *kmerge) emit(b []byte, records int64) error {
	m.records += records
	m.bytes += int64(len(b))
	if len(m.out)+len(b) > cap(m.out) {
		if err := m.flush(); err != nil {
			return err
		}
		if len(b) >= cap(m.out) {
			if _, err := m.w.Write(b); err != nil {
				return &extsort.OutputError{Err: err}
			}
			return nil
		}
	}
	m.out = append(m.out, b...)
	return nil
}

func (m *kmerge) flush() error {
	if len(m.out) == 0 {
		return nil
	}
	_, err := m.w.Write(m.out)
	m.out = m.out[:0]
	if err != nil {
		return &extsort.OutputError{Err: err}
	}
	return nil
}

// run merges the inputs to w.
func (m *kmerge) run(ctx context.Context, inputs []io.Reader) error {
	bufSize := min(1<<20, max(64<<10, (64<<20)/max(len(inputs), 1)))
	m.out = make([]byte, 0, 1<<20)
	h := make([]*mcursor, 0, len(inputs))
	for i, r := range inputs {
		c := &mcursor{idx: i, r: r, buf: make([]byte, bufSize)}
		ok, err := m.fill(ctx, c)
		if err != nil {
			return err
		}
		if ok {
			m.line(c)
			h = append(h, c)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
	for len(h) > 0 {
		c := h[0]
		// The runner-up: the smaller of the root's children.
		var r *mcursor
		if len(h) > 1 {
			r = h[1]
			if len(h) > 2 && before(h[2], r) {
				r = h[2]
			}
		}
		more, err := m.copyRun(ctx, c, r)
		if err != nil {
			return err
		}
		if !more {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		if len(h) > 1 {
			down(h, 0)
		}
	}
	return m.flush()
}

// copyRun copies c's lines while they go before r's current line (all of
// them when r is nil); false when c has ended.
func (m *kmerge) copyRun(ctx context.Context, c, r *mcursor) (bool, error) {
	for {
		start := c.pos
		var recs int64
		for {
			recs++
			c.pos = c.le + 1
			if c.pos == c.lim {
				break
			}
			m.line(c)
			if r != nil && !before(c, r) {
				return true, m.emit(c.buf[start:c.pos], recs)
			}
		}
		// The buffer's complete lines are all out.
		if err := m.emit(c.buf[start:c.pos], recs); err != nil {
			return false, err
		}
		ok, err := m.fill(ctx, c)
		if !ok || err != nil {
			return false, err
		}
		m.line(c)
		if r != nil && !before(c, r) {
			return true, nil
		}
	}
}

func down(h []*mcursor, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && before(h[r], h[l]) {
			j = r
		}
		if !before(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
