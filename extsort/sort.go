package extsort

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// Sorter sorts, merges and checks lines by one set of Options. It holds no
// resources between calls and may be used by several goroutines at once.
type Sorter struct {
	o     Options
	c     *comparer
	term  byte
	chunk int64 // largest arena; maxChunk but in tests
	// The least text merged in parallel and the text of a merge range:
	// minParallelMerge and rangeBytes but in tests.
	parMin, parRange int
	parMark          int64 // bytes of lines between run marks: markBytes but in tests
	runBuf           int   // bytes of lines per write to a run: outBuf but in tests
}

// Stats counts what a Sort or Merge read and wrote.
type Stats struct {
	Records, Bytes       int64 // read from the inputs (bytes include terminators)
	OutRecords, OutBytes int64 // written to the output
	Duplicates           int64 // lines dropped by Unique
	Runs                 int   // sorted runs written to temporary files
	MergePasses          int   // merges into temporary files to reduce the fan-in
	TempBytes            int64 // bytes written to temporary files
}

// New returns a Sorter for opts.
func New(opts Options) (*Sorter, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Sorter{o: opts, c: newComparer(&opts), term: '\n', chunk: maxChunk, parMin: minParallelMerge, parRange: rangeBytes, parMark: markBytes, runBuf: outBuf}
	if opts.ZeroTerminated {
		s.term = 0
	}
	return s, nil
}

// Compare orders two lines (without terminators) as the Sorter does,
// without its tie-break on input order.
func (s *Sorter) Compare(a, b []byte) int { return s.c.compare(a, b) }

// readerMemory is the memory a merge spends on reading one run: two
// blocks of lines and records, and S2's buffers.
const readerMemory = int64(2*(blockText+16*blockRecs) + 3*s2Block)

// fanIn is the most runs one merge reads: what the memory budget and the
// open-file limit allow, or --batch-size.
func (s *Sorter) fanIn() int {
	if s.o.BatchSize > 0 {
		return s.o.BatchSize
	}
	f := int(s.o.memory() / 2 / readerMemory)
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		f = min(f, int(rl.Cur)-32)
	}
	return max(f, 2)
}

type filled struct {
	a    *arena
	done bool
	err  error
}

// maxChunk is the largest arena Sort fills before it sorts: smaller arenas
// let sorting start, and overlap reading, sooner; larger ones make fewer
// runs to merge.
const maxChunk = 128 << 20

