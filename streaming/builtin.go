package streaming

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Builtins lists the built-in reducers by name.
var Builtins = []string{"sum", "count", "min", "max", "mean", "uniq", "collect", "first", "last", "aggregate"}

// BuiltinUsage describes each built-in reducer, for help texts.
var BuiltinUsage = map[string]string{
	"sum":       "KEY SEP the sum of the values (integers, or decimals when any value is one)",
	"count":     "KEY SEP the number of records of the key",
	"min":       "the first record whose value is the smallest number",
	"max":       "the first record whose value is the largest number",
	"mean":      "KEY SEP the arithmetic mean of the values (not a valid combiner)",
	"uniq":      "each distinct (key, value) record once, in the order first seen",
	"collect":   "KEY SEP the values joined by --join (default \",\")",
	"first":     "the first record of each key",
	"last":      "the last record of each key",
	"aggregate": "Hadoop's aggregate: keys TYPE:ID, output ID TAB REPORT",
}

// IsBuiltin reports whether name is a built-in reducer.
func IsBuiltin(name string) bool {
	_, ok := BuiltinUsage[name]
	return ok
}

// BuiltinOptions configures the built-in reducers.
type BuiltinOptions struct {
	// Join separates the values of collect; empty means ",".
	Join string
	// MaxUniqueValues caps aggregate's UniqValueCount
	// (aggregate.max.num.unique.values); 0 means no cap.
	MaxUniqueValues int64
}

// Builtin is a built-in reducer or combiner.
type Builtin struct {
	Name    string
	Proto   Protocol
	Options BuiltinOptions
	// Combine runs it as a combiner: its output must then be valid input
	// for the same built-in (this matters for aggregate).
	Combine bool
	// Input names the input in read errors.
	Input InputInfo
}

// NewBuiltin returns the built-in reducer name, or an error if there is
// none or, as a combiner, it would give wrong results.
func NewBuiltin(name string, proto Protocol, opts BuiltinOptions, combine bool) (*Builtin, error) {
	if !IsBuiltin(name) {
		return nil, fmt.Errorf("unknown built-in reducer %q (built-ins: sum count min max mean uniq collect first last aggregate)", name)
	}
	if combine {
		switch name {
		case "mean":
			return nil, fmt.Errorf("%s is not a valid combiner: the mean of means is not the mean", name)
		case "count":
			return nil, fmt.Errorf("%s is not a valid combiner: counting combined records undercounts (use sum over 1s)", name)
		}
	}
	return &Builtin{Name: name, Proto: proto, Options: opts, Combine: combine}, nil
}

// reducerState folds the records of one key.
type reducerState interface {
	// add folds one record; n is its 1-based number in the input.
	add(line, value []byte, n int64) error
	// finish appends the key's output records to out.
	finish(out []byte) ([]byte, error)
}

func (b *Builtin) newState(key []byte) reducerState {
	sep := b.Proto.Separator()
	term := b.Proto.Terminator()
	switch b.Name {
	case "sum":
		return &sumState{key: key, sep: sep, term: term}
	case "count":
		return &countState{key: key, sep: sep, term: term}
	case "mean":
		return &sumState{key: key, sep: sep, term: term, mean: true}
	case "min":
		return &extremeState{term: term}
	case "max":
		return &extremeState{term: term, max: true}
	case "uniq":
		return &uniqState{term: term, seen: map[string]struct{}{}}
	case "collect":
		j := b.Options.Join
		if j == "" {
			j = ","
		}
		return &collectState{key: key, sep: sep, term: term, join: []byte(j)}
	case "first":
		return &firstState{term: term}
	case "last":
		return &firstState{term: term, last: true}
	}
	return newAggregateState(key, sep, term, b.Combine, b.Options.MaxUniqueValues)
}

// ReduceStats counts a reduce.
type ReduceStats struct {
	InRecords, InGroups, OutRecords, OutBytes int64
}

// BuiltinError is a record a built-in cannot use.
type BuiltinError struct {
	Name   string
	Record int64
	Err    error
}

func (e *BuiltinError) Error() string {
	return fmt.Sprintf("%s: record %d: %v", e.Name, e.Record, e.Err)
}

func (e *BuiltinError) Unwrap() error { return e.Err }

// Run reduces the sorted records read from in, calling out with batches
// of whole output records. Records with equal keys (as cut by Proto) must
// be adjacent.
func (b *Builtin) Run(ctx context.Context, in io.Reader, out func(chunk []byte) error) (ReduceStats, error) {
	var st ReduceStats
	term := b.Proto.Terminator()
	var (
		key   []byte // current key (owned)
		state reducerState
		obuf  = make([]byte, 0, ChunkSize+4096)
		recNo int64
	)
	flush := func() error {
		if len(obuf) == 0 {
			return nil
		}
		st.OutRecords += countRecords(obuf, term)
		st.OutBytes += int64(len(obuf))
		err := out(obuf)
		obuf = obuf[:0]
		return err
	}
	finish := func() error {
		if state == nil {
			return nil
		}
		var err error
		obuf, err = state.finish(obuf)
		if err != nil {
			return &BuiltinError{Name: b.Name, Record: recNo, Err: err}
		}
		state = nil
		if len(obuf) >= ChunkSize {
			return flush()
		}
		return nil
	}
	cr := NewChunkReader(in, term)
	for {
		chunk, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, &InputError{Input: b.Input, Err: err}
		}
		if ctx.Err() != nil {
			return st, context.Cause(ctx)
		}
		// The hot loop: no call per record but the state's.
		sep, oneField := b.Proto.Key.Sep(), b.Proto.Key.N() == 1
		for len(chunk) > 0 {
			e := bytes.IndexByte(chunk, term) // chunks end in term
			line := chunk[:e]
			chunk = chunk[e+1:]
			recNo++
			var k, v []byte
			if oneField {
				if i := bytes.IndexByte(line, sep); i >= 0 {
					k, v = line[:i], line[i+1:]
				} else {
					k = line
				}
			} else {
				k, v, _ = b.Proto.Split(line)
			}
			if state == nil || string(k) != string(key) {
				if err := finish(); err != nil {
					return st, err
				}
				key = append(key[:0], k...)
				st.InGroups++
				state = b.newState(bytes.Clone(k))
			}
			if err := state.add(line, v, recNo); err != nil {
				return st, &BuiltinError{Name: b.Name, Record: recNo, Err: err}
			}
		}
	}
	st.InRecords = recNo
	if err := finish(); err != nil {
		return st, err
	}
	return st, flush()
}

