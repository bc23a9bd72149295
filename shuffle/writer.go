package shuffle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/mrpipe/mrpipe/extsort"
)

// CombineFunc runs a combiner over one partition's sorted lines and writes
// its output to out. It must read sorted to the end (or fail); its output
// must be sorted by key, and every key must stay in partition p. It runs in
// a goroutine of its own, one partition at a time.
type CombineFunc func(ctx context.Context, p int, sorted io.Reader, out io.Writer) error

// Options says how a Writer partitions, sorts, combines and stores lines.
type Options struct {
	// Partitions is R, the number of partitions (1 to MaxPartitions).
	Partitions int
	// Partitioner maps keys to partitions; nil means Hadoop's
	// HashPartitioner over Partitions. Its N() must equal Partitions.
	Partitioner *Partitioner
	// Key finds the key of a line.
	Key KeySpec
	// ZeroTerminated makes NUL, not newline, the record terminator.
	ZeroTerminated bool

	// Sort sorts each partition by key, stable (ties keep input order).
	Sort bool
	// Comparator, when not empty, sorts by Hadoop KeyFieldBasedComparator
	// options ("-k2,2nr") instead of key bytes; see ComparatorKeys. It
	// implies Sort.
	Comparator string
	// Combine, when not nil, is run over each non-empty sorted partition;
	// it implies Sort.
	Combine CombineFunc

	// Compress is CompressS2 (the default, "") or CompressNone.
	Compress string
	// Memory is the sort's memory budget in bytes (extsort.Options.Memory;
	// 0: extsort's default). TempDirs are where sorted runs are spilled.
	Memory   int64
	TempDirs []string
	// Parallel is the number of sorting goroutines (0: extsort's default).
	Parallel int
}

// Writer is the map side of the shuffle for one output directory. Write
// lines to it; Close writes the partition files' last bytes and the
// manifest. A Writer is not safe for concurrent use.
type Writer struct {
	ctx  context.Context
	dir  string
	o    Options
	part *Partitioner
	sep  byte
	term byte
	nkey int

	stats Stats
	carry lineCarry
	err   error
	done  bool
	// skipCombine is set by SkipCombine: the combiner is not run.
	skipCombine atomic.Bool

	// Unsorted: one buffer per partition, flushed to its file when full.
	parts   []*partFile
	bufs    [][]byte
	bufRecs []int64
	bufSize int
	// Full buffers go to the flusher goroutine, which writes them to
	// their files (checksum, compression, disk) and sends them back
	// empty through flushFree.
	flushQ      chan flushReq
	flushFree   chan []byte
	flushDone   chan struct{}
	flushFailed atomic.Bool
	flushFail   chan struct{} // closed when flushFailed is set
	flushErr    error

	// Sorted: lines, prefixed with their partition, go through a pipe to
	// extsort; the sorted stream comes back to dm.
	sorter   *extsort.Sorter
	sortIn   *io.PipeWriter
	batch    []byte
	sortDone chan struct{}
	sortSt   extsort.Stats
	sortErr  error
	code     prefixCode
	shift    bool // the prefix is a field of its own (comparator keys)
	dm       *demux
}

// errAborted ends the sort and the combiner when a Writer is aborted.
var errAborted = errors.New("writer aborted")

