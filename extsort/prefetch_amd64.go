package extsort

import "unsafe"

// prefetch asks the CPU to bring the cache line at p into the cache
// without waiting for it. Sorting and merging read lines scattered over a
// large arena; prefetching a few records ahead overlaps those misses.
//
//go:noescape
func prefetch(p unsafe.Pointer)
