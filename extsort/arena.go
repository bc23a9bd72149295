package extsort

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
	maps *arenaMaps // the mappings, to unmap when a pooled arena is dropped
	// cleanup unmaps maps when the pool drops the arena (set while pooled).
	cleanup runtime.Cleanup
}

// arenaMaps are an arena's mappings.
type arenaMaps struct{ t, r []byte }

func (m *arenaMaps) unmap() {
	if m.t != nil {
		unix.Munmap(m.t)
		unix.Munmap(m.r)
		m.t, m.r = nil, nil
	}
}

// unmapPooled unmaps the mappings of an arena the pool dropped.
func unmapPooled(m *arenaMaps) {
	m.unmap()
	pooledArenas.Add(-1)
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
	a := &arena{size: size, tmem: t, rmem: r, maps: &arenaMaps{t, r}}
	a.reset()
	return a, nil
}

// arenaPool keeps the arenas of finished sorts, with the pages they touched,
// for the next sort of the same budget: a job's map tasks each sort their
// output, one after another, and faulting in fresh pages for each (slow
// in some virtual machines, where the host backs them anew as well) cost
// more than the sorting. A pooled arena keeps at most its first
// keepPooled bytes of each mapping, and the pool holds about
// maxPooledArenas at most (a big sort finishes with several).
var arenaPool sync.Pool

// pooledArenas counts the arenas in arenaPool.
var pooledArenas atomic.Int32

const maxPooledArenas = 4

// keepPooled is how much of each of its mappings a pooled arena keeps
// (rounded up to a huge page boundary); the pages past it are given back.
const keepPooled = 16 << 20

// getArena returns an empty arena of the given budget, from the pool when
// it has one.
func getArena(size int) (*arena, error) {
	if a, _ := arenaPool.Get().(*arena); a != nil {
		a.cleanup.Stop()
		pooledArenas.Add(-1)
		if a.size == min(size, maxArena) {
			a.reset()
			return a, nil
		}
		a.release()
	}
	return newArena(size)
}

// recycle puts a in the pool, giving back its pages past keepPooled; a
// must not be used after.
func (a *arena) recycle() {
	if a.tmem == nil {
		return
	}
	if pooledArenas.Load() >= maxPooledArenas {
		a.release()
		return
	}
	for _, m := range [][]byte{a.tmem, a.rmem} {
		if keep := hugeBoundary(uintptr(unsafe.Pointer(unsafe.SliceData(m))), keepPooled); keep < len(m) {
			_ = unix.Madvise(m[keep:], unix.MADV_DONTNEED)
		}
	}
	a.reset()
	// Only a pooled arena is unmapped by a cleanup: arenas in use are
	// copied (grown, or put back to the budget), and a cleanup of the
	// copy's source would unmap them.
	a.cleanup = runtime.AddCleanup(a, unmapPooled, a.maps)
	pooledArenas.Add(1)
	arenaPool.Put(a)
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
func hugeStart(addr uintptr) int { return hugeBoundary(addr, smallPages) }

// hugeBoundary returns the offset, in a mapping at addr, of the first huge
// page boundary at least n bytes in.
func hugeBoundary(addr uintptr, n int) int {
	end := (addr + uintptr(n) + hugePage - 1) &^ (hugePage - 1)
	return int(end - addr)
}

func (a *arena) reset() {
	a.text = a.tmem[:0]
	a.recs = unsafe.Slice((*rec)(unsafe.Pointer(unsafe.SliceData(a.rmem))), len(a.rmem)/16)[:0]
}

// free is the budget left for text and records.
func (a *arena) free() int { return a.size - len(a.text) - 16*len(a.recs) }

// release unmaps a's memory.
func (a *arena) release() {
	if a.tmem != nil {
		a.maps.unmap()
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
