package prefetch

import "unsafe"

// Line brings the cache line at p into the cache without waiting for it.
// It never faults, whatever p points to.
//
//go:noescape
func Line(p unsafe.Pointer)
