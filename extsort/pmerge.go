package extsort

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// The final merge runs on every core when its sources allow: the key space
// is cut into ranges at splitter lines sampled from all sources, each range
// is merged by one of par workers into buffers of its own, and one writer
// emits the ranges in order. An arena sorted in memory is cut at the first
// record not before the splitter (a binary search); a run is read from the
// last mark before the range, skipping lines before it, to the first line
// after it. Lines that compare equal fall in one range, so the output, -u
// and -s are exactly those of a single merge.

const (
	// rangeBytes is the text a merge range of arenas aims at: small
	// enough that the workers stay busy to the end, large enough that
	// cutting costs little. Ranges over runs are 8 times larger, as each
	// range reads again part of a mark's span in every run.
	rangeBytes = 4 << 20
	// markBytes is the span of lines between marks in a run.
	markBytes = 512 << 10
	// rangeBufs is how many output buffers a worker may fill ahead of the
	// writer.
	rangeBufs = 4
	// minParallelMerge is the least text worth merging in parallel.
	minParallelMerge = 16 << 20
)

// source is one input of the final merge: a sorted arena or a run.
type source struct {
	a *arena
	r *runFile
}

func (s source) size() int64 {
	if s.a != nil {
		return int64(len(s.a.text))
	}
	return s.r.bytes
}

// parallelMergeOK reports whether srcs should be merged by parallelMerge:
// enough text, more than one source, and for runs, marks and the memory for
// par readers of each (readers fit the budget).
func parallelMergeOK(srcs []source, par, least, readers int) bool {
	if par < 2 || len(srcs) < 2 {
		return false
	}
	var n int64
	runs := 0
	for _, s := range srcs {
		n += s.size()
		if s.r != nil {
			if len(s.r.marks) == 0 {
				return false
			}
			runs++
		}
	}
	return n >= int64(least) && runs*par <= readers
}

// parallelMerge merges srcs, in input order, to write with par workers. It
// returns the records and bytes written and the lines -u dropped.
func parallelMerge(ctx context.Context, c *comparer, srcs []source, par, size int, term byte, write func([]byte) error) (records, bytes, dropped int64, err error) {
	p := planRanges(c, srcs, size)
	nr := len(p.splitters) + 1
	par = min(par, nr)

	type rng struct {
		out   chan []byte
		owner chan []byte // the pool of the worker merging the range
		lw    *lineWriter
		drop  int64
		err   error
	}
	ranges := make([]rng, nr)
	for i := range ranges {
		ranges[i].out = make(chan []byte, rangeBufs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1) // the writer's error, seen by the workers

	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		pool := make(chan []byte, rangeBufs+1)
		for i := 0; i < rangeBufs+1; i++ {
			pool <- make([]byte, 0, outBuf)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= nr {
					return
				}
				r := &ranges[i]
				r.owner = pool
				// Its buffers are the pool's: it makes no spare ones.
				lw := &lineWriter{term: term, size: outBuf, spare: outBufs - 1, cur: <-pool, free: pool, work: r.out, errc: failed}
				if ctx.Err() == nil && lw.failed() == nil {
					r.drop, r.err = mergeTo(ctx, c, p.cursors(c, term, i), lw)
				}
				if len(lw.cur) > 0 {
					r.out <- lw.cur
				} else {
					pool <- lw.cur
				}
				r.lw = lw
				close(r.out)
			}
		}()
	}

	// The writer: ranges in order; buffers go back to their worker's pool.
	// After an error it keeps draining, so that no worker blocks.
	var werr error
	for i := range ranges {
		r := &ranges[i]
		for b := range r.out {
			if werr == nil && ctx.Err() == nil {
				if werr = write(b); werr != nil {
					failed <- werr
					cancel()
				}
			}
			// A buffer made for one long line is not the pool's: the
			// pool has room for its own buffers only.
			if cap(b) == outBuf {
				r.owner <- b[:0]
			}
		}
		// The range is closed: its worker has finished with it.
		records += r.lw.records
		bytes += r.lw.bytes
		dropped += r.drop
		if err == nil && r.err != nil {
			err = r.err
		}
	}
	wg.Wait()
	if werr != nil {
		return records, bytes, dropped, werr
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return records, bytes, dropped, err
}

