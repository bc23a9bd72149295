package extsort

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Input is one input of a sort: a named reader. If Reader is nil, Open
// opens it when it is reached, or else the file Name ("-" is standard
// input); an input opened so is closed once read, so that Merge over more
// inputs than it can open at once holds a batch of them open at a time.
type Input struct {
	Name   string
	Reader io.Reader
	Open   func() (io.ReadCloser, error)
}

func (in *Input) open() (io.Reader, func(), error) {
	if in.Reader != nil {
		return in.Reader, func() {}, nil
	}
	if in.Open != nil {
		r, err := in.Open()
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	}
	if in.Name == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(in.Name)
	if err != nil {
		return nil, nil, &InputError{Name: in.Name, Op: "open failed", Err: unwrapPath(err)}
	}
	return f, func() { f.Close() }, nil
}

// displayName is how messages name an input.
func displayName(name string) string {
	if name == "-" {
		return "-"
	}
	return name
}

// InputError reports an input that could not be opened or read.
type InputError struct {
	Name string
	Op   string // "open failed", "read failed"
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, displayName(e.Name), errText(e.Err))
}
func (e *InputError) Unwrap() error { return e.Err }

// unwrapPath drops the *PathError wrapper so messages name the file once.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// errText spells errno errors as strerror does ("No such file or directory").
func errText(err error) string {
	s := err.Error()
	if len(s) > 0 && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

const (
	readChunk = 4 << 20 // largest read into an arena
	minChunk  = 64 << 10
)

// inputReader reads the inputs, in order, into arenas of complete lines,
// with their sort records. A last line without a terminator is completed
// (GNU sort adds the newline too), at the end of every input.
type inputReader struct {
	c      *comparer
	term   byte
	inputs []Input

	cur    int       // index of the input being read
	r      io.Reader // nil: open inputs[cur] next
	close  func()
	carry  []byte // the start of a line that did not fit in the last arena
	avgLen int    // running average line length, to size reads

	records, bytes int64
}

func newInputReader(c *comparer, term byte, inputs []Input) *inputReader {
	return &inputReader{c: c, term: term, inputs: inputs, avgLen: 32}
}

func (ir *inputReader) closeCurrent() {
	if ir.close != nil {
		ir.close()
		ir.close = nil
	}
	ir.r = nil
}

// fill reads lines into a (which it resets) until a is full or the input
// ends; it reports whether the input has ended.
func (ir *inputReader) fill(ctx context.Context, a *arena) (done bool, err error) {
	a.reset()
	for len(ir.carry) > a.free()-16 {
		if err := a.grow(); err != nil {
			return false, err
		}
	}
	a.text = append(a.text, ir.carry...)
	ir.carry = ir.carry[:0]
	start, scan := 0, 0 // first unsplit line; where to look for a terminator
	for {
		// Split the complete lines read so far.
		full := false
		for {
			i := bytes.IndexByte(a.text[scan:], ir.term)
			if i < 0 {
				scan = len(a.text)
				break
			}
			end := scan + i
			if a.free() < 16 {
				full = true
				break
			}
			line := a.text[start:end]
			var p uint64
			if ir.c.pmode == pfxLine && len(line) >= 8 {
				p = binary.BigEndian.Uint64(line)
				if ir.c.preverse {
					p = ^p
				}
			} else {
				p = ir.c.prefix(line)
			}
			a.recs = append(a.recs, rec{pfx: p, off: uint32(start), n: uint32(end - start)})
			ir.records++
			ir.bytes += int64(end-start) + 1
			start = end + 1
			scan = start
		}
		if !full && ir.cur >= len(ir.inputs) {
			a.text = a.text[:start]
			return true, nil
		}
		room := a.free() - 16 - 1 // a record and a terminator for the last line
		want := min(readChunk, room*ir.avgLen/(ir.avgLen+16))
		if full || want < min(minChunk, a.size/16) {
			if len(a.recs) > 0 {
				ir.carry = append(ir.carry[:0], a.text[start:]...)
				a.text = a.text[:start]
				ir.avgLen = max(1, len(a.text)/len(a.recs))
				return false, nil
			}
			if err := a.grow(); err != nil {
				return false, err
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if ir.r == nil {
			r, closeFn, err := ir.inputs[ir.cur].open()
			if err != nil {
				return false, err
			}
			ir.r, ir.close = r, closeFn
		}
		n := len(a.text)
		m, rerr := ir.r.Read(a.text[n : n+want])
		a.text = a.text[:n+m]
		if rerr == io.EOF {
			ir.closeCurrent()
			ir.cur++
			if len(a.text) > start && a.text[len(a.text)-1] != ir.term {
				a.text = append(a.text, ir.term)
			}
		} else if rerr != nil {
			name := ir.inputs[ir.cur].Name
			ir.closeCurrent()
			return false, &InputError{Name: name, Op: "read failed", Err: unwrapPath(rerr)}
		}
	}
}

// block is a batch of consecutive lines read by a blockReader.
type block struct {
	text []byte
	recs []rec
}

const (
	blockText = 64 << 10 // text bytes per block read from a run or input
	blockRecs = 4 << 10  // records per block
)

// blockReader reads lines from r into blocks in a goroutine of its own,
// ahead of the consumer: two blocks go back and forth between them. It
// counts what it reads, so that runs can be checked against what was
// written to them.
type blockReader struct {
	name  string
	r     io.Reader
	c     *comparer
	term  byte
	free  chan *block
	full  chan *block
	stop  chan struct{}
	err   error // set before full is closed
	carry []byte
	eof   bool

	records, bytes int64
	// want, when not negative, is the number of records and bytes the
	// reader must find (a run written by this process).
	wantRecords, wantBytes int64
}

// newBlockReader makes a reader of r; the caller starts it with go br.run()
// after setting what it expects to read.
func newBlockReader(name string, r io.Reader, c *comparer, term byte) *blockReader {
	br := &blockReader{
		name: name, r: r, c: c, term: term,
		free: make(chan *block, 2), full: make(chan *block, 2), stop: make(chan struct{}),
		wantRecords: -1,
	}
	for i := 0; i < 2; i++ {
		br.free <- &block{text: make([]byte, 0, blockText), recs: make([]rec, 0, blockRecs)}
	}
	return br
}

// close stops the goroutine; the consumer calls it when done or failing.
func (br *blockReader) close() {
	select {
	case <-br.stop:
	default:
		close(br.stop)
	}
}

func (br *blockReader) run() {
	defer close(br.full)
	for {
		var b *block
		select {
		case b = <-br.free:
		case <-br.stop:
			return
		}
		last, err := br.fill(b)
		if err != nil {
			br.err = err
			return
		}
		if len(b.recs) > 0 {
			select {
			case br.full <- b:
			case <-br.stop:
				return
			}
		}
		if last {
			if br.wantRecords >= 0 && (br.records != br.wantRecords || br.bytes != br.wantBytes) {
				br.err = fmt.Errorf("temporary file %s: read %d lines (%d bytes), wrote %d lines (%d bytes)",
					br.name, br.records, br.bytes, br.wantRecords, br.wantBytes)
			}
			return
		}
	}
}

// fill reads the next lines into b; last reports the end of the input.
func (br *blockReader) fill(b *block) (last bool, err error) {
	b.text = append(b.text[:0], br.carry...)
	b.recs = b.recs[:0]
	br.carry = br.carry[:0]
	start, scan := 0, 0
	for {
		for len(b.recs) < cap(b.recs) {
			i := bytes.IndexByte(b.text[scan:], br.term)
			if i < 0 {
				scan = len(b.text)
				break
			}
			end := scan + i
			b.recs = append(b.recs, rec{pfx: br.c.prefix(b.text[start:end]), off: uint32(start), n: uint32(end - start)})
			br.records++
			br.bytes += int64(end-start) + 1
			start = end + 1
			scan = start
		}
		if len(b.recs) == cap(b.recs) || (len(b.recs) > 0 && len(b.text) >= blockText) {
			br.carry = append(br.carry, b.text[start:]...)
			b.text = b.text[:start]
			return false, nil
		}
		if br.eof {
			if start < len(b.text) {
				b.text = append(b.text, br.term)
				continue
			}
			return true, nil
		}
		if len(b.text) == cap(b.text) {
			b.text = append(b.text, 0)[:len(b.text)] // grow for a long line
		}
		n, err := br.r.Read(b.text[len(b.text):cap(b.text)])
		b.text = b.text[:len(b.text)+n]
		if err == io.EOF {
			br.eof = true
		} else if err != nil {
			return false, &InputError{Name: br.name, Op: "read failed", Err: unwrapPath(err)}
		}
	}
}