// Create makes dir (and its parents) if needed, removes a manifest left
// in it, and returns a Writer that partitions into it.
func Create(ctx context.Context, dir string, o Options) (*Writer, error) {
	if o.Partitions < 1 || o.Partitions > MaxPartitions {
		return nil, fmt.Errorf("number of partitions must be 1 to %d, not %d", MaxPartitions, o.Partitions)
	}
	if err := o.Key.Validate(); err != nil {
		return nil, err
	}
	switch o.Compress {
	case "":
		o.Compress = CompressS2
	case CompressS2, CompressNone:
	default:
		return nil, fmt.Errorf("unknown compression %q (want s2 or none)", o.Compress)
	}
	w := &Writer{ctx: ctx, dir: dir, o: o, sep: o.Key.Sep(), term: '\n', nkey: o.Key.N()}
	if o.ZeroTerminated {
		w.term = 0
	}
	if w.sep == w.term {
		return nil, errors.New("the separator cannot be the record terminator")
	}
	w.part = o.Partitioner
	if w.part == nil {
		w.part, _ = NewHashPartitioner(o.Partitions)
	} else if w.part.N() != o.Partitions {
		return nil, fmt.Errorf("partitioner has %d partitions, options say %d", w.part.N(), o.Partitions)
	}
	w.o.Sort = o.Sort || o.Comparator != "" || o.Combine != nil
	var keys []extsort.Key
	if o.Comparator != "" {
		var err error
		if keys, err = ComparatorKeys(o.Comparator, w.nkey); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, unwrapPath(err))
	}
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove old manifest: %w", err)
	}
	if w.o.Sort {
		if err := w.startSort(keys); err != nil {
			return nil, err
		}
		return w, nil
	}
	w.bufSize = 256 << 10
	if o.Partitions > 64 {
		w.bufSize = max(16<<10, (16<<20)/o.Partitions)
	}
	w.parts = make([]*partFile, o.Partitions)
	w.bufs = make([][]byte, o.Partitions)
	w.bufRecs = make([]int64, o.Partitions)
	for p := range w.parts {
		// Partition buffers of 256 KiB are handed to the encoder as
		// they are, a block each; smaller ones (many partitions) are
		// copied into blocks of s2BlockSize, for the compression.
		var recycle func([]byte)
		if w.bufSize == 256<<10 {
			recycle = w.recycle
		}
		pf, err := createPart(dir, p, o.Compress == CompressS2, w.concurrency(), w.bufSize, recycle)
		if err != nil {
			w.abortParts()
			return nil, err
		}
		w.parts[p] = pf
	}
	w.startFlusher()
	return w, nil
}

// flushReq is one full partition buffer for the flusher.
type flushReq struct {
	p    int
	b    []byte
	recs int64
}

// flushSpares is the number of buffers in flight between the partition
// loop and the flusher.
const flushSpares = 16

func (w *Writer) startFlusher() {
	w.flushQ = make(chan flushReq, flushSpares)
	w.flushFree = make(chan []byte, flushSpares)
	for i := 0; i < flushSpares; i++ {
		w.flushFree <- make([]byte, 0, w.bufSize+w.bufSize/4)
	}
	w.flushDone = make(chan struct{})
	w.flushFail = make(chan struct{})
	go func() {
		defer close(w.flushDone)
		for r := range w.flushQ {
			if w.flushErr != nil {
				w.recycle(r.b)
				continue
			}
			pf := w.parts[r.p]
			var err error
			if pf.handsOff {
				err = pf.handOff(r.b, r.recs) // r.b comes back through recycle
			} else {
				err = pf.write(r.b, r.recs)
				w.recycle(r.b)
			}
			if err != nil {
				w.flushErr = err
				w.flushFailed.Store(true)
				close(w.flushFail)
			}
		}
	}()
}

// recycle puts a written buffer back for the partition loop. It never
// blocks: at most flushSpares buffers are away from the loop, unless the
// loop went on without one after a failure, and then a surplus one is
// dropped.
func (w *Writer) recycle(b []byte) {
	b = b[:0]
	if cap(b) > 2*w.bufSize {
		b = make([]byte, 0, w.bufSize+w.bufSize/4)
	}
	select {
	case w.flushFree <- b:
	default:
	}
}

// stopFlusher waits for the flusher to write what it was given.
func (w *Writer) stopFlusher() {
	if w.flushQ == nil {
		return
	}
	close(w.flushQ)
	<-w.flushDone
	w.flushQ = nil
	if w.flushErr != nil && w.err == nil {
		w.err = w.flushErr
	}
}

func (w *Writer) concurrency() int {
	if w.o.Partitions <= 64 && !w.o.Sort {
		return 2
	}
	return 1
}