// rangePlan is where the merge ranges start in each source: range i holds
// the lines from splitters[i-1] (included) to splitters[i] (excluded).
// at[j][k] is, for arena k, the first record not before splitters[j-1], and
// for run k, the last mark whose line is before it (at[0] is all zeros;
// at[len(splitters)+1] holds the arenas' lengths and the runs' last marks).
type rangePlan struct {
	srcs      []source
	splitters [][]byte
	at        [][]int
}

// planRanges cuts srcs into ranges of about size bytes of text (8 times
// more when there are runs). Splitters are sampled evenly from every
// source by size and sorted, so ranges follow the data's distribution
// however it is spread.
func planRanges(c *comparer, srcs []source, size int) *rangePlan {
	var total int64
	runs := false
	for _, s := range srcs {
		total += s.size()
		runs = runs || s.r != nil
	}
	if runs {
		size *= 8
	}
	nr := int(max(2, min(4096, total/int64(max(size, 1)))))
	// Samples: about 4 per range; a run's are its marks.
	var samples [][]byte
	for _, s := range srcs {
		if s.r != nil {
			for _, m := range s.r.marks[1:] {
				samples = append(samples, m.first)
			}
			continue
		}
		n := len(s.a.recs)
		if n == 0 {
			continue
		}
		k := int(max(1, 4*int64(nr)*s.size()/max(total, 1)))
		if runs {
			k = int(max(1, s.size()/markBytes))
		}
		for j := 0; j < k; j++ {
			r := &s.a.recs[(2*j+1)*n/(2*k)]
			samples = append(samples, s.a.text[r.off:r.off+r.n])
		}
	}
	slices.SortFunc(samples, c.compare)
	p := &rangePlan{srcs: srcs}
	for i := 1; i < nr && len(samples) > 0; i++ {
		sp := samples[i*len(samples)/nr]
		if len(p.splitters) > 0 && c.compare(p.splitters[len(p.splitters)-1], sp) >= 0 {
			continue
		}
		p.splitters = append(p.splitters, sp)
	}
	p.at = append(p.at, make([]int, len(srcs)))
	for _, sp := range p.splitters {
		row := make([]int, len(srcs))
		for k, s := range srcs {
			if s.a != nil {
				// The first record not before the splitter.
				row[k], _ = slices.BinarySearchFunc(s.a.recs, sp, func(r rec, sp []byte) int {
					return c.compare(s.a.text[r.off:r.off+r.n], sp)
				})
				continue
			}
			// The last mark before the splitter (the first mark comes
			// before every line).
			m, _ := slices.BinarySearchFunc(s.r.marks[1:], sp, func(m runMark, sp []byte) int {
				return c.compare(m.first, sp)
			})
			row[k] = m
		}
		p.at = append(p.at, row)
	}
	end := make([]int, len(srcs))
	for k, s := range srcs {
		if s.a != nil {
			end[k] = len(s.a.recs)
		} else {
			end[k] = len(s.r.marks) - 1
		}
	}
	p.at = append(p.at, end)
	return p
}

// cursors returns the cursors of range i over the sources, in their order.
func (p *rangePlan) cursors(c *comparer, term byte, i int) []cursor {
	var lo, hi []byte
	if i > 0 {
		lo = p.splitters[i-1]
	}
	if i < len(p.splitters) {
		hi = p.splitters[i]
	}
	cur := make([]cursor, len(p.srcs))
	for k, s := range p.srcs {
		from, to := p.at[i][k], p.at[i+1][k]
		if s.a != nil {
			cur[k] = cursor{blk: &block{text: s.a.text, recs: s.a.recs[from:to]}, i: -1}
			continue
		}
		// Lines before mark from are before lo; lines from the mark after
		// mark to on are not before hi.
		off, end := s.r.marks[from].off, s.r.size
		if to+1 < len(s.r.marks) {
			end = s.r.marks[to+1].off
		}
		if off >= end {
			cur[k] = cursor{blk: &block{}, i: -1}
			continue
		}
		cur[k] = readerCursor(s.r.sectionReader(c, term, off, end))
		cur[k].bound(c, lo, hi)
	}
	return cur
}
