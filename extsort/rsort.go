package extsort

import (
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mrpipe/mrpipe/extsort/prefetch"
)

// rec is a sort record: a line's order-preserving key prefix and where the
// line is in its arena's text. Records are 16 bytes and pointer-free, so
// sorting them touches neither the text nor the garbage collector until
// prefixes tie.
type rec struct {
	pfx uint64
	off uint32
	n   uint32
}

// smallSort is the size below which buckets are sorted by comparison.
const smallSort = 48

// recSorter sorts the records of one arena: an MSD radix sort on the
// prefix bytes (American flag, in place), refilling prefixes from deeper
// key bytes for plain keys, with comparison sorts for small buckets and for
// records whose prefixes tie.
type recSorter struct {
	c    *comparer
	text []byte
}

func (s *recSorter) line(r *rec) []byte { return s.text[r.off : r.off+r.n] }

// cmp is the full order of two records: prefix, then the lines, then (when
// ties must keep input order) their offsets.
func (s *recSorter) cmp(a, b *rec) int {
	if a.pfx != b.pfx {
		if a.pfx < b.pfx {
			return -1
		}
		return 1
	}
	if s.c.pmode == pfxLine && a.n <= 8 && b.n <= 8 {
		// The prefixes hold both lines whole, padded with zero bytes.
		if s.c.preverse {
			return int(b.n) - int(a.n)
		}
		return int(a.n) - int(b.n)
	}
	if d := s.c.compare(s.line(a), s.line(b)); d != 0 || !s.c.stable {
		return d
	}
	return int(a.off) - int(b.off)
}

func (s *recSorter) cmpNoPfx(a, b rec) int {
	if d := s.c.compare(s.line(&a), s.line(&b)); d != 0 || !s.c.stable {
		return d
	}
	return int(a.off) - int(b.off)
}

func (s *recSorter) insertion(r []rec) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && s.cmp(&r[j], &r[j-1]) < 0; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// sort sorts recs with up to par goroutines.
func (s *recSorter) sort(recs []rec, par int) {
	if par <= 1 || len(recs) < 1<<16 {
		s.radix(recs, 56, 0)
		return
	}
	// Distribute on the most significant byte in this goroutine, then sort
	// the buckets in parallel, largest first.
	shift := 56
	for {
		b0 := byte(recs[0].pfx >> shift)
		same := true
		for i := range recs {
			if byte(recs[i].pfx>>shift) != b0 {
				same = false
				break
			}
		}
		if !same || shift == 0 {
			break
		}
		shift -= 8
	}
	bounds := s.distribute(recs, shift)
	type job struct{ lo, hi int }
	var jobs []job
	for b := 0; b < 256; b++ {
		if bounds[b+1]-bounds[b] > 1 {
			jobs = append(jobs, job{bounds[b], bounds[b+1]})
		}
	}
	slices.SortFunc(jobs, func(x, y job) int { return (y.hi - y.lo) - (x.hi - x.lo) })
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				b := recs[jobs[i].lo:jobs[i].hi]
				if shift == 0 {
					s.ties(b, 0)
				} else {
					s.radix(b, shift-8, 0)
				}
			}
		}()
	}
	wg.Wait()
}

// distribute permutes recs in place into 256 buckets by the prefix byte at
// shift and returns the bucket bounds.
func (s *recSorter) distribute(recs []rec, shift int) [257]int {
	var count [256]int
	for i := range recs {
		count[byte(recs[i].pfx>>shift)]++
	}
	var bounds [257]int
	sum := 0
	for b := 0; b < 256; b++ {
		bounds[b] = sum
		sum += count[b]
	}
	bounds[256] = sum
	var next [256]int
	copy(next[:], bounds[:256])
	for b := 0; b < 256; b++ {
		end := bounds[b+1]
		for next[b] < end {
			r := recs[next[b]]
			d := byte(r.pfx >> shift)
			for int(d) != b {
				j := next[d]
				next[d]++
				recs[j], r = r, recs[j]
				d = byte(r.pfx >> shift)
			}
			recs[next[b]] = r
			next[b]++
		}
	}
	return bounds
}