// startSort starts the external sort of prefixed lines.
func (w *Writer) startSort(userKeys []extsort.Key) error {
	w.code = newPrefixCode(w.o.Partitions, w.sep)
	var keys []extsort.Key
	switch {
	case userKeys == nil:
		// prefix+key is field 1 (to field N): partition, then key bytes.
		keys = []extsort.Key{{StartField: 1, EndField: w.nkey}}
	case w.code.width == 0:
		keys = userKeys
	default:
		w.shift = true
		keys = append(keys, extsort.Key{StartField: 1, EndField: 1})
		for _, k := range userKeys {
			k.StartField++
			k.EndField++
			keys = append(keys, k)
		}
	}
	s, err := extsort.New(extsort.Options{
		Keys: keys, Separator: string(w.sep), Stable: true,
		ZeroTerminated: w.o.ZeroTerminated, Memory: w.o.Memory,
		TempDirs: w.o.TempDirs, Parallel: w.o.Parallel,
	})
	if err != nil {
		return err
	}
	w.sorter = s
	var check *extsort.Sorter
	if userKeys != nil {
		if check, err = extsort.New(extsort.Options{Keys: userKeys, Separator: string(w.sep), Stable: true}); err != nil {
			return err
		}
	}
	w.dm = &demux{w: w, cur: -1, check: check,
		parts: make([]*partFile, w.o.Partitions), infos: make([]PartInfo, w.o.Partitions)}
	pr, pw := io.Pipe()
	w.sortIn = pw
	w.sortDone = make(chan struct{})
	go func() {
		defer close(w.sortDone)
		st, err := s.Sort(w.ctx, []extsort.Input{{Name: "map output", Reader: pr}}, w.dm)
		if err == nil {
			err = io.EOF
		}
		pr.CloseWithError(err)
		if err == io.EOF {
			err = nil
		}
		w.sortSt, w.sortErr = st, err
	}()
	// w.batch grows to its megabyte by append: a map task with a few
	// lines of output should not allocate and zero a megabyte.
	return nil
}

// Write partitions the complete lines in p; a line's start may come in one
// call and its end in a later one.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errors.New("write to a closed shuffle writer")
	}
	n := len(p)
	w.stats.InputBytes += int64(n)
	w.carry.feed(p, w.term, w.lines)
	if w.err != nil {
		return n, w.err
	}
	return n, nil
}

// ReadFrom writes everything r reads.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if w.ctx.Err() != nil {
			return total, w.ctx.Err()
		}
	}
}

// lines partitions b, complete lines with terminators.
func (w *Writer) lines(b []byte) {
	if w.sortIn == nil {
		w.linesUnsorted(b)
		return
	}
	sep, term, nkey := w.sep, w.term, w.nkey
	var recs int64
	for len(b) > 0 {
		e := bytes.IndexByte(b, term)
		line := b[:e]
		k := lineKey(line, sep, nkey)
		p := w.part.Partition(k)
		recs++
		w.batch = w.code.append(w.batch, p)
		if w.shift {
			w.batch = append(w.batch, sep)
		}
		w.batch = append(w.batch, b[:e+1]...)
		if len(w.batch) >= 1<<20 {
			w.flushBatch()
		}
		b = b[e+1:]
	}
	w.stats.InputRecords += recs
}

// linesUnsorted is lines without sorting: each line is appended to its
// partition's buffer.
func (w *Writer) linesUnsorted(b []byte) {
	sep, term, nkey := w.sep, w.term, w.nkey
	hash := w.part.kind == kindHash
	mod := w.part.mod
	bufs, bufRecs := w.bufs, w.bufRecs
	var recs int64
	for len(b) > 0 {
		e := bytes.IndexByte(b, term)
		line := b[:e]
		k := lineKey(line, sep, nkey)
		var p int
		if hash {
			p = mod.mod(uint32(prefixHash(b, len(k))) & 0x7fffffff)
		} else {
			p = w.part.Partition(k)
		}
		recs++
		buf := append(bufs[p], b[:e+1]...)
		bufs[p] = buf
		bufRecs[p]++
		if len(buf) >= w.bufSize {
			w.flushPart(p)
		}
		b = b[e+1:]
	}
	w.stats.InputRecords += recs
}

