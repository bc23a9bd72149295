package streaming

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mrpipe/mrpipe/extsort/prefetch"
)

// sumTable is the pre-combiner's hash table for sum, the most common
// combiner: open addressing over flat 32-byte slots holding the key's
// hash, its length, the running sum and the key itself when it is 16
// bytes or shorter (a longer key's first 8 bytes and its place in a key
// arena). A record then costs a hash and usually one slot, in one cache
// line, and no allocation: with the key kept apart, comparing it was a
// second cache miss for every key not recently seen.
type sumTable struct {
	seed   maphash.Seed // for keys longer than 32 bytes
	s0, s1 uint64       // for keys of up to 32 bytes
	s2, s3 uint64       // for keys of 17 to 32
	slots  []sumSlot
	mem    *slotMem // the mapping holding slots, when it is not heap memory
	used   int
	keys   []byte   // keys longer than 16 bytes
	order  []uint32 // slots in insertion order, for a deterministic output
}

type sumSlot struct {
	hash uint32 // the low bits of the key's hash
	nf   uint32 // the key's length << 2 | slotFull | slotFloat
	v    uint64 // the sum: an int64, or a float64's bits with slotFloat
	// k0 and k1 hold the key as keyWords gives it; for a key longer than
	// 16 bytes k1 is its offset in the arena instead.
	k0, k1 uint64
}

// A table starts with initialSlots slots, and grows four times over
// while smaller than quadrupleBelow, then twice over: fresh memory (the
// old slots are left for the garbage collector) costs far more than the
// hashing in some virtual machines, a page fault each 4 KiB, and growing
// in fewer steps leaves half as much. A new table's pages are touched only
// as keys land in them, so a small job costs a few pages.
const (
	initialSlots   = 1 << 16
	quadrupleBelow = 1 << 17
)

const (
	slotFull = 1 << iota
	slotFloat
	slotFlags = 2 // bits of nf taken by the flags

	inlineKey = 16        // longest key held in its slot
	maxSumKey = 1<<30 - 1 // longest key a slot can hold the length of
)

// keyWords encodes key in two words. For keys of equal length up to 16
// bytes the words are equal exactly when the keys are: 8 to 16 bytes are
// its first and last 8 (overlapping), 4 to 7 its first and last 4, and
// shorter keys their bytes. For a longer key, k0 is its first 8 bytes.
func keyWords(key []byte) (k0, k1 uint64) {
	n := len(key)
	switch {
	case n >= 8:
		return binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(key)) | uint64(binary.LittleEndian.Uint32(key[n-4:]))<<32, 0
	}
	for i, c := range key {
		k0 |= uint64(c) << (8 * i)
	}
	return k0, 0
}

// appendKey appends the key of slot s to out.
func (t *sumTable) appendKey(out []byte, s *sumSlot) []byte {
	n := int(s.nf >> slotFlags)
	if n > inlineKey {
		return append(out, t.keys[s.k1:s.k1+uint64(n)]...)
	}
	var w [16]byte
	binary.LittleEndian.PutUint64(w[:], s.k0)
	binary.LittleEndian.PutUint64(w[8:], s.k1)
	switch {
	case n >= 8: // first 8, then the rest from the last 8
		return append(append(out, w[:8]...), w[16-(n-8):]...)
	case n >= 4: // first 4, then the rest from the last 4
		return append(append(out, w[:4]...), w[8-(n-4):8]...)
	}
	return append(out, w[:n]...)
}

func newSumTable() *sumTable {
	t := &sumTable{seed: maphash.MakeSeed(), s0: rand.Uint64(), s1: rand.Uint64(), s2: rand.Uint64(), s3: rand.Uint64(), slots: make([]sumSlot, initialSlots), mem: &slotMem{}}
	// A table dropped (by sumTables, or by a PreCombiner not released)
	// gives its mapping back.
	runtime.AddCleanup(t, (*slotMem).free, t.mem)
	return t
}

// sumTables keeps emptied tables for the next pre-combiner: a job's map
// tasks come one after another, and growing a table anew for each
// (fresh memory, page faults, the runtime giving pages back in between)
// cost more than its hashing. It is a free list rather than a sync.Pool,
// which drops what it holds at every garbage collection: in a job that
// was every other map task, and the faults of the tables grown again took
// a twentieth of the framework's CPU. It holds at most maxFreeTables,
// fewer than that unless as many were in use at once (one a running map
// task), and none bigger than keepTableBytes.
var sumTables struct {
	mu   sync.Mutex
	free []*sumTable
}

const maxFreeTables = 4

// getSumTable returns an empty table.
func getSumTable() *sumTable {
	sumTables.mu.Lock()
	defer sumTables.mu.Unlock()
	if n := len(sumTables.free); n > 0 {
		t := sumTables.free[n-1]
		sumTables.free[n-1] = nil
		sumTables.free = sumTables.free[:n-1]
		return t
	}
	return newSumTable()
}

