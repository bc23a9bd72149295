package extsort

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/s2"
)

// s2Block is the S2 block size of runs: small enough that a merge of
// hundreds of runs fits its read buffers in the memory budget.
const s2Block = 128 << 10

// temps creates the temporary files of one sort, round robin over the
// temporary directories. Each file is unlinked as soon as it is created, so
// nothing is left behind however the process ends; closing it frees its
// space.
type temps struct {
	dirs []string
	next int
	open map[*os.File]bool
}

func newTemps(dirs []string) *temps { return &temps{dirs: dirs, open: map[*os.File]bool{}} }

func (t *temps) create() (*os.File, error) {
	dir := t.dirs[t.next%len(t.dirs)]
	t.next++
	f, err := os.CreateTemp(dir, "mrsort")
	if err != nil {
		return nil, fmt.Errorf("cannot create temporary file in '%s': %s", dir, errText(unwrapPath(err)))
	}
	os.Remove(f.Name())
	t.open[f] = true
	return f, nil
}

func (t *temps) close(f *os.File) {
	if t.open[f] {
		delete(t.open, f)
		f.Close()
	}
}

func (t *temps) closeAll() {
	for f := range t.open {
		f.Close()
	}
	clear(t.open)
}

// runFile is a sorted run in a temporary file, with what was written to it.
type runFile struct {
	f              *os.File
	name           string
	size           int64
	records, bytes int64
	compressed     bool
	// marks are places where reading may start (the first at offset 0), in
	// order, so that a parallel merge can read a key range of the run.
	marks []runMark
}

// runMark is a line boundary of a run that is also the start of an S2
// chunk: the line there (nil for the first mark, which comes before every
// line) and its offset in the file.
type runMark struct {
	off   int64
	first []byte
}

// maxMarkLine is the longest line a mark keeps; runs mark no place where a
// longer one starts.
const maxMarkLine = 1 << 10

// runWriter writes one run: lines, S2-compressed unless disabled (S2 stores
// blocks that do not compress as they are), through a buffer to the file.
// Every write is of whole lines; one starting at least every mark bytes of
// lines after the previous mark is marked.
type runWriter struct {
	f     *os.File
	bw    *bufio.Writer
	enc   *s2.Writer
	n     int64
	term  byte
	every int64 // bytes of lines between marks; 0: no marks
	lines int64 // bytes of lines written
	last  int64 // lines at the last mark
	marks []runMark
}

func newRunWriter(f *os.File, compress bool, term byte, every int64) *runWriter {
	w := &runWriter{f: f, term: term, every: every}
	w.bw = bufio.NewWriterSize(countWriter{f, &w.n}, 256<<10)
	if compress {
		w.enc = s2.NewWriter(w.bw, s2.WriterConcurrency(1), s2.WriterBlockSize(s2Block))
	}
	return w
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// write writes p, whole lines. With concurrency 1, S2 encodes all of p into
// chunks before EncodeBuffer returns, so the file offset before the call
// starts a chunk.
func (w *runWriter) write(p []byte) error {
	if w.every > 0 {
		switch {
		case len(w.marks) == 0:
			w.marks = append(w.marks, runMark{})
		case w.lines-w.last >= w.every:
			if i := bytes.IndexByte(p, w.term); i >= 0 && i <= maxMarkLine {
				w.marks = append(w.marks, runMark{off: w.n + int64(w.bw.Buffered()), first: bytes.Clone(p[:i])})
				w.last = w.lines
			}
		}
		w.lines += int64(len(p))
	}
	var err error
	if w.enc != nil {
		err = w.enc.EncodeBuffer(p)
	} else {
		_, err = w.bw.Write(p)
	}
	if err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *runWriter) fail(err error) error {
	return &SpillError{Path: w.f.Name(), Err: unwrapPath(err)}
}

func (w *runWriter) finish() (int64, error) {
	if w.enc != nil {
		if err := w.enc.Close(); err != nil {
			return 0, w.fail(err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return 0, w.fail(err)
	}
	return w.n, nil
}

// reader opens the run for a merge; the block reader checks that it reads
// back exactly the lines and bytes that were written.
func (r *runFile) reader(c *comparer, term byte) *blockReader {
	var src io.Reader = io.NewSectionReader(r.f, 0, r.size)
	if r.compressed {
		src = s2.NewReader(src, s2.ReaderMaxBlockSize(s2Block))
	}
	br := newBlockReader(r.name, src, c, term)
	br.wantRecords, br.wantBytes = r.records, r.bytes
	go br.run()
	return br
}

// sectionReader reads the run's lines from offset off, a mark, to end, a
// mark or the run's size. What it reads is not counted against the run;
// the merge's own count checks the whole.
func (r *runFile) sectionReader(c *comparer, term byte, off, end int64) *blockReader {
	var src io.Reader = io.NewSectionReader(r.f, off, end-off)
	if r.compressed {
		opts := []s2.ReaderOption{s2.ReaderMaxBlockSize(s2Block)}
		if off > 0 {
			opts = append(opts, s2.ReaderIgnoreStreamIdentifier())
		}
		src = s2.NewReader(src, opts...)
	}
	br := newBlockReader(r.name, src, c, term)
	go br.run()
	return br
}
