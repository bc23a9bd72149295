package split

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultSize is the split size when neither a count nor a size is given.
const DefaultSize = 64 << 20

// Codec is how a file is compressed.
type Codec int

// The codecs recognised by their magic bytes.
const (
	None Codec = iota
	Gzip
	Zstd
)

func (c Codec) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

// Split is a byte range of one file. A compressed file's only split covers
// the whole file, and reading it yields the decoded records.
type Split struct {
	Path   string
	Start  int64
	Length int64
	// Codec is the file's compression, as detected by Plan. Open detects
	// it again, so a Split parsed from a descriptor needs no Codec.
	Codec Codec
}

// End is Start+Length.
func (s Split) End() int64 { return s.Start + s.Length }

// String returns the split as PATH:START+LENGTH.
func (s Split) String() string {
	return s.Path + ":" + strconv.FormatInt(s.Start, 10) + "+" + strconv.FormatInt(s.Length, 10)
}

// Descriptor returns the split as PATH<TAB>START<TAB>LENGTH.
func (s Split) Descriptor() string {
	return s.Path + "\t" + strconv.FormatInt(s.Start, 10) + "\t" + strconv.FormatInt(s.Length, 10)
}

// ParseDescriptor parses a split written by [Split.Descriptor] (a trailing
// newline is allowed) or by [Split.String].
func ParseDescriptor(d string) (Split, error) {
	d = strings.TrimSuffix(strings.TrimSuffix(d, "\n"), "\r")
	var path, start, length string
	if p, l, ok := cutLast(d, "\t"); ok {
		if p2, s, ok := cutLast(p, "\t"); ok {
			path, start, length = p2, s, l
		}
	}
	if path == "" {
		if p, rest, ok := cutLast(d, ":"); ok {
			if s, l, ok := strings.Cut(rest, "+"); ok {
				path, start, length = p, s, l
			}
		}
	}
	st, err1 := strconv.ParseInt(start, 10, 64)
	ln, err2 := strconv.ParseInt(length, 10, 64)
	if path == "" || err1 != nil || err2 != nil || st < 0 || ln < 0 || st > (1<<63-1)-ln {
		return Split{}, fmt.Errorf("invalid split descriptor %q: want PATH<TAB>START<TAB>LENGTH or PATH:START+LENGTH", d)
	}
	return Split{Path: path, Start: st, Length: ln}, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Options say how to plan splits.
type Options struct {
	// N, when positive, is the number of splits: chunk k of N of a file
	// covers [k*q + min(k, r), (k+1)*q + min(k+1, r)) with q, r = S/N, S%N.
	// With several files, the N splits are shared among them in proportion
	// to their sizes, each file getting at least one. Compressed files are
	// one split each, on top of N.
	N int
	// Size is the split size when N is 0 (default DefaultSize). Splits are
	// that size except the last of each file.
	Size int64
	// MinSize is the smallest split Plan makes from a file larger than it:
	// with N, a file gets at most max(1, S/MinSize) splits; with Size, the
	// split size is at least MinSize.
	MinSize int64
}

// Chunk returns the byte range [start, end) of chunk k (0-based) of n over
// size bytes.
func Chunk(k, n int, size int64) (start, end int64) {
	q, r := size/int64(n), size%int64(n)
	kk := int64(k)
	return kk*q + min(kk, r), (kk+1)*q + min(kk+1, r)
}

// Input is a file found by [Expand].
type Input struct {
	Path  string
	Size  int64
	Codec Codec
	// ModTime is the file's modification time in Unix nanoseconds, as
	// Expand saw it (what --resume compares to tell a changed input).
	ModTime int64 `json:",omitempty"`
}

// Expand resolves inputs (files, directories, glob patterns) to the files
// they name, in order: a directory's files in name order, not recursively,
// without names starting with "_" or "."; a pattern's matches in name
// order, directories among them expanded likewise. It stats each file and
// reads its first four bytes to detect compression.
func Expand(inputs []string) ([]Input, error) {
	var out []Input
	for _, in := range inputs {
		fi, err := os.Stat(in)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) || !hasMeta(in) {
				return nil, pathErr(in, err)
			}
			matches, gerr := filepath.Glob(in)
			if gerr != nil {
				return nil, fmt.Errorf("%s: %w", in, gerr)
			}
			n := 0
			for _, m := range matches {
				if hidden(filepath.Base(m)) {
					continue
				}
				fi, err := os.Stat(m)
				if err != nil {
					return nil, pathErr(m, err)
				}
				add, err := expandOne(m, fi)
				if err != nil {
					return nil, err
				}
				out = append(out, add...)
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("%s: no files match the pattern", in)
			}
			continue
		}
		add, err := expandOne(in, fi)
		if err != nil {
			return nil, err
		}
		out = append(out, add...)
	}
	return out, nil
}

