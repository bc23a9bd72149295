package streaming

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Hadoop's aggregate types (matched case-insensitively).
const (
	aggLongSum   = "longvaluesum"
	aggDoubleSum = "doublevaluesum"
	aggLongMax   = "longvaluemax"
	aggLongMin   = "longvaluemin"
	aggStrMax    = "stringvaluemax"
	aggStrMin    = "stringvaluemin"
	aggUniq      = "uniqvaluecount"
	aggHist      = "valuehistogram"
)

// aggState is Hadoop's ValueAggregatorReducer (or, as a combiner,
// ValueAggregatorCombiner) for one key TYPE:ID.
type aggState struct {
	key, sep []byte
	term     byte
	combine  bool
	maxUniq  int64

	typ, id []byte
	err     error
	n       int64

	l     int64
	d     float64
	s     []byte
	sSet  bool
	items map[string]int64
}

func newAggregateState(key, sep []byte, term byte, combine bool, maxUniq int64) *aggState {
	s := &aggState{key: key, sep: sep, term: term, combine: combine, maxUniq: maxUniq}
	typ, id, ok := bytes.Cut(key, []byte{':'})
	if !ok {
		s.err = fmt.Errorf("aggregate key %q has no TYPE: prefix", key)
		return s
	}
	s.typ, s.id = []byte(strings.ToLower(string(typ))), id
	switch string(s.typ) {
	case aggLongSum, aggDoubleSum, aggStrMax, aggStrMin:
	case aggLongMax:
		s.l = math.MinInt64
	case aggLongMin:
		s.l = math.MaxInt64
	case aggUniq, aggHist:
		s.items = map[string]int64{}
	default:
		s.err = fmt.Errorf("unknown aggregate type %q (want LongValueSum, DoubleValueSum, LongValueMax, LongValueMin, StringValueMax, StringValueMin, UniqValueCount or ValueHistogram)", typ)
	}
	return s
}

// parseJavaLong parses like Long.parseLong: optional sign, digits.
func parseJavaLong(v []byte) (int64, error) {
	n, err := parseInt(v)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a long integer", v)
	}
	return n, nil
}

// parseJavaDouble parses like Double.parseDouble: surrounding white space
// is ignored, a trailing d/D/f/F type suffix allowed, NaN and Infinity.
func parseJavaDouble(v []byte) (float64, error) {
	t := strings.TrimFunc(string(v), func(r rune) bool { return r <= ' ' })
	u := t
	if n := len(u); n > 1 && strings.ContainsRune("dDfF", rune(u[n-1])) && !strings.HasSuffix(strings.ToLower(u), "inf") {
		u = u[:n-1]
	}
	switch strings.TrimLeft(u, "+-") {
	case "NaN", "Infinity":
	default:
		if strings.ContainsAny(u, "_xXnNiI") {
			return 0, fmt.Errorf("value %q is not a double", v)
		}
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("value %q is not a double", v)
	}
	return f, nil
}

func (s *aggState) add(_, v []byte, _ int64) error {
	if s.err != nil {
		return s.err
	}
	s.n++
	switch string(s.typ) {
	case aggLongSum:
		n, err := parseJavaLong(v)
		if err != nil {
			return err
		}
		s.l += n // wraps around, as Java's long does
	case aggLongMax, aggLongMin:
		n, err := parseJavaLong(v)
		if err != nil {
			return err
		}
		if (string(s.typ) == aggLongMax) == (n > s.l) {
			s.l = n
		}
	case aggDoubleSum:
		f, err := parseJavaDouble(v)
		if err != nil {
			return err
		}
		s.d += f
	case aggStrMax, aggStrMin:
		if !s.sSet {
			s.s, s.sSet = append(s.s[:0], v...), true
			break
		}
		c := javaCompare(s.s, v)
		if string(s.typ) == aggStrMax && c < 0 || string(s.typ) == aggStrMin && c > 0 {
			s.s = append(s.s[:0], v...)
		}
	case aggUniq:
		if _, ok := s.items[string(v)]; !ok && (s.maxUniq <= 0 || int64(len(s.items)) < s.maxUniq) {
			s.items[string(v)] = 1
		}
	case aggHist:
		val, count := v, int64(1)
		if i := bytes.LastIndexByte(v, '\t'); i >= 0 {
			val = v[:i]
			n, err := parseJavaLong(v[i+1:])
			if err != nil {
				return err
			}
			count = n
		}
		s.items[string(val)] += count
	}
	return nil
}

