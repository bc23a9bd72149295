package shuffle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mrpipe/mrpipe/extsort"
)

// MergeOptions says how to merge parts that have no manifest; parts with
// one are merged by the order their manifest records.
type MergeOptions struct {
	Key            KeySpec
	Comparator     string // KeyFieldBasedComparator options; "": key bytes
	ZeroTerminated bool
	// Memory bounds the merge's memory (0: extsort.DefaultMemory), and so
	// how many parts it reads at once (see Merge); TempDirs are for the
	// runs of a merge in batches.
	Memory   int64
	TempDirs []string
	// FanIn, when not 0, is how many parts are read at once instead.
	FanIn int
}

// partMemory is about what an open part costs a merge at most: its
// reader's buffer (256 KiB), its S2 block compressed and decoded (256 KiB
// each) and the merge's own buffer.
const partMemory = 1 << 20

// partCost is about what part pt costs a merge while it is open: a small
// part's buffers are its size.
func partCost(pt *Part) int64 {
	if pt.Info == nil {
		return partMemory
	}
	return min(4*pt.Info.FileBytes+16<<10, partMemory)
}

func (o MergeOptions) memory() int64 {
	if o.Memory > 0 {
		return o.Memory
	}
	return extsort.DefaultMemory()
}

// fileLimit returns how many parts may be open at once: the open-file
// limit, less some for everything else.
func fileLimit() int {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	return int(rl.Cur) - 32
}

// onePass reports whether parts are merged in one pass, all open at once:
// there are no more than FanIn, or the open-file limit allows them and
// their buffers take at most half the memory.
func (o MergeOptions) onePass(parts []*Part) bool {
	if o.FanIn > 0 {
		return len(parts) <= o.FanIn
	}
	if len(parts) > fileLimit() {
		return false
	}
	var need int64
	for _, pt := range parts {
		need += partCost(pt)
	}
	return need <= o.memory()/2
}

// fanIn returns how many parts a merge in batches reads at once: as many
// as half the memory holds (partMemory each) and the open-file limit
// allows.
func (o MergeOptions) fanIn() int {
	if o.FanIn > 0 {
		return max(o.FanIn, 2)
	}
	return max(min(int(o.memory()/2/partMemory), fileLimit()), 2)
}

// MergeStats counts what a Merge read and wrote.
type MergeStats struct {
	Parts          int
	Records, Bytes int64 // read (uncompressed)
	OutRecords     int64
	OutBytes       int64
	Sorted         bool // some parts were not sorted, so all were sorted, not merged
}

// mergeOrder is the order the parts are merged by.
type mergeOrder struct {
	key        KeySpec
	comparator string
	zero       bool
	sorted     bool
}

func orderOf(parts []*Part, o MergeOptions) (mergeOrder, error) {
	mo := mergeOrder{key: o.Key, comparator: o.Comparator, zero: o.ZeroTerminated, sorted: true}
	var first *Part
	for _, pt := range parts {
		m := pt.Manifest
		if m == nil {
			continue
		}
		if !m.Sorted {
			mo.sorted = false
		}
		if first == nil {
			first = pt
			mo.key = KeySpec{Separator: m.Separator, Fields: m.KeyFields}
			mo.comparator = m.Comparator
			mo.zero = m.ZeroTerminated
			continue
		}
		f := first.Manifest
		switch {
		case m.ZeroTerminated != f.ZeroTerminated:
			return mo, fmt.Errorf("%s and %s: records end differently (-z)", first.Path, pt.Path)
		case len(m.Partitions) != len(f.Partitions) || m.Partitioner != f.Partitioner:
			// Their partition P holds different keys: merged, a key could
			// reach two reducers.
			return mo, fmt.Errorf("%s and %s: partitioned differently (%d partitions, %s; %d partitions, %s)",
				first.Path, pt.Path, len(f.Partitions), f.Partitioner, len(m.Partitions), m.Partitioner)
		case !m.Sorted || !f.Sorted:
		case m.Separator != f.Separator || m.KeyFields != f.KeyFields:
			return mo, fmt.Errorf("%s and %s: sorted by different keys (separator %q, %d fields; separator %q, %d fields)",
				first.Path, pt.Path, f.Separator, f.KeyFields, m.Separator, m.KeyFields)
		case m.Comparator != f.Comparator:
			return mo, fmt.Errorf("%s and %s: sorted by different comparators (%q, %q)", first.Path, pt.Path, f.Comparator, m.Comparator)
		}
	}
	return mo, mo.key.Validate()
}

