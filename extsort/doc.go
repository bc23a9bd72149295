// Package extsort is an external merge sort for lines of bytes, compatible
// with GNU sort under LC_ALL=C: the same keys (-k, -t), ordering options
// (-n -r -f -b), stability (-s), uniqueness (-u), merge (-m) and check (-c)
// semantics, and byte-identical output.
//
// A [Sorter] is made by [New] from [Options]. [Sorter.Sort] reads its
// inputs into an arena (memory outside the Go heap, sized by the memory
// budget), splits it into lines and gives each a 16-byte record holding an
// order-preserving 8-byte prefix of its first key. Records are sorted by an
// MSD radix sort on the prefixes, falling back to full comparisons only
// where prefixes tie. While one arena is sorted and written to a temporary
// file as an S2-compressed run, the next is filled. The last arena stays in
// memory and is merged with the runs by a loser tree that also compares
// prefixes first; runs are read ahead by goroutines of their own, and output
// is written by another, so the work spreads over the cores. The final merge
// itself runs on every core: its key space is cut into ranges at splitters
// sampled from all sources (arenas are cut by binary search, runs at marks,
// line boundaries where an S2 chunk starts), each range is merged by a
// worker and the ranges are written in order.
//
// Memory: the budget (Options.Memory, default [DefaultMemory]) covers the
// two arenas, then the last arena and the merge's read buffers. Runs are
// merged in one pass when the fan-in allows; otherwise batches of runs are
// merged first. Temporary files are unlinked as soon as they are created, so
// none is left behind, even after SIGKILL.
//
// Every run is counted as it is written and checked as it is read back (S2
// also checks a CRC per block); a Sort that would lose a line fails instead.
package extsort
