//go:build !amd64

package prefetch

import "unsafe"

// Line brings the cache line at p into the cache without waiting for it
// (a no-op on this architecture).
func Line(p unsafe.Pointer) {}
