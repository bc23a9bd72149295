package streaming

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"unsafe"

	"github.com/mrpipe/mrpipe/extsort/prefetch"
)

// sumTable is the pre-combiner's hash table for sum, the most common
// combiner: open addressing over flat slots holding the key's hash, its
// place in a key arena and the running sum, so that a record costs a
// hash, usually one slot and one key comparison, and no allocation.
type sumTable struct {
	seed  maphash.Seed
	slots []sumSlot
	used  int
	keys  []byte
	order []uint32 // slots in insertion order, for a deterministic output
}

type sumSlot struct {
	hash   uint32 // the low bits of the key's hash
	off, n uint32
	flags  uint32 // slotFull, slotFloat
	v      uint64 // the sum: an int64, or a float64's bits with slotFloat
}

const (
	slotFull = 1 << iota
	slotFloat
)

func newSumTable() *sumTable {
	return &sumTable{seed: maphash.MakeSeed(), slots: make([]sumSlot, 1<<12)}
}

// sumTables keeps emptied tables for the next pre-combiner: a job's map
// tasks come one after another, and growing a table anew for each
// (fresh memory, page faults, the runtime giving pages back in between)
// cost more than its hashing.
var sumTables = sync.Pool{New: func() any { return newSumTable() }}

// reset empties t.
func (t *sumTable) reset() {
	if t.used > 0 {
		clear(t.slots)
	}
	t.keys, t.order, t.used = t.keys[:0], t.order[:0], 0
}

// hash returns the hash of key in t.
func (t *sumTable) hash(key []byte) uint32 { return uint32(maphash.Bytes(t.seed, key)) }

// touch starts loading the slot where a key of hash h starts its probe,
// so that it is in the cache when addHashed comes to it.
func (t *sumTable) touch(h uint32) {
	prefetch.Line(unsafe.Pointer(&t.slots[h&uint32(len(t.slots)-1)]))
}

// add adds the number v to key's sum; it reports whether the key is new.
func (t *sumTable) add(key, v []byte) (bool, error) {
	return t.addHashed(t.hash(key), key, v)
}

// addHashed is add with the key's hash h.
func (t *sumTable) addHashed(h uint32, key, v []byte) (bool, error) {
	i, isInt := parseDigits(v)
	var f float64
	if !isInt {
		var err error
		if i, f, isInt, err = parseNumber(v); err != nil {
			return false, err
		}
	}
	mask := uint32(len(t.slots) - 1)
	j := h & mask
	for {
		s := &t.slots[j]
		if s.flags&slotFull == 0 {
			if len(key) > 1<<31 || len(t.keys) > 1<<31 {
				return false, ErrRecordTooLong
			}
			*s = sumSlot{hash: h, off: uint32(len(t.keys)), n: uint32(len(key)), flags: slotFull}
			t.keys = append(t.keys, key...)
			t.order = append(t.order, uint32(j))
			t.used++
			s.addNumber(i, f, isInt)
			if 2*t.used > len(t.slots) {
				t.grow()
			}
			return true, nil
		}
		if s.hash == h && keyEqual(t.keys[s.off:s.off+s.n], key) {
			s.addNumber(i, f, isInt)
			return false, nil
		}
		j = (j + 1) & mask
	}
}

func (s *sumSlot) addNumber(i int64, f float64, isInt bool) {
	if s.flags&slotFloat == 0 {
		si := int64(s.v)
		if isInt {
			r := si + i
			if (r > si) == (i > 0) || i == 0 {
				s.v = uint64(r)
				return
			}
			f = float64(i)
		}
		s.flags |= slotFloat
		s.v = math.Float64bits(float64(si))
	} else if isInt {
		f = float64(i)
	}
	s.v = math.Float64bits(math.Float64frombits(s.v) + f)
}

func (t *sumTable) grow() {
	old := t.slots
	t.slots = make([]sumSlot, 2*len(old))
	mask := uint32(len(t.slots) - 1)
	for k, idx := range t.order {
		s := old[idx]
		j := s.hash & mask
		for t.slots[j].flags&slotFull != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = s
		t.order[k] = uint32(j)
	}
}

// appendAll appends every key's KEY SEP SUM record to out and empties the
// table.
func (t *sumTable) appendAll(out, sep []byte, term byte, emit func([]byte) ([]byte, error)) ([]byte, error) {
	var buf [64]byte
	for _, idx := range t.order {
		s := &t.slots[idx]
		var num []byte
		if s.flags&slotFloat != 0 {
			num = formatFloat(buf[:0], math.Float64frombits(s.v))
		} else {
			num = strconv.AppendInt(buf[:0], int64(s.v), 10)
		}
		out = appendKV(out, t.keys[s.off:s.off+s.n], sep, num, term)
		if len(out) >= ChunkSize {
			var err error
			if out, err = emit(out); err != nil {
				return out, err
			}
		}
	}
	clear(t.slots)
	t.keys, t.order, t.used = t.keys[:0], t.order[:0], 0
	return out, nil
}