// finish writes, as a reducer, "ID SEP REPORT"; as a combiner, the
// partial aggregate under the original key.
func (s *aggState) finish(out []byte) ([]byte, error) {
	if s.err != nil {
		return out, s.err
	}
	var buf []byte
	emit := func(val []byte) {
		if s.combine {
			out = appendKV(out, s.key, s.sep, val, s.term)
		} else {
			out = appendKV(out, s.id, s.sep, val, s.term)
		}
	}
	switch string(s.typ) {
	case aggLongSum, aggLongMax, aggLongMin:
		emit(strconv.AppendInt(buf, s.l, 10))
	case aggDoubleSum:
		emit(appendJavaDouble(buf, s.d))
	case aggStrMax, aggStrMin:
		emit(s.s)
	case aggUniq:
		if !s.combine {
			emit(strconv.AppendInt(buf, int64(len(s.items)), 10))
			break
		}
		for _, k := range s.sortedItems() {
			emit([]byte(k))
		}
	case aggHist:
		if s.combine {
			for _, k := range s.sortedItems() {
				b := append([]byte(k), '\t')
				emit(strconv.AppendInt(b, s.items[k], 10))
			}
			break
		}
		emit(histogramReport(s.items))
	}
	return out, nil
}

// sortedItems returns the items in Java String order (a TreeMap's).
func (s *aggState) sortedItems() []string {
	keys := make([]string, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return javaCompare([]byte(keys[i]), []byte(keys[j])) < 0 })
	return keys
}

// histogramReport is ValueHistogram.getReport: number of distinct values,
// then the minimum, median, maximum, average and standard deviation of
// their counts.
func histogramReport(items map[string]int64) []byte {
	counts := make([]int64, 0, len(items))
	var acc int64
	for _, c := range items {
		counts = append(counts, c)
		acc += c
	}
	slices.Sort(counts)
	b := strconv.AppendInt(nil, int64(len(counts)), 10)
	if len(counts) == 0 {
		return b
	}
	n := len(counts)
	avg := float64(acc) * 1.0 / float64(n)
	var sd float64
	for _, c := range counts {
		d := float64(c) - avg
		sd += d * d
	}
	sd = math.Sqrt(sd / float64(n))
	for _, v := range []int64{counts[0], counts[n/2], counts[n-1]} {
		b = append(b, '\t')
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, '\t')
	b = appendJavaDouble(b, avg)
	b = append(b, '\t')
	return appendJavaDouble(b, sd)
}

// javaCompare orders byte strings as Java's String.compareTo orders
// their decoded forms: by UTF-16 code units.
func javaCompare(a, b []byte) int {
	if isASCII(a) && isASCII(b) {
		return bytes.Compare(a, b)
	}
	ua := utf16.Encode([]rune(string(a)))
	ub := utf16.Encode([]rune(string(b)))
	return slices.Compare(ua, ub)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// appendJavaDouble formats f as Java's Double.toString does: NaN,
// Infinity, plain decimals with at least one fractional digit for
// 1e-3 <= |f| < 1e7, otherwise computerized scientific notation (1.0E10).
func appendJavaDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return append(b, s...)
	}
	// Shortest digits, then Java's layout d.dddE[-]x.
	s := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.2345e+10
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	b = append(b, mant...)
	b = append(b, 'E')
	return strconv.AppendInt(b, int64(e), 10)
}