func (w *Writer) flushBatch() {
	if len(w.batch) == 0 || w.err != nil {
		w.batch = w.batch[:0]
		return
	}
	if _, err := w.sortIn.Write(w.batch); err != nil {
		w.err = err
	}
	w.batch = w.batch[:0]
}

func (w *Writer) flushPart(p int) {
	b := w.bufs[p]
	w.bufs[p] = b[:0]
	if len(b) > 0 && w.err == nil {
		if w.flushFailed.Load() {
			w.stopFlusher()
		} else {
			w.flushQ <- flushReq{p: p, b: b, recs: w.bufRecs[p]}
			select {
			case w.bufs[p] = <-w.flushFree:
			case <-w.flushFail:
				// A buffer handed to the encoder may not come back
				// after a failure; the next flush ends the writing.
				w.bufs[p] = nil
			}
		}
	}
	w.bufRecs[p] = 0
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats { return w.stats }

// SkipCombine declares that the records written to w are combined
// already: a pre-combiner held every key at once and wrote each one's
// state, so running Options.Combine over them would change nothing. Close
// then sorts without it, and checks that every record came out. Call it
// before Close.
func (w *Writer) SkipCombine() { w.skipCombine.Store(true) }

// Close completes the partition files and writes the manifest, which it
// returns. After a failure the directory has no manifest and no new part
// files.
func (w *Writer) Close() (*Manifest, error) {
	if w.done {
		return nil, errors.New("shuffle writer closed twice")
	}
	if w.err == nil {
		w.carry.end(w.term, w.lines)
	}
	if w.err == nil {
		w.err = w.ctx.Err()
	}
	w.done = true
	if w.err != nil {
		w.abort()
		return nil, w.err
	}
	var parts []*partFile
	var infos []PartInfo
	if w.sortIn != nil {
		w.flushBatch()
		if w.err != nil {
			w.sortIn.CloseWithError(w.err)
		} else {
			w.sortIn.Close()
		}
		<-w.sortDone
		err := w.sortErr
		if w.dm.err != nil {
			err = w.dm.err
		}
		if err == nil {
			err = w.err
		}
		if err == nil {
			err = w.dm.finish()
		}
		if err != nil {
			w.err = err
			w.abort()
			return nil, err
		}
		w.stats.SortRuns = w.sortSt.Runs
		w.stats.SpillBytes = w.sortSt.TempBytes
		if w.sortSt.Records != w.stats.InputRecords || w.sortSt.OutRecords != w.stats.InputRecords {
			w.err = fmt.Errorf("internal error: partitioned %d lines, sorted %d, sort wrote %d", w.stats.InputRecords, w.sortSt.Records, w.sortSt.OutRecords)
			w.abort()
			return nil, w.err
		}
		parts, infos = w.dm.parts, w.dm.infos
	} else {
		for p := range w.parts {
			w.flushPart(p)
		}
		w.stopFlusher()
		parts = w.parts
		for _, pf := range parts {
			if w.err != nil {
				break
			}
			info, err := pf.finish()
			if err != nil {
				w.err = err
			}
			infos = append(infos, info)
		}
	}
	if w.err != nil {
		w.abort()
		return nil, w.err
	}
	m := &Manifest{
		Version: ManifestVersion, Format: w.o.Compress, Checksum: "crc32c",
		Separator: string(w.sep), KeyFields: w.nkey, ZeroTerminated: w.o.ZeroTerminated,
		Partitioner: w.part.String(), Sorted: w.o.Sort, Comparator: w.o.Comparator,
		Combined: w.o.Combine != nil,
	}
	for _, info := range infos {
		m.Partitions = append(m.Partitions, info)
		w.stats.OutputRecords += info.Records
		w.stats.OutputBytes += info.Bytes
		w.stats.FileBytes += info.FileBytes
	}
	combined := w.o.Combine != nil && !w.skipCombine.Load()
	if !combined && w.stats.OutputRecords != w.stats.InputRecords {
		w.err = fmt.Errorf("internal error: read %d lines, wrote %d", w.stats.InputRecords, w.stats.OutputRecords)
		w.abort()
		return nil, w.err
	}
	if combined {
		w.stats.CombineInputRecords = w.dm.combineIn
		w.stats.CombineOutputRecords = w.stats.OutputRecords
	}
	m.Stats = w.stats
	for _, pf := range parts {
		if err := pf.commit(); err != nil {
			w.err = err
			w.abort()
			return nil, err
		}
	}
	if err := writeManifest(w.dir, m); err != nil {
		w.err = err
		return nil, err
	}
	removeStaleParts(w.dir, len(parts))
	return m, nil
}

// removeStaleParts removes the part files of partitions n and up from dir:
// left by an earlier writer with more partitions, they would be taken for
// this one's by anyone reading dir/part-*.
func removeStaleParts(dir string, n int) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range es {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "part-%d", &p); err == nil && p >= n && e.Name() == PartName(p) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Abort gives up: it stops the sort and combiner and removes the
// temporary files. It does nothing after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.err == nil {
		w.err = errAborted
	}
	w.abort()
}