// Sort sorts the lines of the inputs, in order, to w.
//
// Input is read into one arena while the previous one is sorted. A sorted
// arena stays in memory while the budget has room for another one, and is
// otherwise written to a temporary file as a sorted run; at the end the
// arenas in memory and the runs are merged to w. Temporary files are
// removed however Sort returns.
func (s *Sorter) Sort(ctx context.Context, inputs []Input, w io.Writer) (st Stats, err error) {
	tmp := newTemps(s.o.tempDirs())
	defer tmp.closeAll()
	ir := newInputReader(s.c, s.term, inputs)

	mem := s.o.memory()
	asz := int(min(mem/2, s.chunk))
	first, err := getArena(asz)
	if err != nil {
		ir.closeCurrent()
		return st, err
	}
	// Arenas pass between this goroutine and the reader through free and
	// full. An arena lent to the reader is its to release if Sort returns
	// meanwhile: Sort does not wait for a read that may block for ever
	// (a terminal, a pipe), so a cancelled sort returns at once.
	var mu sync.Mutex
	arenas := []*arena{first} // every arena allocated
	lent := map[*arena]bool{}
	free := make(chan *arena, 2)
	full := make(chan filled)
	stop := make(chan struct{})
	lend := func(a *arena) {
		mu.Lock()
		lent[a] = true
		mu.Unlock()
		free <- a
	}
	defer func() {
		close(stop)
		mu.Lock()
		defer mu.Unlock()
		for {
			select {
			case a := <-free: // lent, never taken
				lent[a] = false
				continue
			default:
			}
			break
		}
		for _, a := range arenas {
			if !lent[a] {
				a.recycle()
			}
		}
	}()
	go func() {
		defer ir.closeCurrent()
		for {
			var a *arena
			select {
			case a = <-free:
			case <-stop:
				return
			}
			done, err := ir.fill(ctx, a)
			select {
			case full <- filled{a, done, err}:
			case <-stop:
				a.recycle()
				return
			}
			if done || err != nil {
				return
			}
		}
	}()
	lend(first)

	// held is the memory of every arena allocated; room reports whether
	// one more arena fits the budget, keeping an eighth for merging.
	held := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		var n int64
		for _, a := range arenas {
			if lent[a] {
				n += int64(asz) // lent arenas are never grown ones
			} else {
				n += int64(a.size)
			}
		}
		return n
	}
	room := func() bool { return held()+int64(asz) <= mem-mem/8 }
	addArena := func() error {
		a, err := getArena(asz)
		if err != nil {
			return err
		}
		mu.Lock()
		arenas = append(arenas, a)
		mu.Unlock()
		lend(a)
		return nil
	}

	rs := &recSorter{c: s.c}
	var runs []*runFile
	var kept []*arena // sorted arenas held in memory for the final merge
	for {
		var f filled
		select {
		case f = <-full:
			mu.Lock()
			lent[f.a] = false
			mu.Unlock()
		case <-ctx.Done():
			return st, ctx.Err()
		}
		if f.err != nil {
			return st, f.err
		}
		if !f.done && len(arenas) == 1 {
			// More input: read it into a second arena while this one sorts.
			if err := addArena(); err != nil {
				return st, err
			}
		}
		rs.text = f.a.text
		rs.sort(f.a.recs, s.o.parallel())
		if f.done {
			st.Records, st.Bytes = ir.records, ir.bytes
			// The arena the reader would have filled next is idle: give
			// its memory to the merge.
			mu.Lock()
			for len(free) > 0 { // the reader has ended; this one is idle
				lent[<-free] = false
			}
			for i := 0; i < len(arenas); i++ {
				if a := arenas[i]; a != f.a && !slices.Contains(kept, a) && !lent[a] {
					a.release()
					arenas = append(arenas[:i], arenas[i+1:]...)
					i--
				}
			}
			mu.Unlock()
			return s.finish(ctx, tmp, kept, runs, f.a, w, st)
		}
		if room() {
			kept = append(kept, f.a)
			if err := addArena(); err != nil {
				return st, err
			}
			continue
		}
		run, dropped, err := s.writeRun(ctx, tmp, []cursor{memCursor(f.a)})
		if err != nil {
			return st, err
		}
		st.Duplicates += dropped
		st.Runs++
		st.TempBytes += run.size
		runs = append(runs, run)
		if f.a.size > asz { // grown for a long line: back to the budget
			na, err := getArena(asz)
			if err != nil {
				return st, err
			}
			f.a.release()
			*f.a = *na
		}
		lend(f.a)
	}
}

// finish merges the sorted arenas kept in memory, the runs and the last
// arena to w, in input order (kept arenas hold the earliest input, the last
// arena the latest), and checks the counts.
func (s *Sorter) finish(ctx context.Context, tmp *temps, kept []*arena, runs []*runFile, last *arena, w io.Writer, st Stats) (Stats, error) {
	runs, passes, dropped, tb, err := s.reduceRuns(ctx, tmp, runs, s.fanIn()-len(kept)-1)
	st.MergePasses += passes
	st.Duplicates += dropped
	st.TempBytes += tb
	if err != nil {
		return st, err
	}
	srcs := make([]source, 0, len(kept)+len(runs)+1)
	for _, a := range kept {
		srcs = append(srcs, source{a: a})
	}
	for _, r := range runs {
		srcs = append(srcs, source{r: r})
	}
	srcs = append(srcs, source{a: last})
	// Readers of runs for a parallel merge must fit in what the arenas
	// leave of the budget (or, with --batch-size, in the fan-in).
	held := int64(last.size)
	for _, a := range kept {
		held += int64(a.size)
	}
	readers := int((s.o.memory() - held) / readerMemory)
	if s.o.BatchSize > 0 {
		readers = s.o.BatchSize
	}
	if parallelMergeOK(srcs, s.o.parallel(), s.parMin, readers) {
		st.OutRecords, st.OutBytes, dropped, err = parallelMerge(ctx, s.c, srcs, s.o.parallel(), s.parRange, s.term, writeAll(w))
		st.Duplicates += dropped
		if err == nil && st.OutRecords+st.Duplicates != st.Records {
			err = fmt.Errorf("internal error: read %d lines, wrote %d and dropped %d duplicates", st.Records, st.OutRecords, st.Duplicates)
		}
		return st, err
	}
	cur := make([]cursor, 0, len(kept)+len(runs)+1)
	for _, a := range kept {
		cur = append(cur, memCursor(a))
	}
	for _, r := range runs {
		cur = append(cur, readerCursor(r.reader(s.c, s.term)))
	}
	cur = append(cur, memCursor(last))
	out := newLineWriter(writeAll(w), s.term)
	dropped, err = mergeTo(ctx, s.c, cur, out)
	st.Duplicates += dropped
	if cerr := out.close(); err == nil {
		err = cerr
	}
	st.OutRecords, st.OutBytes = out.records, out.bytes
	if err == nil && st.OutRecords+st.Duplicates != st.Records {
		err = fmt.Errorf("internal error: read %d lines, wrote %d and dropped %d duplicates", st.Records, st.OutRecords, st.Duplicates)
	}
	return st, err
}

