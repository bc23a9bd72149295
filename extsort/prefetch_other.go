//go:build !amd64

package extsort

import "unsafe"

func prefetch(p unsafe.Pointer) {}