func (w *Writer) abort() {
	if w.sortIn != nil {
		w.sortIn.CloseWithError(w.err)
		<-w.sortDone
		w.dm.abort()
	}
	w.abortParts()
}

func (w *Writer) abortParts() {
	w.stopFlusher()
	for _, pf := range w.parts {
		if pf != nil {
			pf.abort()
		}
	}
}

// prefixCode writes partition numbers as fixed-width strings over
// alphanumeric digits in ascending byte order (without the separator), so
// prefixed lines sort by partition first and the prefix never holds a
// separator or terminator.
type prefixCode struct {
	width  int
	digits []byte
	value  [256]int16
}

func newPrefixCode(n int, sep byte) prefixCode {
	var c prefixCode
	for _, r := range []byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		if r != sep {
			c.digits = append(c.digits, r)
		}
	}
	for i := range c.value {
		c.value[i] = -1
	}
	for i, d := range c.digits {
		c.value[d] = int16(i)
	}
	for span := 1; span < n; span *= len(c.digits) {
		c.width++
	}
	return c
}

func (c *prefixCode) append(b []byte, p int) []byte {
	base := len(c.digits)
	n := len(b)
	for i := 0; i < c.width; i++ {
		b = append(b, 0)
	}
	for i := c.width - 1; i >= 0; i-- {
		b[n+i] = c.digits[p%base]
		p /= base
	}
	return b
}

// decode returns the partition at the start of line, or -1.
func (c *prefixCode) decode(line []byte) int {
	if len(line) < c.width {
		return -1
	}
	p := 0
	for i := 0; i < c.width; i++ {
		d := c.value[line[i]]
		if d < 0 {
			return -1
		}
		p = p*len(c.digits) + int(d)
	}
	return p
}

// demux receives the sorted, prefixed stream from extsort (in extsort's
// writer goroutine) and writes each partition's lines, prefix removed, to
// its file, through the combiner when there is one.
type demux struct {
	w     *Writer
	cur   int
	parts []*partFile
	infos []PartInfo
	carry lineCarry
	buf   []byte
	recs  int64
	err   error

	check     *extsort.Sorter // the comparator, for checking combiner output
	combineIn int64
	cpw       *io.PipeWriter
	cdone     chan error
	cout      *combineOut
	mu        sync.Mutex
}

func (d *demux) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := len(p)
	d.carry.feed(p, d.w.term, d.lines)
	return n, d.err
}

