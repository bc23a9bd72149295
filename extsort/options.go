package extsort

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Options says how to order lines and what resources a Sorter may use. The
// zero value sorts whole lines as unsigned bytes (GNU sort under LC_ALL=C)
// with the default memory budget.
type Options struct {
	// Keys are the -k sort keys, most significant first. A key without
	// ordering options of its own inherits the global ones (Numeric,
	// Reverse, IgnoreCase, IgnoreBlanks), as in GNU sort.
	Keys []Key
	// Separator is the -t field separator: "" means fields are separated
	// by the empty string between a non-blank and a blank (each field then
	// starts with its leading blanks); otherwise exactly one byte.
	Separator string

	Numeric      bool // -n: compare the leading number (GNU rules, no exponent, no '+')
	Reverse      bool // -r: reverse every comparison, including the last resort
	IgnoreCase   bool // -f: fold lower case to upper case
	IgnoreBlanks bool // -b: ignore leading blanks in keys

	// Stable (-s) disables the last-resort whole-line comparison, so lines
	// whose keys are equal keep their input order.
	Stable bool
	// Unique (-u) outputs only the first of each run of lines with equal
	// keys (the whole line when there are no keys).
	Unique bool
	// ZeroTerminated (-z) makes NUL, not newline, the line terminator.
	ZeroTerminated bool

	// Memory is the budget in bytes for line data, sort records and merge
	// buffers (-S); 0 means DefaultMemory(). Values below MinMemory are
	// raised to it.
	Memory int64
	// TempDirs are the directories for sorted runs (-T); runs are spread
	// over them round robin. Empty means $TMPDIR, then /tmp.
	TempDirs []string
	// Parallel is the number of goroutines that sort (--parallel); 0 means
	// the number of CPUs, at most 8.
	Parallel int
	// BatchSize is the most runs merged at once (--batch-size); 0 derives it
	// from the memory budget and the open-file limit.
	BatchSize int
	// NoCompress writes runs as plain text instead of S2 streams.
	NoCompress bool
}

// MinMemory is the smallest memory budget a Sorter uses.
const MinMemory = 256 << 10

// Key is one sort key, as given to GNU sort's -k POS1[,POS2].
type Key struct {
	// StartField is the 1-based field where the key starts; StartChar the
	// 1-based byte within it (0: the field's first byte).
	StartField, StartChar int
	// EndField is the 1-based field where the key ends (0: end of line);
	// EndChar the 1-based byte within it that ends the key (0: the field's
	// last byte).
	EndField, EndChar int

	Numeric    bool // n
	Reverse    bool // r
	IgnoreCase bool // f
	// StartBlanks and EndBlanks are the b modifier on POS1 and POS2: skip
	// blanks before counting the character offset.
	StartBlanks, EndBlanks bool
}

// hasOrdering reports whether the key has ordering options of its own; a key
// without them inherits the global options (GNU's default_key_compare, where
// r alone does not count but still blocks inheritance).
func (k Key) hasOrdering() bool {
	return k.Numeric || k.IgnoreCase || k.StartBlanks || k.EndBlanks
}

// ParseKey parses a -k argument: F[.C][OPTS][,F[.C][OPTS]] with OPTS from
// "bfnr". Errors read like GNU sort's.
func ParseKey(spec string) (Key, error) {
	var k Key
	s := spec
	var err error
	if k.StartField, s, err = parseCount(s, spec, "invalid number at field start"); err != nil {
		return k, err
	}
	if k.StartField == 0 {
		return k, badField(spec, "field number is zero")
	}
	if strings.HasPrefix(s, ".") {
		if k.StartChar, s, err = parseCount(s[1:], spec, "invalid number after '.'"); err != nil {
			return k, err
		}
		if k.StartChar == 0 {
			return k, badField(spec, "character offset is zero")
		}
	}
	s = k.setOrdering(s, true)
	if strings.HasPrefix(s, ",") {
		if k.EndField, s, err = parseCount(s[1:], spec, "invalid number after ','"); err != nil {
			return k, err
		}
		if k.EndField == 0 {
			return k, badField(spec, "field number is zero")
		}
		if strings.HasPrefix(s, ".") {
			if k.EndChar, s, err = parseCount(s[1:], spec, "invalid number after '.'"); err != nil {
				return k, err
			}
		}
		s = k.setOrdering(s, false)
	}
	if s != "" {
		return k, badField(spec, "stray character in field spec")
	}
	return k, nil
}