// radix sorts recs whose prefixes agree above bit shift+8; depth is how
// many key bytes precede the current prefix.
func (s *recSorter) radix(recs []rec, shift, depth int) {
	for {
		if len(recs) <= smallSort {
			s.insertion(recs)
			return
		}
		b0 := byte(recs[0].pfx >> shift)
		same := true
		for i := 1; i < len(recs); i++ {
			if byte(recs[i].pfx>>shift) != b0 {
				same = false
				break
			}
		}
		if !same {
			break
		}
		if shift == 0 {
			s.ties(recs, depth)
			return
		}
		shift -= 8
	}
	bounds := s.distribute(recs, shift)
	for b := 0; b < 256; b++ {
		bk := recs[bounds[b]:bounds[b+1]]
		if len(bk) < 2 {
			continue
		}
		// Small buckets are sorted by comparisons, which read the text of
		// records whose prefixes tie: fetch the next bucket's lines now so
		// those cache misses overlap this bucket's work.
		if b < 255 && bounds[b+2]-bounds[b+1] <= smallSort {
			s.prefetchText(recs[bounds[b+1]:bounds[b+2]])
		}
		if shift == 0 {
			s.ties(bk, depth)
		} else {
			s.radix(bk, shift-8, depth)
		}
	}
}

// ties sorts records whose 8-byte prefixes at depth are all equal. For
// plain keys it loads the next 8 key bytes and goes on with the radix sort;
// otherwise, or when every key has ended, it compares whole lines. Prefixes
// are restored to depth 0 afterwards, because the merge compares them.
func (s *recSorter) ties(recs []rec, depth int) {
	if s.c.plain && len(recs) > smallSort {
		if s.c.pmode == pfxLine && depth == 0 && allShort(recs) {
			s.byLength(recs) // the prefixes hold the lines whole
			return
		}
		saved := recs[0].pfx
		more := false
		for i := range recs {
			if i+lookAhead < len(recs) {
				if off := recs[i+lookAhead].off; int(off) < len(s.text) {
					prefetch.Line(unsafe.Pointer(&s.text[off]))
				}
			}
			var m bool
			recs[i].pfx, m = s.c.deepPrefix(s.line(&recs[i]), depth+8)
			more = more || m
		}
		switch {
		case more || !allEqualPfx(recs):
			s.radix(recs, 56, depth+8)
		case s.c.pmode == pfxLine:
			// Whole lines, equal up to zero padding: the shorter ones
			// (which lack the padding's zero bytes) go first.
			s.byLength(recs)
		default:
			slices.SortFunc(recs, s.cmpNoPfx)
		}
		if depth == 0 {
			// Every record of the group had this prefix.
			for i := range recs {
				recs[i].pfx = saved
			}
		}
		return
	}
	slices.SortFunc(recs, s.cmpNoPfx)
}

// prefetchText starts loading the first bytes of the records' lines into
// the cache.
func (s *recSorter) prefetchText(recs []rec) {
	for i := range recs {
		if off := recs[i].off; int(off) < len(s.text) {
			prefetch.Line(unsafe.Pointer(&s.text[off]))
		}
	}
}

// byLength orders records of lines that are equal but for trailing NUL
// bytes: by length, longest first when reversed. Lines of one length are
// identical, and their order does not show in the output.
func (s *recSorter) byLength(recs []rec) {
	for i := 1; i < len(recs); i++ {
		if recs[i].n != recs[0].n {
			rev := s.c.preverse
			slices.SortFunc(recs, func(a, b rec) int {
				if rev {
					return int(b.n) - int(a.n)
				}
				return int(a.n) - int(b.n)
			})
			return
		}
	}
}

// allShort reports whether every line fits in its 8-byte prefix.
func allShort(recs []rec) bool {
	for i := range recs {
		if recs[i].n > 8 {
			return false
		}
	}
	return true
}

func allEqualPfx(recs []rec) bool {
	for i := 1; i < len(recs); i++ {
		if recs[i].pfx != recs[0].pfx {
			return false
		}
	}
	return true
}
