package streaming

import (
	"bytes"
	"fmt"
	"math"
)

// DefaultPreCombineMemory is the default memory bound of a PreCombiner.
const DefaultPreCombineMemory = 64 << 20

// PreCombiner runs a built-in combiner over records as they arrive, in a
// hash table keyed by the record key, before they are sorted: records
// with equal keys are folded into one state, and the states are written
// out (as the combiner's output records, in no particular key order)
// when the table outgrows its memory bound and at Flush. It is valid for
// the built-ins that are valid combiners, since a combiner may run any
// number of times; the map side of the shuffle then sorts (and combines)
// far fewer records. Within a key, records keep their order, so first,
// last and collect stay correct.
type PreCombiner struct {
	b      *Builtin
	out    func(chunk []byte) error
	limit  int
	states map[string]reducerState
	sums   *sumTable // for sum, in place of states
	size   int
	obuf   []byte
	recNo  int64
	// specials is writeSums' index of a window's separators and
	// terminators.
	specials []uint32
	// flushed is set once states have been written out.
	flushed bool
	// In and Out count the records folded and written.
	In, Out int64
}

// NewPreCombiner returns a PreCombiner for b (made with combine set) that
// writes batches of whole records to out and holds about limit bytes (0:
// DefaultPreCombineMemory).
func NewPreCombiner(b *Builtin, limit int, out func(chunk []byte) error) *PreCombiner {
	if limit <= 0 {
		limit = DefaultPreCombineMemory
	}
	p := &PreCombiner{b: b, out: out, limit: limit, states: map[string]reducerState{}}
	if b.Name == "sum" {
		p.sums = getSumTable()
	}
	return p
}

// Release hands p's memory on to the next PreCombiner; p must not be
// used after. Records not flushed are dropped.
func (p *PreCombiner) Release() {
	if p.sums != nil {
		putSumTable(p.sums)
		p.sums = nil
	}
}

// stateOverhead approximates the memory of a table entry besides its key.
const stateOverhead = 128