// SpillError reports a failed write of a sorted run to a temporary file
// (a full -T directory): a failure of the run, not of its input.
type SpillError struct {
	Path string
	Err  error
}

func (e *SpillError) Error() string { return "write failed: " + e.Path + ": " + errText(e.Err) }
func (e *SpillError) Unwrap() error { return e.Err }

// OutputError reports a failed write to the output.
type OutputError struct{ Err error }

func (e *OutputError) Error() string {
	var pe *os.PathError
	if errors.As(e.Err, &pe) {
		return "write failed: " + pe.Path + ": " + errText(pe.Err)
	}
	return "write failed: " + errText(e.Err)
}
func (e *OutputError) Unwrap() error { return e.Err }

func writeAll(w io.Writer) func([]byte) error {
	return func(p []byte) error {
		if _, err := w.Write(p); err != nil {
			return &OutputError{Err: err}
		}
		return nil
	}
}

// writeRun merges cursors into a new run file.
func (s *Sorter) writeRun(ctx context.Context, tmp *temps, cur []cursor) (*runFile, int64, error) {
	f, err := tmp.create()
	if err != nil {
		for i := range cur {
			cur[i].close()
		}
		return nil, 0, err
	}
	rw := newRunWriter(f, !s.o.NoCompress, s.term, s.parMark)
	out := newLineWriterSize(rw.write, s.term, s.runBuf)
	dropped, err := mergeTo(ctx, s.c, cur, out)
	if cerr := out.close(); err == nil {
		err = cerr
	}
	var size int64
	if err == nil {
		size, err = rw.finish()
	}
	if err != nil {
		tmp.close(f)
		return nil, dropped, err
	}
	return &runFile{f: f, name: f.Name(), size: size, records: out.records, bytes: out.bytes, compressed: !s.o.NoCompress, marks: rw.marks}, dropped, nil
}

// reduceRuns merges runs, a batch at a time, until at most keep remain. The
// batches are consecutive so that equal lines keep their input order.
func (s *Sorter) reduceRuns(ctx context.Context, tmp *temps, runs []*runFile, keep int) ([]*runFile, int, int64, int64, error) {
	passes := 0
	var dropped, tb int64
	fan := max(s.fanIn(), 2)
	keep = max(keep, 1)
	for len(runs) > keep {
		// Merge just enough runs that the rest fit: n runs become 1.
		n := min(fan, len(runs)-keep+1)
		cur := make([]cursor, 0, n)
		for _, r := range runs[:n] {
			cur = append(cur, readerCursor(r.reader(s.c, s.term)))
		}
		merged, d, err := s.writeRun(ctx, tmp, cur)
		for _, r := range runs[:n] {
			tmp.close(r.f)
		}
		if err != nil {
			return nil, passes, dropped, tb, err
		}
		dropped += d
		tb += merged.size
		passes++
		runs = append([]*runFile{merged}, runs[n:]...)
	}
	return runs, passes, dropped, tb, nil
}