func expandOne(path string, fi fs.FileInfo) ([]Input, error) {
	if !fi.IsDir() {
		in, err := inspect(path, fi)
		if err != nil {
			return nil, err
		}
		return []Input{in}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, pathErr(path, err)
	}
	var out []Input
	for _, e := range ents {
		if hidden(e.Name()) {
			continue
		}
		p := filepath.Join(path, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return nil, pathErr(p, err)
		}
		if fi.IsDir() {
			continue
		}
		in, err := inspect(p, fi)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

func inspect(path string, fi fs.FileInfo) (Input, error) {
	if !fi.Mode().IsRegular() {
		return Input{}, fmt.Errorf("%s: not a regular file", path)
	}
	in := Input{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	if in.Size < 2 {
		return in, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Input{}, pathErr(path, err)
	}
	defer f.Close()
	var magic [4]byte
	n, err := f.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return Input{}, pathErr(path, err)
	}
	in.Codec = detect(magic[:n])
	return in, nil
}

func detect(b []byte) Codec {
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return Gzip
	case len(b) >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd:
		return Zstd
	}
	return None
}

func hidden(name string) bool { return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") }

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// pathErr returns err as "PATH: cause", the cause without Go's op prefix.
func pathErr(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// Plan returns the splits of inputs (see [Expand]) as opts says.
func Plan(inputs []string, opts Options) ([]Split, error) {
	files, err := Expand(inputs)
	if err != nil {
		return nil, err
	}
	return PlanFiles(files, opts)
}

// PlanFiles is Plan for inputs already expanded.
func PlanFiles(files []Input, opts Options) ([]Split, error) {
	if opts.N < 0 || opts.Size < 0 || opts.MinSize < 0 {
		return nil, errors.New("split: negative count or size")
	}
	counts := make([]int, len(files))
	if opts.N > 0 {
		shareOut(files, opts.N, counts)
	} else {
		size := opts.Size
		if size == 0 {
			size = DefaultSize
		}
		size = max(size, opts.MinSize)
		for i, f := range files {
			counts[i] = int(max(1, (f.Size+size-1)/size))
		}
	}
	var out []Split
	for i, f := range files {
		if f.Codec != None {
			out = append(out, Split{Path: f.Path, Start: 0, Length: f.Size, Codec: f.Codec})
			continue
		}
		n := counts[i]
		if opts.N > 0 && opts.MinSize > 0 {
			n = min(n, int(max(1, f.Size/opts.MinSize)))
		}
		if opts.N == 0 {
			size := max(cmp0(opts.Size, DefaultSize), opts.MinSize)
			for k := 0; k < n; k++ {
				s := int64(k) * size
				out = append(out, Split{Path: f.Path, Start: s, Length: min(size, f.Size-s)})
			}
			continue
		}
		for k := 0; k < n; k++ {
			s, e := Chunk(k, n, f.Size)
			out = append(out, Split{Path: f.Path, Start: s, Length: e - s})
		}
	}
	return out, nil
}

func cmp0(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// shareOut gives each uncompressed file a number of splits, at least one,
// n in all when there are at most n files, in proportion to their sizes:
// each next split goes to the file whose splits are largest.
func shareOut(files []Input, n int, counts []int) {
	h := &shares{files: files, counts: counts}
	given := 0
	for i, f := range files {
		counts[i] = 1
		if f.Codec == None {
			h.idx = append(h.idx, i)
			given++
		}
	}
	if len(h.idx) == 0 {
		return
	}
	heap.Init(h)
	for ; given < n; given++ {
		i := h.idx[0]
		counts[i]++
		heap.Fix(h, 0)
	}
}

type shares struct {
	files  []Input
	counts []int
	idx    []int
}

func (h *shares) Len() int { return len(h.idx) }
func (h *shares) Less(a, b int) bool {
	i, j := h.idx[a], h.idx[b]
	// files[i].Size/counts[i] > files[j].Size/counts[j], exactly.
	l, r := mul128(h.files[i].Size, h.counts[j]), mul128(h.files[j].Size, h.counts[i])
	if l != r {
		return l.gt(r)
	}
	return i < j
}
func (h *shares) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *shares) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *shares) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}

type u128 struct{ hi, lo uint64 }

func (a u128) gt(b u128) bool { return a.hi > b.hi || a.hi == b.hi && a.lo > b.lo }

func mul128(a int64, b int) u128 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return u128{hi, lo}
}
