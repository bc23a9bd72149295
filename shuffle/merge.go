package shuffle

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// partMemory is about what an open part costs a merge: its reader's
// buffer (256 KiB), its S2 block compressed and decoded (256 KiB each)
// and the merge's own buffer.
const partMemory = 1 << 20

// fanIn returns how many parts a merge reads at once: as many as half
// the memory holds (partMemory each), and the open-file limit allows.
func (o MergeOptions) fanIn() int {
	if o.FanIn > 0 {
		return max(o.FanIn, 2)
	}
	mem := o.Memory
	if mem <= 0 {
		mem = extsort.DefaultMemory()
	}
	f := int(mem / 2 / partMemory)
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		f = min(f, int(rl.Cur)-32)
	}
	return max(f, 2)
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
// Parts beyond what the memory allows to read at once (a megabyte each,
// for buffers; see MergeOptions) are merged in batches, in order, into
// temporary runs that are merged in turn, as Hadoop merges at most
// io.sort.factor map outputs at a time: a reduce over thousands of map
// outputs would otherwise need gigabytes and as many open files. Up to
// that many, they are merged in one pass.
func Merge(ctx context.Context, parts []*Part, w io.Writer, o MergeOptions) (MergeStats, error) {
	st := MergeStats{Parts: len(parts)}
	mo, err := orderOf(parts, o)
	if err != nil {
		return st, err
	}
	if mo.sorted && mo.comparator == "" && len(parts) <= o.fanIn() {
		return kmergeParts(ctx, parts, w, mo, st)
	}
	// Each part is opened when the sort reaches it and closed once read.
	counters := make([]*verifyReader, len(parts))
	defer func() {
		for _, c := range counters {
			if c != nil {
				c.Close()
			}
		}
	}()
	total := func() {
		for _, c := range counters {
			if c != nil {
				st.Records += c.records
				st.Bytes += c.bytes
			}
		}
	}
	var keys []extsort.Key
	if mo.comparator != "" {
		if keys, err = ComparatorKeys(mo.comparator, mo.key.N()); err != nil {
			return st, err
		}
	} else {
		keys = []extsort.Key{{StartField: 1, EndField: mo.key.N()}}
	}
	s, err := extsort.New(extsort.Options{
		Keys: keys, Separator: string(mo.key.Sep()), Stable: true,
		ZeroTerminated: mo.zero, Memory: o.Memory, TempDirs: o.TempDirs,
		BatchSize: o.fanIn(),
	})
	if err != nil {
		return st, err
	}
	inputs := make([]extsort.Input, len(parts))
	for i, pt := range parts {
		inputs[i] = extsort.Input{Name: pt.Path, Open: func() (io.ReadCloser, error) {
			r, err := pt.Open()
			if err != nil {
				return nil, err
			}
			vr := r.(*verifyReader)
			counters[i] = vr
			return vr, nil
		}}
	}
	var es extsort.Stats
	if mo.sorted {
		es, err = s.Merge(ctx, inputs, w)
	} else {
		st.Sorted = true
		es, err = s.Sort(ctx, inputs, w)
	}
	total()
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

// kmergeParts merges parts sorted by key bytes with a kmerge, all open at
// once.
func kmergeParts(ctx context.Context, parts []*Part, w io.Writer, mo mergeOrder, st MergeStats) (MergeStats, error) {
	readers := make([]io.Reader, 0, len(parts))
	defer func() {
		for _, r := range readers {
			r.(io.Closer).Close()
		}
	}()
	for _, pt := range parts {
		r, err := pt.Open()
		if err != nil {
			return st, err
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
	return st, err
}
