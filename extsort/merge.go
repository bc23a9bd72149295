package extsort

import (
	"context"
	"unsafe"

	"github.com/mrpipe/mrpipe/extsort/prefetch"
)

// cursor is one sorted source of a merge: its current line and prefix, and
// the block they come from. A nil reader means the block is the whole source
// (an arena sorted in memory).
type cursor struct {
	pfx  uint64
	line []byte
	done bool
	blk  *block
	i    int
	br   *blockReader
	// A cursor over a key range of its source (bounded) skips lines
	// before lo and ends at the first line not before hi; nil bounds are
	// open.
	bounded      bool
	cmp          *comparer
	lo, hi       []byte
	loPfx, hiPfx uint64
}

// lookAhead is how many records ahead an in-memory cursor prefetches its
// text, so that the cache misses of a scattered arena overlap instead of
// stalling the merge one at a time.
const lookAhead = 12

func memCursor(a *arena) cursor {
	c := cursor{blk: &block{text: a.text, recs: a.recs}, i: -1}
	return c
}

func readerCursor(br *blockReader) cursor { return cursor{br: br, i: -1} }

// bound makes c a cursor over the lines of its source from lo (included)
// to hi (excluded).
func (c *cursor) bound(cmp *comparer, lo, hi []byte) {
	c.bounded, c.cmp, c.lo, c.hi = true, cmp, lo, hi
	if lo != nil {
		c.loPfx = cmp.prefix(lo)
	}
	if hi != nil {
		c.hiPfx = cmp.prefix(hi)
	}
}

// advance moves c to its next line, fetching the next block when needed.
func (c *cursor) advance() error {
	if err := c.step(); err != nil || !c.bounded {
		return err
	}
	// Prefixes decide most bound checks: prefix(a) < prefix(b) means a
	// sorts before b.
	for c.lo != nil && !c.done {
		if c.pfx > c.loPfx || c.pfx == c.loPfx && c.cmp.compare(c.line, c.lo) >= 0 {
			c.lo = nil
			break
		}
		if err := c.step(); err != nil {
			return err
		}
	}
	if c.hi != nil && !c.done && c.pfx >= c.hiPfx && (c.pfx > c.hiPfx || c.cmp.compare(c.line, c.hi) >= 0) {
		c.done, c.line = true, nil
	}
	return nil
}

// step moves c to its next line.
func (c *cursor) step() error {
	c.i++
	if c.blk != nil && c.i < len(c.blk.recs) {
		r := &c.blk.recs[c.i]
		c.pfx, c.line = r.pfx, c.blk.text[r.off:r.off+r.n]
		if c.br == nil && c.i+lookAhead < len(c.blk.recs) {
			if off := c.blk.recs[c.i+lookAhead].off; int(off) < len(c.blk.text) {
				prefetch.Line(unsafe.Pointer(&c.blk.text[off]))
			}
		}
		return nil
	}
	if c.br == nil {
		c.done, c.line = true, nil
		return nil
	}
	if c.blk != nil {
		c.br.free <- c.blk
	}
	b, ok := <-c.br.full
	if !ok {
		c.blk, c.done, c.line = nil, true, nil
		return c.br.err
	}
	c.blk, c.i = b, 0
	r := &b.recs[0]
	c.pfx, c.line = r.pfx, b.text[r.off:r.off+r.n]
	return nil
}

func (c *cursor) close() {
	if c.br != nil {
		c.br.close()
	}
}

// merger is a loser tree over cursors: each step replays one leaf-to-root
// path, about log2(k) comparisons, most of them on cached prefixes. Equal
// lines come out in cursor order, so merging runs in input order is stable.
type merger struct {
	c    *comparer
	cur  []cursor
	tree []int32 // tree[0] is the winner, tree[1:] the losers of internal nodes
}

// less reports whether cursor a's line goes before cursor b's.
func (m *merger) less(a, b int32) bool {
	x, y := &m.cur[a], &m.cur[b]
	if x.done || y.done {
		return !x.done && y.done || (x.done && y.done && a < b)
	}
	if x.pfx != y.pfx {
		return x.pfx < y.pfx
	}
	if m.c.pmode == pfxLine && len(x.line) <= 8 && len(y.line) <= 8 {
		// The prefixes hold both lines whole, padded with zero bytes.
		if len(x.line) != len(y.line) {
			return (len(x.line) < len(y.line)) != m.c.preverse
		}
		return a < b
	}
	if d := m.c.compare(x.line, y.line); d != 0 {
		return d < 0
	}
	return a < b
}

func (m *merger) init() error {
	k := len(m.cur)
	for i := range m.cur {
		if err := m.cur[i].advance(); err != nil {
			return err
		}
	}
	m.tree = make([]int32, max(k, 1))
	win := make([]int32, 2*k)
	for i := 0; i < k; i++ {
		win[k+i] = int32(i)
	}
	for n := k - 1; n >= 1; n-- {
		l, r := win[2*n], win[2*n+1]
		if m.less(l, r) {
			win[n], m.tree[n] = l, r
		} else {
			win[n], m.tree[n] = r, l
		}
	}
	if k == 1 {
		m.tree[0] = 0
	} else {
		m.tree[0] = win[1]
	}
	return nil
}

