package shuffle

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/extsort"
)

// FieldSpec is one key specification of Hadoop's KeyFieldBasedPartitioner
// and KeyFieldBasedComparator: -k BeginField[.BeginChar][nr][,EndField[.EndChar][nr]].
// Fields and characters count from 1; EndField 0 means the end of the key,
// EndChar 0 the end of EndField. Character offsets are byte offsets.
type FieldSpec struct {
	BeginField, BeginChar int
	EndField, EndChar     int
	Numeric, Reverse      bool
}

// String formats the spec as a -k option.
func (s FieldSpec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "-k%d", s.BeginField)
	if s.BeginChar != 1 {
		fmt.Fprintf(&b, ".%d", s.BeginChar)
	}
	if s.EndField != 0 {
		fmt.Fprintf(&b, ",%d", s.EndField)
		if s.EndChar != 0 {
			fmt.Fprintf(&b, ".%d", s.EndChar)
		}
	}
	if s.Numeric {
		b.WriteByte('n')
	}
	if s.Reverse {
		b.WriteByte('r')
	}
	return b.String()
}

// KeyFieldOptions is a parsed Hadoop key-field options string
// (mapreduce.partition.keypartitioner.options or
// mapreduce.partition.keycomparator.options).
type KeyFieldOptions struct {
	// Specs are the key specs in order. Empty when the options string was
	// empty.
	Specs []FieldSpec
	// SpecSeen reports whether any -k was given; without one, Specs holds
	// a single whole-key spec made of the global -n/-r flags.
	SpecSeen bool
}

// ParseKeyFieldOptions parses options as Hadoop's KeyFieldHelper.parseOption
// does: whitespace-separated words; "-n", "-r" and "-nr" set global flags,
// copied to every -k spec without n or r of its own; "-kSPEC" or "-k SPEC"
// add a spec; other words are ignored, as Hadoop ignores them. Where Hadoop
// would fail at run time (a malformed number, a missing field number), or
// would index outside the key (a field or begin character below 1), this
// returns an error.
func ParseKeyFieldOptions(options string) (KeyFieldOptions, error) {
	var o KeyFieldOptions
	words := strings.Fields(options)
	if len(words) == 0 {
		return o, nil
	}
	var gNum, gRev bool
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "-n":
			gNum = true
		case "-r":
			gRev = true
		case "-nr":
			gNum, gRev = true, true
		}
		if !strings.HasPrefix(w, "-k") {
			continue
		}
		arg := w[2:]
		if arg == "" {
			if i+1 >= len(words) {
				continue
			}
			i++
			arg = words[i]
		}
		s, err := parseFieldSpec(arg)
		if err != nil {
			return o, err
		}
		o.Specs = append(o.Specs, s)
		o.SpecSeen = true
	}
	for i := range o.Specs {
		if !o.Specs[i].Numeric && !o.Specs[i].Reverse {
			o.Specs[i].Numeric, o.Specs[i].Reverse = gNum, gRev
		}
	}
	if len(o.Specs) == 0 {
		o.Specs = []FieldSpec{{BeginField: 1, BeginChar: 1, Numeric: gNum, Reverse: gRev}}
	}
	return o, nil
}

func badSpec(arg, why string) error {
	return fmt.Errorf("invalid key spec -k%s: %s (want -k pos1[,pos2], pos = f[.c][nr])", arg, why)
}

// parseFieldSpec parses pos1[,pos2] as KeyFieldHelper.parseKey does: the
// string is cut into tokens at 'n', 'r', '.' and ',' (kept as tokens).
func parseFieldSpec(arg string) (FieldSpec, error) {
	s := FieldSpec{BeginField: 1, BeginChar: 1}
	var toks []string
	start := 0
	for i := 0; i < len(arg); i++ {
		if strings.IndexByte("nr.,", arg[i]) >= 0 {
			if i > start {
				toks = append(toks, arg[start:i])
			}
			toks = append(toks, arg[i:i+1])
			start = i + 1
		}
	}
	if start < len(arg) {
		toks = append(toks, arg[start:])
	}
	t := 0
	next := func() (string, bool) {
		if t >= len(toks) {
			return "", false
		}
		t++
		return toks[t-1], true
	}
	num := func(what string) (int, error) {
		tok, ok := next()
		if !ok {
			return 0, badSpec(arg, "missing "+what)
		}
		n, err := javaParseInt(tok)
		if err != nil {
			return 0, badSpec(arg, fmt.Sprintf("%s %q is not a number", what, tok))
		}
		return n, nil
	}
	var err error
	if s.BeginField, err = num("field number"); err != nil {
		return s, err
	}
	if s.BeginField < 1 {
		return s, badSpec(arg, "field numbers start at 1")
	}
	tok, ok := next()
	if !ok {
		return s, nil
	}
	if tok == "." {
		if s.BeginChar, err = num("character position"); err != nil {
			return s, err
		}
		if s.BeginChar < 1 {
			return s, badSpec(arg, "character positions start at 1")
		}
		if tok, ok = next(); !ok {
			return s, nil
		}
	}
	for tok == "n" || tok == "r" {
		s.setFlag(tok)
		if tok, ok = next(); !ok {
			return s, nil
		}
	}
	if tok != "," {
		return s, badSpec(arg, fmt.Sprintf("unexpected %q", tok))
	}
	if s.EndField, err = num("end field number"); err != nil {
		return s, err
	}
	if s.EndField < 1 {
		return s, badSpec(arg, "field numbers start at 1")
	}
	if tok, ok = next(); !ok {
		return s, nil
	}
	if tok == "." {
		if s.EndChar, err = num("end character position"); err != nil {
			return s, err
		}
		if s.EndChar < 0 {
			return s, badSpec(arg, "negative character position")
		}
		if tok, ok = next(); !ok {
			return s, nil
		}
	}
	for {
		if tok != "n" && tok != "r" {
			return s, badSpec(arg, fmt.Sprintf("unexpected %q", tok))
		}
		s.setFlag(tok)
		if tok, ok = next(); !ok {
			return s, nil
		}
	}
}