func (d *demux) lines(b []byte) {
	code := &d.w.code
	skip := code.width
	if d.w.shift {
		skip++
	}
	for len(b) > 0 && d.err == nil {
		e := bytes.IndexByte(b, d.w.term)
		p := code.decode(b[:e])
		if p < 0 || p >= len(d.parts) || p < d.cur || skip > e {
			d.err = fmt.Errorf("internal error: bad partition prefix in sorted line %q", b[:e])
			return
		}
		if p != d.cur {
			d.switchTo(p)
			if d.err != nil {
				return
			}
		}
		d.buf = append(d.buf, b[skip:e+1]...)
		d.recs++
		if len(d.buf) >= 256<<10 {
			d.flush()
		}
		b = b[e+1:]
	}
}

func (d *demux) flush() {
	if len(d.buf) == 0 || d.err != nil {
		d.buf, d.recs = d.buf[:0], 0
		return
	}
	if d.cpw != nil {
		d.combineIn += d.recs
		if _, err := d.cpw.Write(d.buf); err != nil {
			d.err = err
		}
	} else if err := d.parts[d.cur].write(d.buf, d.recs); err != nil {
		d.err = err
	}
	d.buf, d.recs = d.buf[:0], 0
}

// switchTo ends the current partition and starts p, creating empty files
// for the partitions between.
func (d *demux) switchTo(p int) {
	d.endCurrent()
	for q := d.cur + 1; q <= p && q < len(d.parts) && d.err == nil; q++ {
		pf, err := createPart(d.w.dir, q, d.w.o.Compress == CompressS2, 2, 256<<10, nil)
		if err != nil {
			d.err = err
			return
		}
		d.mu.Lock()
		d.parts[q] = pf
		d.mu.Unlock()
		if q < p {
			d.finishPart(q)
		}
	}
	d.cur = p
	if d.err != nil || d.w.o.Combine == nil || d.w.skipCombine.Load() || p >= len(d.parts) {
		return
	}
	pr, pw := io.Pipe()
	d.cpw = pw
	d.cdone = make(chan error, 1)
	part := *d.w.part
	part.lens = nil
	d.cout = &combineOut{d: d, p: p, pf: d.parts[p], part: &part}
	out := d.cout
	go func() {
		err := d.w.o.Combine(d.w.ctx, p, pr, out)
		if err == nil {
			err = out.end()
		}
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(fmt.Errorf("combiner for partition %d ended before reading all its input", p))
		}
		d.cdone <- err
	}()
}

// endCurrent flushes the current partition and, with a combiner, waits for
// it to finish.
func (d *demux) endCurrent() {
	if d.cur < 0 {
		return
	}
	d.flush()
	if d.cpw == nil {
		d.finishPart(d.cur)
		return
	}
	if d.err != nil {
		d.cpw.CloseWithError(d.err)
	} else {
		d.cpw.Close()
	}
	err := <-d.cdone
	if d.err == nil && err != nil {
		d.err = err
	}
	if d.err != nil && !errors.Is(d.err, errAborted) {
		var ce *CombineError
		if !errors.As(d.err, &ce) {
			d.err = &CombineError{Partition: d.cur, Err: d.err}
		}
	}
	d.cpw, d.cout = nil, nil
	d.finishPart(d.cur)
}

// finishPart completes partition p's file (its manifest entry is ready).
func (d *demux) finishPart(p int) {
	if d.err != nil {
		return
	}
	info, err := d.parts[p].finish()
	if err != nil {
		d.err = err
		return
	}
	d.infos[p] = info
}

// finish ends the last partition and creates the files of the empty ones
// after it; it runs after the sort has returned.
func (d *demux) finish() error {
	if d.err == nil && d.carry.pending() {
		d.err = fmt.Errorf("internal error: sorted stream ends without a terminator")
	}
	if d.err != nil {
		return d.err
	}
	d.switchTo(len(d.parts))
	return d.err
}