func appendKV(out, key, sep, value []byte, term byte) []byte {
	out = append(out, key...)
	out = append(out, sep...)
	out = append(out, value...)
	return append(out, term)
}

func isNumBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// trimNumber drops the blanks around a number.
func trimNumber(v []byte) []byte {
	for len(v) > 0 && isNumBlank(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isNumBlank(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// number parses v as an integer or, failing that, a decimal number.
func parseNumber(v []byte) (i int64, f float64, isInt bool, err error) {
	t := trimNumber(v)
	if i, err := parseInt(t); err == nil {
		return i, 0, true, nil
	}
	f, err = strconv.ParseFloat(string(t), 64)
	if err != nil || len(t) == 0 {
		return 0, 0, false, fmt.Errorf("value %q is not a number", v)
	}
	return 0, f, false, nil
}

type sumState struct {
	key, sep []byte
	term     byte
	mean     bool
	isFloat  bool
	i        int64
	f        float64
	n        int64
}

func (s *sumState) add(_, v []byte, _ int64) error {
	i, f, isInt, err := parseNumber(v)
	if err != nil {
		return err
	}
	s.n++
	if isInt && !s.isFloat {
		r := s.i + i
		if (r > s.i) == (i > 0) || i == 0 {
			s.i = r
			return nil
		}
		// Overflow: continue in floating point.
		s.isFloat, s.f = true, float64(s.i)
		f = float64(i)
	} else if isInt {
		f = float64(i)
	} else if !s.isFloat {
		s.isFloat, s.f = true, float64(s.i)
	}
	s.f += f
	return nil
}

func (s *sumState) finish(out []byte) ([]byte, error) {
	var num []byte
	var buf [64]byte
	switch {
	case s.mean && s.isFloat:
		num = formatFloat(buf[:0], s.f/float64(s.n))
	case s.mean:
		num = formatFloat(buf[:0], float64(s.i)/float64(s.n))
	case s.isFloat:
		num = formatFloat(buf[:0], s.f)
	default:
		num = strconv.AppendInt(buf[:0], s.i, 10)
	}
	return appendKV(out, s.key, s.sep, num, s.term), nil
}

func formatFloat(b []byte, f float64) []byte {
	if math.Abs(f) >= 1e21 {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

type countState struct {
	key, sep []byte
	term     byte
	n        int64
}

func (s *countState) add([]byte, []byte, int64) error { s.n++; return nil }

func (s *countState) finish(out []byte) ([]byte, error) {
	var buf [20]byte
	return appendKV(out, s.key, s.sep, strconv.AppendInt(buf[:0], s.n, 10), s.term), nil
}

type extremeState struct {
	term  byte
	max   bool
	line  []byte
	isSet bool
	i     int64
	f     float64
	isInt bool
}

func (s *extremeState) add(line, v []byte, _ int64) error {
	i, f, isInt, err := parseNumber(v)
	if err != nil {
		return err
	}
	better := false
	switch {
	case !s.isSet:
		better = true
	case isInt && s.isInt:
		better = (i > s.i) == s.max && i != s.i
	default:
		a, b := f, s.f
		if isInt {
			a = float64(i)
		}
		if s.isInt {
			b = float64(s.i)
		}
		better = (a > b) == s.max && a != b
	}
	if better {
		s.isSet, s.i, s.f, s.isInt = true, i, f, isInt
		s.line = append(s.line[:0], line...)
	}
	return nil
}

func (s *extremeState) finish(out []byte) ([]byte, error) {
	out = append(out, s.line...)
	return append(out, s.term), nil
}

type uniqState struct {
	term byte
	seen map[string]struct{}
	out  []byte
}

func (s *uniqState) add(line, v []byte, _ int64) error {
	if _, ok := s.seen[string(v)]; ok {
		return nil
	}
	s.seen[string(v)] = struct{}{}
	s.out = append(s.out, line...)
	s.out = append(s.out, s.term)
	return nil
}

func (s *uniqState) finish(out []byte) ([]byte, error) { return append(out, s.out...), nil }

type collectState struct {
	key, sep, join []byte
	term           byte
	vals           []byte
	n              int
}

func (s *collectState) add(_, v []byte, _ int64) error {
	if s.n > 0 {
		s.vals = append(s.vals, s.join...)
	}
	s.vals = append(s.vals, v...)
	s.n++
	return nil
}

func (s *collectState) finish(out []byte) ([]byte, error) {
	return appendKV(out, s.key, s.sep, s.vals, s.term), nil
}

type firstState struct {
	term byte
	last bool
	line []byte
	set  bool
}

func (s *firstState) add(line, _ []byte, _ int64) error {
	if !s.set || s.last {
		s.line = append(s.line[:0], line...)
		s.set = true
	}
	return nil
}

func (s *firstState) finish(out []byte) ([]byte, error) {
	out = append(out, s.line...)
	return append(out, s.term), nil
}