// Merge reads the parts, verified, and writes them to w: a k-way merge,
// stable in the order of parts (equal keys come from earlier parts first).
// When a manifest says its part is not sorted, the parts are sorted
// instead (within o.Memory, stable: ties keep the order of parts, then of
// lines), so the output is the same as if they had been sorted. A
// *VerifyError from any part stops the merge and is returned as it is.
//
// Parts whose buffers (up to a megabyte each, by their size) take more
// than half the memory, or more than may be open at once, are merged in
// batches, in order, into temporary runs that are merged in turn, as
// Hadoop merges at most io.sort.factor map outputs at a time: a reduce
// over thousands of map outputs would otherwise need gigabytes and as
// many open files. Otherwise they are merged in one pass.
func Merge(ctx context.Context, parts []*Part, w io.Writer, o MergeOptions) (MergeStats, error) {
	st := MergeStats{Parts: len(parts)}
	mo, err := orderOf(parts, o)
	if err != nil {
		return st, err
	}
	if mo.sorted && mo.comparator == "" && o.onePass(parts) {
		var opened int
		st, opened, err = kmergeParts(ctx, parts, w, mo, st)
		if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
			return st, err
		}
		// Other merges in this process (reduce tasks at once) hold
		// files too: in batches of half what could be opened.
		st = MergeStats{Parts: len(parts)}
		o.FanIn = max(2, opened/2)
	}
	var keys []extsort.Key
	if mo.comparator != "" {
		if keys, err = ComparatorKeys(mo.comparator, mo.key.N()); err != nil {
			return st, err
		}
	} else {
		keys = []extsort.Key{{StartField: 1, EndField: mo.key.N()}}
	}
	so := extsort.Options{
		Keys: keys, Separator: string(mo.key.Sep()), Stable: true,
		ZeroTerminated: mo.zero, Memory: o.Memory, TempDirs: o.TempDirs,
	}
	var es extsort.Stats
	if mo.sorted {
		so.BatchSize = o.fanIn()
		es, err = mergeBatches(ctx, parts, w, so, &st)
	} else {
		st.Sorted = true
		es, err = sortParts(ctx, parts, w, so, &st)
	}
	st.OutRecords, st.OutBytes = es.OutRecords, es.OutBytes
	var ve *VerifyError
	if errors.As(err, &ve) {
		return st, ve
	}
	var re *ReadError
	if errors.As(err, &re) {
		return st, re
	}
	if err == nil && st.OutRecords != es.Records {
		err = fmt.Errorf("internal error: merged %d lines, wrote %d", es.Records, st.OutRecords)
	}
	return st, err
}

// mergeBatches merges sorted parts with extsort, which reads them a batch
// at a time (so.BatchSize): each part is opened when the merge reaches it
// and closed once read, all on this goroutine, once its reader has
// stopped; its counts are taken then, and its buffers let go.
func mergeBatches(ctx context.Context, parts []*Part, w io.Writer, so extsort.Options, st *MergeStats) (extsort.Stats, error) {
	s, err := extsort.New(so)
	if err != nil {
		return extsort.Stats{}, err
	}
	inputs := make([]extsort.Input, len(parts))
	for i, pt := range parts {
		inputs[i] = extsort.Input{Name: pt.Path, Open: func() (io.ReadCloser, error) {
			r, err := pt.Open()
			if err != nil {
				return nil, err
			}
			vr := r.(*verifyReader)
			return closer{vr, func() error {
				st.Records += vr.records
				st.Bytes += vr.bytes
				return vr.Close()
			}}, nil
		}}
	}
	return s.Merge(ctx, inputs, w)
}

// sortParts sorts the parts with extsort, opened all at once here (Sort
// reads them in order on a goroutine of its own, which it may leave
// running when it fails: their counts are taken only when it succeeds).
func sortParts(ctx context.Context, parts []*Part, w io.Writer, so extsort.Options, st *MergeStats) (extsort.Stats, error) {
	s, err := extsort.New(so)
	if err != nil {
		return extsort.Stats{}, err
	}
	readers := make([]*verifyReader, 0, len(parts))
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	inputs := make([]extsort.Input, len(parts))
	for i, pt := range parts {
		r, err := pt.Open()
		if err != nil {
			return extsort.Stats{}, err
		}
		readers = append(readers, r.(*verifyReader))
		inputs[i] = extsort.Input{Name: pt.Path, Reader: r}
	}
	es, err := s.Sort(ctx, inputs, w)
	if err == nil {
		for _, r := range readers {
			st.Records += r.records
			st.Bytes += r.bytes
		}
	}
	return es, err
}

// kmergeParts merges parts sorted by key bytes with a kmerge, all open at
// once. It returns how many parts it opened.
func kmergeParts(ctx context.Context, parts []*Part, w io.Writer, mo mergeOrder, st MergeStats) (MergeStats, int, error) {
	readers := make([]io.Reader, 0, len(parts))
	defer func() {
		for _, r := range readers {
			r.(io.Closer).Close()
		}
	}()
	for _, pt := range parts {
		r, err := pt.Open()
		if err != nil {
			return st, len(readers), err
		}
		readers = append(readers, r)
	}
	m := &kmerge{sep: mo.key.Sep(), term: '\n', nkey: mo.key.N(), w: w}
	if mo.zero {
		m.term = 0
	}
	err := m.run(ctx, readers)
	for _, r := range readers {
		st.Records += r.(*verifyReader).records
		st.Bytes += r.(*verifyReader).bytes
	}
	st.OutRecords, st.OutBytes = m.records, m.bytes
	return st, len(readers), err
}

// closer is a reader with its own Close.
type closer struct {
	io.Reader
	close func() error
}

func (c closer) Close() error { return c.close() }
