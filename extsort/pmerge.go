package extsort

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// The final merge of arenas sorted in memory runs on every core: the key
// space is cut into ranges at splitter lines sampled from all arenas, each
// range is merged by one of par workers into buffers of its own, and one
// writer emits the ranges in order. Lines that compare equal fall in one
// range (each arena is cut at the first line not before the splitter), so
// the output, -u and -s are exactly those of a single merge.

const (
	// rangeBytes is the text a merge range aims at: small enough that the
	// workers stay busy to the end, large enough that cutting costs little.
	rangeBytes = 4 << 20
	// rangeBufs is how many output buffers a worker may fill ahead of the
	// writer.
	rangeBufs = 4
	// minParallelMerge is the least text worth merging in parallel.
	minParallelMerge = 16 << 20
)

// parallelMergeOK reports whether arenas should be merged by parallelMerge.
func parallelMergeOK(arenas []*arena, par, least int) bool {
	if par < 2 || len(arenas) < 2 {
		return false
	}
	var n int
	for _, a := range arenas {
		n += len(a.text)
	}
	return n >= least
}

// parallelMerge merges the sorted arenas, in input order, to write with par
// workers. It returns the records and bytes written and the lines -u dropped.
func parallelMerge(ctx context.Context, c *comparer, arenas []*arena, par, size int, term byte, write func([]byte) error) (records, bytes, dropped int64, err error) {
	cuts := cutRanges(c, arenas, size)
	nr := len(cuts) - 1
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
				lw := &lineWriter{term: term, cur: <-pool, free: pool, work: r.out, errc: failed}
				cur := make([]cursor, len(arenas))
				for k, a := range arenas {
					cur[k] = cursor{blk: &block{text: a.text, recs: a.recs[cuts[i][k]:cuts[i+1][k]]}, i: -1}
				}
				if ctx.Err() == nil && lw.failed() == nil {
					r.drop, r.err = mergeTo(ctx, c, cur, lw)
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
			r.owner <- b[:0]
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

// cutRanges cuts the arenas' records into ranges of about rangeBytes of
// text (size): cuts[i][k] is where range i starts in arena k (the last row holds
// the arenas' lengths). Splitters are sampled evenly from every arena and
// sorted, so ranges follow the data's distribution however it is spread.
func cutRanges(c *comparer, arenas []*arena, size int) [][]int {
	var total int
	for _, a := range arenas {
		total += len(a.text)
	}
	nr := max(2, min(4096, total/size))
	// Samples: about 4 per range, spread over the arenas by size.
	var samples [][]byte
	for _, a := range arenas {
		n := len(a.recs)
		if n == 0 {
			continue
		}
		k := max(1, 4*nr*len(a.text)/max(total, 1))
		for j := 0; j < k; j++ {
			r := &a.recs[(2*j+1)*n/(2*k)]
			samples = append(samples, a.text[r.off:r.off+r.n])
		}
	}
	slices.SortFunc(samples, c.compare)
	var splitters [][]byte
	for i := 1; i < nr; i++ {
		s := samples[i*len(samples)/nr]
		if len(splitters) > 0 && c.compare(splitters[len(splitters)-1], s) == 0 {
			continue
		}
		splitters = append(splitters, s)
	}
	cuts := make([][]int, 0, len(splitters)+2)
	cuts = append(cuts, make([]int, len(arenas)))
	for _, s := range splitters {
		row := make([]int, len(arenas))
		for k, a := range arenas {
			// The first record whose line is not before the splitter.
			row[k], _ = slices.BinarySearchFunc(a.recs, s, func(r rec, s []byte) int {
				if d := c.compare(a.text[r.off:r.off+r.n], s); d != 0 {
					return d
				}
				return 1
			})
		}
		cuts = append(cuts, row)
	}
	last := make([]int, len(arenas))
	for k, a := range arenas {
		last[k] = len(a.recs)
	}
	return append(cuts, last)
}