// Write folds a batch of whole records (each with its terminator).
func (p *PreCombiner) Write(chunk []byte) error {
	term := p.b.Proto.Terminator()
	if p.sums != nil {
		return p.writeSums(chunk, term)
	}
	keepsValues := p.b.Name == "uniq" || p.b.Name == "collect" || p.b.Name == "aggregate"
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, term)
		if i < 0 {
			i = len(chunk)
		}
		line := chunk[:i]
		if i < len(chunk) {
			chunk = chunk[i+1:]
		} else {
			chunk = nil
		}
		p.recNo++
		k, v, _ := p.b.Proto.Split(line)
		st := p.states[string(k)]
		if st == nil {
			key := string(k)
			st = p.b.newState([]byte(key))
			p.states[key] = st
			p.size += len(key) + stateOverhead
		}
		if err := st.add(line, v, p.recNo); err != nil {
			return fmt.Errorf("combiner %w", &BuiltinError{Name: p.b.Name, Record: p.recNo, Err: err})
		}
		if keepsValues {
			p.size += len(line)
		}
		p.In++
		if p.size >= p.limit {
			if err := p.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sumBatch is how many records writeSums looks up together.
const sumBatch = 16

// scanWindow is how many bytes of a chunk writeSums indexes at a time:
// the index (4 bytes a byte at worst) stays in the L1 cache.
const scanWindow = 4 << 10

// sumRec is a record of a batch of writeSums: its key's and value's
// place in the chunk, the key's words and hash, and the value when it
// is plain digits.
type sumRec struct {
	k0, k1 uint64
	v      int64
	h      uint32
	digits bool // v holds the value
	hasVal bool // the record has a separator
	ks, ke int  // the key: chunk[ks:ke]
	vs, ve int  // the value: chunk[vs:ve]
}

// writeSums is Write for sum. It finds the records' separators and
// terminators a window at a time (indexSpecials), and takes the records
// in batches: first each key's words and hash are computed and its slot
// loaded, independently of the other records, so that the memory loads
// overlap; then the sums are added, a key found in its first slot with
// a plain count inline. (Loading the keys the slots point to ahead as
// well, for the comparison, cost more than it saved: the slot's hash
// rules out most mismatches, and a hot key's bytes are in the cache.)
func (p *PreCombiner) writeSums(chunk []byte, term byte) error {
	sep := p.b.Proto.Key.Sep()
	if p.b.Proto.Key.N() != 1 || sep == term {
		return p.writeSumsSplit(chunk, term)
	}
	if p.specials == nil {
		p.specials = make([]uint32, scanWindow+specialsSlack)
	}
	idx := p.specials
	var batch [sumBatch]sumRec
	n := 0
	recStart, keyEnd := 0, -1
	t := p.sums
	for win := 0; win < len(chunk); win += scanWindow {
		end := min(win+scanWindow, len(chunk))
		m := indexSpecials(idx, chunk, win, end, sep, term)
		for _, q := range idx[:m] {
			at := win + int(q)
			if chunk[at] == sep {
				if keyEnd < 0 {
					keyEnd = at
				}
				continue
			}
			// The record chunk[recStart:at].
			r := &batch[n]
			r.ks, r.ke, r.hasVal, r.digits = recStart, at, keyEnd >= 0, false
			if r.hasVal {
				r.ke, r.vs, r.ve = keyEnd, keyEnd+1, at
				if d := chunk[r.vs] - '0'; at == r.vs+1 && d <= 9 {
					r.v, r.digits = int64(d), true // a count of 0 to 9, most often 1
				} else {
					r.v, r.digits = parseDigits(chunk[r.vs:r.ve])
				}
			}
			key := chunk[r.ks:r.ke]
			r.k0, r.k1 = keyWords(key)
			r.h = t.hash(key, r.k0, r.k1)
			t.touch(r.h)
			recStart, keyEnd = at+1, -1
			if n++; n == sumBatch {
				if err := p.addSums(chunk, batch[:n]); err != nil {
					return err
				}
				n = 0
			}
		}
	}
	if err := p.addSums(chunk, batch[:n]); err != nil {
		return err
	}
	// A last record without its terminator.
	return p.writeSumsSplit(chunk[recStart:], term)
}

// addSums adds a batch of records of chunk to the sum table.
func (p *PreCombiner) addSums(chunk []byte, batch []sumRec) error {
	t := p.sums
	for j := range batch {
		r := &batch[j]
		p.recNo++
		if r.digits && r.ke-r.ks <= inlineKey {
			// A count of a short key already in its first slot.
			s := &t.slots[r.h&uint32(len(t.slots)-1)]
			if s.hash == r.h && s.nf == uint32(r.ke-r.ks)<<slotFlags|slotFull && s.k0 == r.k0 && s.k1 == r.k1 {
				if si := int64(s.v); si >= 0 && r.v <= math.MaxInt64-si {
					s.v = uint64(si + r.v)
					p.In++
					continue
				}
			}
		}
		var v []byte
		if r.hasVal {
			v = chunk[r.vs:r.ve]
		}
		isNew, err := t.addHashed(r.h, r.k0, r.k1, chunk[r.ks:r.ke], v)
		if err != nil {
			return fmt.Errorf("combiner %w", &BuiltinError{Name: p.b.Name, Record: p.recNo, Err: err})
		}
		p.In++
		if isNew {
			p.size += r.ke - r.ks + stateOverhead // the slots at 50% load, with the order
			if p.size >= p.limit {
				if err := p.Flush(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writeSumsSplit is writeSums for keys of several fields, or a separator
// that is also the terminator: each record is split by the protocol.
func (p *PreCombiner) writeSumsSplit(chunk []byte, term byte) error {
	t := p.sums
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, term)
		if i < 0 {
			i = len(chunk)
		}
		line := chunk[:i]
		chunk = chunk[min(i+1, len(chunk)):]
		key, val, _ := p.b.Proto.Split(line)
		p.recNo++
		isNew, err := t.add(key, val)
		if err != nil {
			return fmt.Errorf("combiner %w", &BuiltinError{Name: p.b.Name, Record: p.recNo, Err: err})
		}
		p.In++
		if isNew {
			p.size += len(key) + stateOverhead
			if p.size >= p.limit {
				if err := p.Flush(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Flushed reports whether p has written out states already, when its
// table outgrew its memory bound. Until then every key folded so far is
// in the table, and Flush writes each one once.
func (p *PreCombiner) Flushed() bool { return p.flushed }

// Flush writes out and forgets every state.
func (p *PreCombiner) Flush() error {
	p.flushed = true
	term := p.b.Proto.Terminator()
	if p.sums != nil {
		var err error
		p.obuf, err = p.sums.appendAll(p.obuf, p.b.Proto.Separator(), term, func(b []byte) ([]byte, error) {
			p.obuf = b
			err := p.emit(term)
			return p.obuf, err
		})
		if err != nil {
			return err
		}
	}
	for k, st := range p.states {
		var err error
		p.obuf, err = st.finish(p.obuf)
		if err != nil {
			return fmt.Errorf("combiner %w", &BuiltinError{Name: p.b.Name, Record: p.recNo, Err: err})
		}
		delete(p.states, k)
		if len(p.obuf) >= ChunkSize {
			if err := p.emit(term); err != nil {
				return err
			}
		}
	}
	p.size = 0
	return p.emit(term)
}

func (p *PreCombiner) emit(term byte) error {
	if len(p.obuf) == 0 {
		return nil
	}
	p.Out += countRecords(p.obuf, term)
	err := p.out(p.obuf)
	p.obuf = p.obuf[:0]
	return err
}