func (k *Key) setOrdering(s string, start bool) string {
	for len(s) > 0 {
		switch s[0] {
		case 'b':
			if start {
				k.StartBlanks = true
			} else {
				k.EndBlanks = true
			}
		case 'f':
			k.IgnoreCase = true
		case 'n':
			k.Numeric = true
		case 'r':
			k.Reverse = true
		default:
			return s
		}
		s = s[1:]
	}
	return s
}

// parseCount reads a decimal count at the start of s; counts too large for
// an int are clamped, as GNU clamps them to SIZE_MAX.
func parseCount(s, spec, msg string) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, fmt.Errorf("%s: invalid count at start of '%s'", msg, s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt32 {
		n = math.MaxInt32
	}
	return int(n), s[i:], nil
}

func badField(spec, msg string) error {
	return fmt.Errorf("%s: invalid field specification '%s'", msg, spec)
}

// ParseSize parses a -S argument: a number with an optional suffix b (bytes),
// K, M, G, T, P, E (powers of 1024) or % (of physical memory). Without a
// suffix the unit is KiB, as in GNU sort.
func ParseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid -S argument '%s'", s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("-S argument '%s' too large", s)
	}
	unit := uint64(1024)
	switch suffix := s[i:]; suffix {
	case "":
	case "b":
		unit = 1
	case "%":
		if n > 100 {
			return 0, fmt.Errorf("invalid -S argument '%s'", s)
		}
		return int64(float64(physicalMemory()) * float64(n) / 100), nil
	default:
		p := strings.IndexByte("kKmMgGtTpPeE", suffix[0])
		if len(suffix) != 1 || p < 0 {
			return 0, fmt.Errorf("invalid suffix in -S argument '%s'", s)
		}
		unit = 1 << (10 * (p/2 + 1))
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("-S argument '%s' too large", s)
	}
	return int64(n * unit), nil
}

// DefaultMemory is the budget used when Options.Memory is 0. Like GNU sort
// it is derived from physical memory: the larger of the available memory and
// 1/8 of the total, but at most 3/4 of the total, and at most half of the
// address-space and data-size limits. Memory is touched only as input
// arrives, so a small input uses little of it.
func DefaultMemory() int64 {
	total := physicalMemory()
	avail := availableMemory()
	m := max(avail, total/8)
	m = min(m, total/4*3)
	for _, res := range []int{unix.RLIMIT_AS, unix.RLIMIT_DATA} {
		var rl unix.Rlimit
		if unix.Getrlimit(res, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && int64(rl.Cur/2) < m {
			m = int64(rl.Cur / 2)
		}
	}
	return max(m, MinMemory)
}

func physicalMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 1 << 30
	}
	return int64(si.Totalram) * int64(si.Unit)
}

func availableMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
				f := strings.Fields(rest)
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 1 << 30
	}
	return int64(si.Freeram) * int64(si.Unit)
}

func (o *Options) parallel() int {
	if o.Parallel > 0 {
		return o.Parallel
	}
	return min(runtime.GOMAXPROCS(0), 8)
}

func (o *Options) memory() int64 {
	m := o.Memory
	if m == 0 {
		m = DefaultMemory()
	}
	return max(m, MinMemory)
}

func (o *Options) tempDirs() []string {
	if len(o.TempDirs) > 0 {
		return o.TempDirs
	}
	if d := os.Getenv("TMPDIR"); d != "" {
		return []string{d}
	}
	return []string{"/tmp"}
}

func (o *Options) validate() error {
	if len(o.Separator) > 1 {
		return fmt.Errorf("multi-character tab '%s'", o.Separator)
	}
	if o.Parallel < 0 {
		return errors.New("number in parallel must be nonzero")
	}
	if o.BatchSize == 1 || o.BatchSize < 0 {
		return fmt.Errorf("invalid --batch-size argument '%d'", o.BatchSize)
	}
	return nil
}