func (m *merger) replay(w int32) {
	k := len(m.cur)
	for n := (int(w) + k) >> 1; n >= 1; n >>= 1 {
		if t := m.tree[n]; m.less(t, w) {
			m.tree[n], w = w, t
		}
	}
	m.tree[0] = w
}

// mergeTo merges the cursors into out, dropping lines equal to the one
// before when -u is in effect, and returns how many it dropped. It closes
// every cursor.
func mergeTo(ctx context.Context, c *comparer, cur []cursor, out *lineWriter) (dropped int64, err error) {
	defer func() {
		for i := range cur {
			cur[i].close()
		}
	}()
	m := &merger{c: c, cur: cur}
	if err := m.init(); err != nil {
		return 0, err
	}
	if len(cur) == 0 {
		return 0, nil
	}
	var prev []byte
	havePrev := false
	for n := 0; ; n++ {
		w := m.tree[0]
		x := &m.cur[w]
		if x.done {
			return dropped, nil
		}
		if c.unique {
			if havePrev && c.compare(prev, x.line) == 0 {
				dropped++
			} else {
				prev = append(prev[:0], x.line...)
				havePrev = true
				out.line(x.line)
			}
		} else {
			out.line(x.line)
		}
		if err := x.advance(); err != nil {
			return dropped, err
		}
		m.replay(w)
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return dropped, err
			}
			if err := out.failed(); err != nil {
				return dropped, err
			}
		}
	}
}

// lineWriter gathers lines into large buffers and writes them from a
// goroutine of its own, so that writing (and compressing) overlaps merging.
type lineWriter struct {
	term  byte
	size  int // of a buffer
	spare int // buffers made besides the first
	cur   []byte
	free  chan []byte
	work  chan []byte
	done  chan struct{}
	write func([]byte) error
	err   error // the writer goroutine's first error; read after done, or via failed

	errc chan error

	records, bytes int64
}

const (
	outBuf  = 256 << 10
	outBufs = 3
)

func newLineWriter(write func([]byte) error, term byte) *lineWriter {
	return newLineWriterSize(write, term, outBuf)
}

// newLineWriterSize makes a lineWriter whose writes are about size bytes.
// Its buffers are made as they are needed, the first one growing to size:
// a sort of a few lines (a map task's output, often) should not allocate
// and zero three quarters of a megabyte.
func newLineWriterSize(write func([]byte) error, term byte, size int) *lineWriter {
	w := &lineWriter{
		term: term, write: write, size: size,
		free: make(chan []byte, outBufs), work: make(chan []byte, outBufs),
		done: make(chan struct{}), errc: make(chan error, 1),
	}
	go func() {
		defer close(w.done)
		var first error
		for b := range w.work {
			if first == nil {
				if err := w.write(b); err != nil {
					first = err
					w.errc <- err
				}
			}
			// A buffer made for one long line, or the first one while
			// it was smaller than size, is let go.
			if size <= cap(b) && cap(b) <= 2*size {
				select {
				case w.free <- b[:0]:
				default:
				}
			}
		}
		w.err = first
	}()
	return w
}

// line appends line and the terminator.
func (w *lineWriter) line(line []byte) {
	w.records++
	w.bytes += int64(len(line)) + 1
	if need := len(w.cur) + len(line) + 1; need > cap(w.cur) {
		if need <= w.size {
			// The first buffer grows, up to size.
			nb := make([]byte, len(w.cur), min(w.size, max(2*cap(w.cur), need, 4<<10)))
			copy(nb, w.cur)
			w.cur = nb
		} else {
			w.flush()
			if len(line)+1 > cap(w.cur) {
				big := make([]byte, 0, len(line)+1)
				big = append(append(big, line...), w.term)
				w.work <- big
				return
			}
		}
	}
	w.cur = append(append(w.cur, line...), w.term)
}

func (w *lineWriter) flush() {
	if len(w.cur) == 0 {
		return
	}
	w.work <- w.cur
	select {
	case w.cur = <-w.free:
		return
	default:
	}
	if w.spare < outBufs-1 {
		w.spare++
		w.cur = make([]byte, 0, w.size)
		return
	}
	w.cur = <-w.free
}

// failed returns the writer's error, if it has failed yet.
func (w *lineWriter) failed() error {
	select {
	case err := <-w.errc:
		w.errc <- err
		return err
	default:
		return nil
	}
}

// close writes what is buffered, ends the goroutine and returns its error.
func (w *lineWriter) close() error {
	if len(w.cur) > 0 {
		w.work <- w.cur
		w.cur = nil
	}
	close(w.work)
	<-w.done
	return w.err
}