// keepTableBytes bounds the slots of a table the free list keeps: a
// bigger one (a task with more distinct keys) is left to the garbage
// collector, so that an idle process holds at most maxFreeTables times
// this much; growing it again is a small part of its next task's work.
const keepTableBytes = 16 << 20

// putSumTable empties t and keeps it for getSumTable.
func putSumTable(t *sumTable) {
	if len(t.slots)*int(unsafe.Sizeof(sumSlot{})) > keepTableBytes {
		return
	}
	t.reset()
	sumTables.mu.Lock()
	defer sumTables.mu.Unlock()
	if len(sumTables.free) < maxFreeTables {
		sumTables.free = append(sumTables.free, t)
	}
}

// reset empties t.
func (t *sumTable) reset() {
	t.empty()
}

// empty forgets every key. When few slots are used it clears just those,
// leaving alone the pages of the table that no key touched.
func (t *sumTable) empty() {
	if t.used < len(t.slots)/16 {
		for _, j := range t.order {
			t.slots[j] = sumSlot{}
		}
	} else {
		clear(t.slots)
	}
	t.keys, t.order, t.used = t.keys[:0], t.order[:0], 0
}

// hash returns the hash in t of key, whose keyWords are k0 and k1. A key
// of up to 16 bytes is hashed from its words, by one multiplication of
// them mixed with t's seeds (as wyhash mixes), and one of 17 to 32 bytes
// by two; that costs a fraction of a call to maphash, which hashes the
// longer keys.
func (t *sumTable) hash(key []byte, k0, k1 uint64) uint32 {
	n := len(key)
	if n > inlineKey {
		if n > 2*inlineKey {
			return uint32(maphash.Bytes(t.seed, key))
		}
		// 17 to 32 bytes: its first and last 16, overlapping.
		k2 := binary.LittleEndian.Uint64(key[8:])
		k3 := binary.LittleEndian.Uint64(key[n-16:]) // k1 is key[n-8:]
		hi, lo := bits.Mul64(k0^t.s0, k2^t.s1)
		hi2, lo2 := bits.Mul64(k3^t.s2, k1^t.s3^uint64(n)<<56)
		hi, lo = hi^hi2, lo^lo2
		return uint32(hi ^ lo ^ (hi^lo)>>32)
	}
	hi, lo := bits.Mul64(k0^t.s0, k1^t.s1^uint64(n)<<56)
	return uint32(hi ^ lo ^ (hi^lo)>>32)
}

// touch starts loading the slot where a key of hash h starts its probe,
// so that it is in the cache when addHashed comes to it.
func (t *sumTable) touch(h uint32) {
	prefetch.Line(unsafe.Pointer(&t.slots[h&uint32(len(t.slots)-1)]))
}

// add adds the number v to key's sum; it reports whether the key is new.
func (t *sumTable) add(key, v []byte) (bool, error) {
	k0, k1 := keyWords(key)
	return t.addHashed(t.hash(key, k0, k1), k0, k1, key, v)
}

// addHashed is add with the key's words k0 and k1 and its hash h.
func (t *sumTable) addHashed(h uint32, k0, k1 uint64, key, v []byte) (bool, error) {
	i, isInt := parseDigits(v)
	var f float64
	if !isInt {
		var err error
		if i, f, isInt, err = parseNumber(v); err != nil {
			return false, err
		}
	}
	if len(key) > maxSumKey {
		return false, ErrRecordTooLong
	}
	nf := uint32(len(key))<<slotFlags | slotFull
	mask := uint32(len(t.slots) - 1)
	j := h & mask
	for {
		s := &t.slots[j]
		if s.nf == 0 {
			if len(key) > inlineKey {
				k1 = uint64(len(t.keys))
				t.keys = append(t.keys, key...)
			}
			*s = sumSlot{hash: h, nf: nf, k0: k0, k1: k1}
			t.order = append(t.order, j)
			t.used++
			s.addNumber(i, f, isInt)
			if 2*t.used > len(t.slots) {
				t.grow()
			}
			return true, nil
		}
		if s.hash == h && s.nf&^slotFloat == nf && s.k0 == k0 &&
			(len(key) <= inlineKey && s.k1 == k1 || len(key) > inlineKey && equalLong(t.keys[s.k1:s.k1+uint64(len(key))], key)) {
			s.addNumber(i, f, isInt)
			return false, nil
		}
		j = (j + 1) & mask
	}
}

// equalLong reports whether a and b, of the same length above 8 bytes
// and equal first 8 (the slot's k0), are equal: inline, 8 bytes at a
// time, rather than a call to bytes.Equal for a few words.
func equalLong(a, b []byte) bool {
	n := len(b)
	a = a[:n] // the caller checked the lengths: this only drops bounds checks
	for i := 8; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			return false
		}
	}
	return binary.LittleEndian.Uint64(a[n-8:]) == binary.LittleEndian.Uint64(b[n-8:])
}