func (s *FieldSpec) setFlag(tok string) {
	if tok == "n" {
		s.Numeric = true
	} else {
		s.Reverse = true
	}
}

// javaParseInt accepts what Integer.parseInt accepts: an optional sign and
// decimal digits, within 32 bits.
func javaParseInt(s string) (int, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(i == 0 && (c == '+' || c == '-')) {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, strconv.ErrRange
	}
	return int(n), nil
}

// keyFieldHash is KeyFieldBasedPartitioner.getPartition's hash of key
// (already re-encoded as Java UTF-8) for parsed options with at least one
// spec. scratch holds the field lengths.
func keyFieldHash(key []byte, o *KeyFieldOptions, sep byte, lens []int) (int32, []int) {
	// getWordLengths: lens[0] = number of fields, lens[i] = length of field i.
	lens = append(lens[:0], 1, 0)
	if o.SpecSeen {
		start := 0
		for i := 0; i < len(key); i++ {
			if key[i] == sep {
				lens[len(lens)-1] = i - start
				lens = append(lens, 0)
				lens[0]++
				start = i + 1
			}
		}
		lens[len(lens)-1] = len(key) - start
	}
	n := len(key)
	h := int32(0)
	for i := range o.Specs {
		k := &o.Specs[i]
		// getStartOffset
		if lens[0] < k.BeginField {
			continue
		}
		pos := 0
		for f := 1; f < k.BeginField; f++ {
			pos += lens[f] + 1
		}
		if pos+k.BeginChar > n {
			continue
		}
		from := pos + k.BeginChar - 1
		// getEndOffset
		to := n - 1
		if k.EndField != 0 && lens[0] >= k.EndField {
			pos := 0
			f := 1
			for ; f < k.EndField; f++ {
				pos += lens[f] + 1
			}
			if k.EndChar == 0 {
				pos += lens[f]
			}
			if pos+k.EndChar <= n {
				to = pos + k.EndChar - 1
			}
		}
		for j := from; j <= to; j++ {
			h = 31*h + int32(int8(key[j]))
		}
	}
	return h, lens
}

// ComparatorKeys maps Hadoop KeyFieldBasedComparator options onto extsort
// keys over a line whose key has keyFields fields. Hadoop compares keys
// only, so every spec is confined to the key: a spec without an end field,
// or ending beyond the key, ends at the key's last field, and a spec
// starting beyond it is an error. Within the key, fields and characters
// are located as GNU sort (and extsort) locate them, n compares numbers as
// GNU sort -n does, and a field missing from a key compares as empty.
// Empty options give nil: plain byte order of the whole key.
func ComparatorKeys(options string, keyFields int) ([]extsort.Key, error) {
	o, err := ParseKeyFieldOptions(options)
	if err != nil {
		return nil, err
	}
	if len(o.Specs) == 0 {
		return nil, nil
	}
	n := max(keyFields, 1)
	keys := make([]extsort.Key, 0, len(o.Specs))
	for _, s := range o.Specs {
		if s.BeginField > n {
			return nil, fmt.Errorf("comparator key %s starts at field %d, but keys have %d field(s)", s, s.BeginField, n)
		}
		k := extsort.Key{
			StartField: s.BeginField, StartChar: s.BeginChar,
			EndField: s.EndField, EndChar: s.EndChar,
			Numeric: s.Numeric, Reverse: s.Reverse,
		}
		if k.StartChar == 1 {
			k.StartChar = 0
		}
		if k.EndField == 0 || k.EndField > n {
			k.EndField, k.EndChar = n, 0
		}
		keys = append(keys, k)
	}
	return keys, nil
}
