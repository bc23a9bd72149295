package streaming

import (
	"bytes"
	"fmt"
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
		p.sums = sumTables.Get().(*sumTable)
	}
	return p
}

// Release hands p's memory on to the next PreCombiner; p must not be
// used after. Records not flushed are dropped.
func (p *PreCombiner) Release() {
	if p.sums != nil {
		p.sums.reset()
		sumTables.Put(p.sums)
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

// writeSums is Write for sum. It takes the records in batches: first the
// keys are split and hashed and their slots loaded, independently of each
// other, so that the memory loads overlap; then the sums are added.
// (Loading the keys the slots point to ahead as well, for the comparison,
// cost more than it saved: the slot's hash rules out most mismatches, and
// a hot key's bytes are in the cache.)
func (p *PreCombiner) writeSums(chunk []byte, term byte) error {
	var (
		keys, vals [sumBatch][]byte
		hashes     [sumBatch]uint32
		k0s, k1s   [sumBatch]uint64
	)
	t := p.sums
	sep, oneField := p.b.Proto.Key.Sep(), p.b.Proto.Key.N() == 1
	for len(chunk) > 0 {
		n := 0
		for ; n < sumBatch && len(chunk) > 0; n++ {
			if oneField {
				keys[n], vals[n], chunk = cutKV(chunk, sep, term)
			} else {
				i := bytes.IndexByte(chunk, term)
				if i < 0 {
					i = len(chunk)
				}
				line := chunk[:i]
				chunk = chunk[min(i+1, len(chunk)):]
				keys[n], vals[n], _ = p.b.Proto.Split(line)
			}
			k0s[n], k1s[n] = keyWords(keys[n])
			hashes[n] = t.hash(keys[n], k0s[n], k1s[n])
			t.touch(hashes[n])
		}
		for j := range n {
			p.recNo++
			isNew, err := t.addHashed(hashes[j], k0s[j], k1s[j], keys[j], vals[j])
			if err != nil {
				return fmt.Errorf("combiner %w", &BuiltinError{Name: p.b.Name, Record: p.recNo, Err: err})
			}
			if isNew {
				p.size += len(keys[j]) + stateOverhead // the slots at 50% load, with the order
			}
			p.In++
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