// Merge merges inputs that are already sorted (sort -m) to w. Inputs that
// are not sorted give output that is not sorted, as with GNU sort.
func (s *Sorter) Merge(ctx context.Context, inputs []Input, w io.Writer) (st Stats, err error) {
	tmp := newTemps(s.o.tempDirs())
	defer tmp.closeAll()
	var closers []func() // one per reader; nil for an input Merge did not open
	var readers []*blockReader
	// closeInputs closes the inputs opened since it last did, once their
	// readers have stopped (an input given as a Reader is not waited for:
	// its read may block, on a terminal say).
	closeInputs := func() {
		for i, br := range readers {
			br.close()
			if closers[i] != nil {
				for range br.full {
				}
				closers[i]()
				closers[i] = nil
			}
		}
	}
	defer closeInputs()
	fan := s.fanIn()
	// Inputs beyond the fan-in are merged in batches into runs first.
	var runs []*runFile
	var cur []cursor
	flushBatch := func() error {
		run, d, err := s.writeRun(ctx, tmp, cur)
		cur = cur[:0]
		if err != nil {
			return err
		}
		// The batch's inputs are read: close them, or the next batches
		// would run out of file descriptors, and keep their counts but
		// not their buffers.
		closeInputs()
		for _, br := range readers {
			st.Records += br.records
			st.Bytes += br.bytes
		}
		clear(readers)
		readers, closers = readers[:0], closers[:0]
		st.Duplicates += d
		st.MergePasses++
		st.TempBytes += run.size
		runs = append(runs, run)
		return nil
	}
	open := func(in Input) (cursor, error) {
		r, closeFn, err := in.open()
		if err != nil {
			return cursor{}, err
		}
		if in.Reader != nil || in.Open == nil && in.Name == "-" {
			closeFn = nil
		}
		closers = append(closers, closeFn)
		br := newBlockReader(in.Name, r, s.c, s.term)
		readers = append(readers, br)
		go br.run()
		return readerCursor(br), nil
	}
	if len(inputs) > fan {
		for _, in := range inputs {
			c, err := open(in)
			if err != nil {
				return st, err
			}
			cur = append(cur, c)
			if len(cur) == fan {
				if err := flushBatch(); err != nil {
					return st, err
				}
			}
		}
		if len(cur) > 0 {
			if err := flushBatch(); err != nil {
				return st, err
			}
		}
		var passes int
		var d, tb int64
		runs, passes, d, tb, err = s.reduceRuns(ctx, tmp, runs, fan)
		st.MergePasses += passes
		st.Duplicates += d
		st.TempBytes += tb
		if err != nil {
			return st, err
		}
		for _, r := range runs {
			cur = append(cur, readerCursor(r.reader(s.c, s.term)))
		}
	} else {
		for _, in := range inputs {
			c, err := open(in)
			if err != nil {
				for i := range cur {
					cur[i].close()
				}
				return st, err
			}
			cur = append(cur, c)
		}
	}
	out := newLineWriter(writeAll(w), s.term)
	d, err := mergeTo(ctx, s.c, cur, out)
	st.Duplicates += d
	if cerr := out.close(); err == nil {
		err = cerr
	}
	// The readers have ended when the merge has; after a failure some
	// may still be reading, and their counts do not matter.
	if err == nil {
		for _, br := range readers {
			st.Records += br.records
			st.Bytes += br.bytes
		}
	}
	st.OutRecords, st.OutBytes = out.records, out.bytes
	return st, err
}

// DisorderError is what Check reports: the first line out of order.
type DisorderError struct {
	Name string // the input's name ("-" for standard input)
	Line int64  // 1-based line number
	Text []byte // the line, without terminator
}

func (e *DisorderError) Error() string {
	return fmt.Sprintf("%s:%d: disorder: %s", e.Name, e.Line, e.Text)
}

// Check reads one input and returns a *DisorderError for its first line
// that sorts before the line preceding it (or equal to it, with Unique).
func (s *Sorter) Check(ctx context.Context, in Input) error {
	r, closeFn, err := in.open()
	if err != nil {
		return err
	}
	defer closeFn()
	br := newBlockReader(in.Name, r, s.c, s.term)
	go br.run()
	defer br.close()
	var prev []byte
	var n int64
	for {
		b, ok := <-br.full
		if !ok {
			return br.err
		}
		for i := range b.recs {
			rr := &b.recs[i]
			line := b.text[rr.off : rr.off+rr.n]
			n++
			if n > 1 {
				d := s.c.compare(prev, line)
				if d > 0 || (d == 0 && s.o.Unique) {
					return &DisorderError{Name: in.Name, Line: n, Text: append([]byte(nil), line...)}
				}
			}
			prev = append(prev[:0], line...)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		br.free <- b
	}
}

// IsDisorder reports whether err is a *DisorderError.
func IsDisorder(err error) bool {
	var d *DisorderError
	return errors.As(err, &d)
}