// abort stops a running combiner and removes the files.
func (d *demux) abort() {
	if d.cpw != nil {
		d.cpw.CloseWithError(errAborted)
		<-d.cdone
		d.cpw = nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, pf := range d.parts {
		if pf != nil {
			pf.abort()
		}
	}
}

// CombineError reports a failed combiner, or combiner output that is out
// of order or in the wrong partition.
type CombineError struct {
	Partition int
	Err       error
}

func (e *CombineError) Error() string {
	return fmt.Sprintf("combiner, partition %d: %v", e.Partition, e.Err)
}
func (e *CombineError) Unwrap() error { return e.Err }

// combineOut takes a combiner's output: it checks that lines stay sorted
// and in their partition, and writes them to the part file.
type combineOut struct {
	d     *demux
	p     int
	pf    *partFile
	part  *Partitioner
	carry lineCarry
	buf   []byte
	recs  int64
	prev  []byte
	have  bool
	n     int64
	err   error
}

func (c *combineOut) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	c.carry.feed(p, c.d.w.term, c.lines)
	if c.err == nil && len(c.buf) >= 256<<10 {
		c.flush()
	}
	return n, c.err
}

func (c *combineOut) lines(b []byte) {
	w := c.d.w
	for len(b) > 0 && c.err == nil {
		e := bytes.IndexByte(b, w.term)
		line := b[:e]
		key := line[:keyEnd(line, w.sep, w.nkey)]
		c.n++
		if q := c.part.Partition(key); q != c.p {
			c.err = fmt.Errorf("output line %d has key %q of partition %d", c.n, key, q)
			return
		}
		if c.have {
			var bad bool
			if c.d.check != nil {
				bad = c.d.check.Compare(c.prev, line) > 0
			} else {
				bad = bytes.Compare(c.prev, key) > 0
			}
			if bad {
				c.err = fmt.Errorf("output line %d is out of order (key %q after %q)", c.n, key, w.Key(c.prev))
				return
			}
		}
		if c.d.check != nil {
			c.prev = append(c.prev[:0], line...)
		} else {
			c.prev = append(c.prev[:0], key...)
		}
		c.have = true
		c.buf = append(c.buf, b[:e+1]...)
		c.recs++
		b = b[e+1:]
	}
}

func (c *combineOut) flush() {
	if len(c.buf) > 0 && c.err == nil {
		c.err = c.pf.write(c.buf, c.recs)
	}
	c.buf, c.recs = c.buf[:0], 0
}

// end completes a last line without terminator and flushes.
func (c *combineOut) end() error {
	if c.err == nil {
		c.carry.end(c.d.w.term, c.lines)
	}
	c.flush()
	return c.err
}

// Key returns the key of line by the Writer's key spec.
func (w *Writer) Key(line []byte) []byte { return line[:keyEnd(line, w.sep, w.nkey)] }

// lineCarry cuts bytes written in arbitrary pieces into whole lines: it
// keeps a partial last line until the rest of it arrives.
type lineCarry struct{ b []byte }

// feed passes the whole lines of the carried bytes followed by p, in as
// few calls as it can, to lines.
func (c *lineCarry) feed(p []byte, term byte, lines func([]byte)) {
	if len(c.b) > 0 {
		i := bytes.IndexByte(p, term)
		if i < 0 {
			c.b = append(c.b, p...)
			return
		}
		c.b = append(c.b, p[:i+1]...)
		lines(c.b)
		c.b = c.b[:0]
		p = p[i+1:]
	}
	if j := bytes.LastIndexByte(p, term); j >= 0 {
		lines(p[:j+1])
		p = p[j+1:]
	}
	c.b = append(c.b, p...)
}

// end passes a last line that lacks its terminator, with one added.
func (c *lineCarry) end(term byte, lines func([]byte)) {
	if len(c.b) > 0 {
		c.b = append(c.b, term)
		lines(c.b)
		c.b = c.b[:0]
	}
}

// pending reports whether a partial line is carried.
func (c *lineCarry) pending() bool { return len(c.b) > 0 }