func (s *sumSlot) addNumber(i int64, f float64, isInt bool) {
	if s.nf&slotFloat == 0 {
		si := int64(s.v)
		if isInt {
			r := si + i
			if (r > si) == (i > 0) || i == 0 {
				s.v = uint64(r)
				return
			}
			f = float64(i)
		}
		s.nf |= slotFloat
		s.v = math.Float64bits(float64(si))
	} else if isInt {
		f = float64(i)
	}
	s.v = math.Float64bits(math.Float64frombits(s.v) + f)
}

func (t *sumTable) grow() {
	old := t.slots
	factor := 2
	if len(old) < quadrupleBelow {
		factor = 4
	}
	oldMem := t.mem.take()
	t.slots, t.mem.b = allocSlots(factor * len(old))
	mask := uint32(len(t.slots) - 1)
	for k, idx := range t.order {
		if k+8 < len(t.order) { // as in appendAll
			prefetch.Line(unsafe.Pointer(&old[t.order[k+8]]))
		}
		s := old[idx]
		j := s.hash & mask
		for t.slots[j].nf != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = s
		t.order[k] = uint32(j)
	}
	if oldMem != nil {
		_ = unix.Munmap(oldMem)
	}
}

// appendAll appends every key's KEY SEP SUM record to out and empties the
// table.
func (t *sumTable) appendAll(out, sep []byte, term byte, emit func([]byte) ([]byte, error)) ([]byte, error) {
	var buf [64]byte
	// The slots are scattered over the table: start loading each a few
	// keys ahead of its turn.
	const ahead = 8
	for k, idx := range t.order {
		if k+ahead < len(t.order) {
			prefetch.Line(unsafe.Pointer(&t.slots[t.order[k+ahead]]))
		}
		s := &t.slots[idx]
		var num []byte
		if s.nf&slotFloat != 0 {
			num = formatFloat(buf[:0], math.Float64frombits(s.v))
		} else {
			num = strconv.AppendInt(buf[:0], int64(s.v), 10)
		}
		out = append(t.appendKey(out, s), sep...)
		out = append(append(out, num...), term)
		if len(out) >= ChunkSize {
			var err error
			if out, err = emit(out); err != nil {
				return out, err
			}
		}
	}
	t.empty()
	return out, nil
}

// slotMem is a mapping of the slots of a grown table, or nil.
type slotMem struct{ b []byte }

// take returns m's mapping and forgets it.
func (m *slotMem) take() []byte {
	b := m.b
	m.b = nil
	return b
}

// free unmaps m's mapping.
func (m *slotMem) free() {
	if b := m.take(); b != nil {
		_ = unix.Munmap(b)
	}
}

// mapSlotsFrom is the size from which a table's slots get a mapping of
// their own (allocSlots).
const mapSlotsFrom = 4 << 20

// hugePage is the alignment asked of a mapping for huge pages: 2 MiB, a
// transparent huge page on amd64 and on arm64 with 4 KiB pages.
const hugePage = 2 << 20

// allocSlots returns n zero slots and the mapping holding them, if any.
//
// A grown table spans megabytes that its keys hit at random, more pages
// than the TLB holds: with 4 KiB pages most lookups wait for a page walk
// as well as for the slot, which on a virtual machine (two levels of
// page tables) costs more than the slot's cache miss. So from
// mapSlotsFrom on, the slots get a mapping of their own, aligned to
// 2 MiB and asked to be backed by transparent huge pages (MADV_HUGEPAGE;
// they need "madvise" or "always" in
// /sys/kernel/mm/transparent_hugepage/enabled). That took a sixth off
// BenchmarkPreCombineZipf at times, and about 4% off mrmap's own CPU in
// the top-URLs map task (mean of 11 paired runs). The mapping is the table's
// own, so the hint does not outlive it on memory the Go heap reuses; it
// is unmapped when the table grows again or is dropped.
//
// The pages are faulted in at once (MADV_POPULATE_WRITE, Linux 5.14),
// before the table is filled: where each page fault is slow, as on a
// virtual machine, that takes about half the time of faulting them one
// at a time. Both are hints, ignored where the kernel does not know
// them; where the mapping cannot be made, the slots come from the heap.
func allocSlots(n int) ([]sumSlot, []byte) {
	size := n * int(unsafe.Sizeof(sumSlot{}))
	if size < mapSlotsFrom {
		s := make([]sumSlot, n)
		populate(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), size))
		return s, nil
	}
	m, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]sumSlot, n), nil
	}
	off := int(-uintptr(unsafe.Pointer(&m[0])) & (hugePage - 1))
	b := m[off : off+size]
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	populate(b)
	return unsafe.Slice((*sumSlot)(unsafe.Pointer(&b[0])), n), m
}

// populate faults in the whole pages of b at once.
func populate(b []byte) {
	page := uintptr(os.Getpagesize())
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start, end := (p+page-1)&^(page-1), (p+uintptr(len(b)))&^(page-1)
	if end > start {
		_ = unix.Madvise(b[start-p:end-p], unix.MADV_POPULATE_WRITE)
	}
}
