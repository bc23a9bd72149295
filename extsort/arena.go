package extsort

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxArena bounds one arena's text: record offsets are 32-bit.
const maxArena = 1<<32 - 1

// arena holds one run's lines and their sort records. Both live outside the
// Go heap in anonymous mappings with transparent huge pages: first touch of
// fresh memory costs 10-20x more in 4 KiB pages, and the garbage collector
// never needs to look at either. Pages are touched only as input arrives and
// stay mapped while the arena is reused for the next run.
type arena struct {
	size int    // budget: len(text) + 16*len(recs) <= size
	tmem []byte // text mapping, capacity size
	rmem []byte // record mapping, capacity size
	text []byte
	recs []rec
}

func newArena(size int) (*arena, error) {
	size = min(size, maxArena)
	t, err := mapAnon(size)
	if err != nil {
		return nil, err
	}
	r, err := mapAnon(size)
	if err != nil {
		unix.Munmap(t)
		return nil, err
	}
	a := &arena{size: size, tmem: t, rmem: r}
	a.reset()
	return a, nil
}

// smallPages is how much of an arena's mapping, at least, is left to 4 KiB
// pages. A huge page is zeroed whole when first touched: a sort of a few
// lines (a map task's output, often) would have paid for two of them,
// 4 MiB of zeroing, which made up a tenth of a job over many small files.
// Past the first 2 to 4 MiB the pages are huge.
const smallPages = 2 << 20

const hugePage = 2 << 20

func mapAnon(size int) ([]byte, error) {
	size = (size + 4095) &^ 4095
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("cannot allocate %d bytes: %w", size, err)
	}
	// NOHUGEPAGE for the small pages holds where the kernel makes huge
	// pages unasked (transparent_hugepage "always").
	from := min(hugeStart(uintptr(unsafe.Pointer(unsafe.SliceData(m)))), len(m))
	_ = unix.Madvise(m[:from], unix.MADV_NOHUGEPAGE)
	if from < len(m) {
		_ = unix.Madvise(m[from:], unix.MADV_HUGEPAGE)
	}
	return m, nil
}

// hugeStart returns the offset, in a mapping at addr, of the first huge
// page boundary at least smallPages in.
func hugeStart(addr uintptr) int {
	end := (addr + smallPages + hugePage - 1) &^ (hugePage - 1)
	return int(end - addr)
}

func (a *arena) reset() {
	a.text = a.tmem[:0]
	a.recs = unsafe.Slice((*rec)(unsafe.Pointer(unsafe.SliceData(a.rmem))), len(a.rmem)/16)[:0]
}

// free is the budget left for text and records.
func (a *arena) free() int { return a.size - len(a.text) - 16*len(a.recs) }

func (a *arena) release() {
	if a.tmem != nil {
		unix.Munmap(a.tmem)
		unix.Munmap(a.rmem)
		a.tmem, a.rmem, a.text, a.recs = nil, nil, nil, nil
	}
}

// grow doubles the arena for a line that does not fit, keeping its contents.
func (a *arena) grow() error {
	if a.size >= maxArena {
		return fmt.Errorf("line longer than %d bytes", maxArena)
	}
	b, err := newArena(min(2*a.size, maxArena))
	if err != nil {
		return err
	}
	b.text = append(b.text, a.text...)
	b.recs = append(b.recs, a.recs...)
	a.release()
	*a = *b
	return nil
}
