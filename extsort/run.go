package extsort

import (
	"bufio"
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
}

// runWriter writes one run: lines, S2-compressed unless disabled (S2 stores
// blocks that do not compress as they are), through a buffer to the file.
type runWriter struct {
	f   *os.File
	bw  *bufio.Writer
	enc *s2.Writer
	n   int64
}

func newRunWriter(f *os.File, compress bool) *runWriter {
	w := &runWriter{f: f}
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

func (w *runWriter) write(p []byte) error {
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
	return fmt.Errorf("write failed: %s: %s", w.f.Name(), errText(unwrapPath(err)))
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
