package app

import (
	"errors"
	"strconv"
	"strings"
)

// errSuffixes is GNU split's message when the names run out.
var errSuffixes = errors.New("output file suffixes exhausted")

// namer makes output file names as GNU split does: PREFIX, a suffix of
// length n over an alphabet, the additional suffix. With auto widening
// (no -a, no FROM, not -n), the suffix grows by two when its first letter
// would become the alphabet's last: ...yz, zaaa, zaab, ... so that names
// still sort in order.
type namer struct {
	prefix, extra string
	alphabet      string
	idx           []int
	auto          bool
	started       bool
}

func newNamer(prefix, extra, alphabet string, length int, from string, auto bool) *namer {
	nm := &namer{prefix: prefix, extra: extra, alphabet: alphabet, idx: make([]int, length), auto: auto}
	for i := 0; i < len(from); i++ {
		nm.idx[length-len(from)+i] = strings.IndexByte(alphabet, from[i])
	}
	return nm
}

// next returns the next file name.
func (nm *namer) next() (string, error) {
	if !nm.started {
		nm.started = true
		return nm.name(), nil
	}
	for i := len(nm.idx) - 1; i >= 0; i-- {
		nm.idx[i]++
		if nm.auto && i == 0 && nm.idx[0]+1 == len(nm.alphabet) {
			// Widen: the last letter joins the prefix, the suffix restarts
			// one longer.
			nm.prefix += nm.alphabet[len(nm.alphabet)-1:]
			nm.idx = make([]int, len(nm.idx)+1)
			return nm.name(), nil
		}
		if nm.idx[i] < len(nm.alphabet) {
			return nm.name(), nil
		}
		nm.idx[i] = 0
	}
	return "", errSuffixes
}

func (nm *namer) name() string {
	var b strings.Builder
	b.Grow(len(nm.prefix) + len(nm.idx) + len(nm.extra))
	b.WriteString(nm.prefix)
	for _, i := range nm.idx {
		b.WriteByte(nm.alphabet[i])
	}
	b.WriteString(nm.extra)
	return b.String()
}

// suffixNeeded is the suffix length that numbers n chunks (from FROM on).
func suffixNeeded(n int64, from string, alphabet string) int {
	end := uint64(n - 1)
	if from != "" {
		if f, err := strconv.ParseUint(from, 10, 64); err == nil && f < uint64(n) {
			if end+f < end {
				end = ^uint64(0)
			} else {
				end += f
			}
		}
	}
	need := 0
	for {
		need++
		end /= uint64(len(alphabet))
		if end == 0 {
			return need
		}
	}
}
