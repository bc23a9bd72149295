package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/streaming"
)

// mapInput is one map task's input.
type mapInput struct {
	name          string
	split         bool
	start, length int64
	term          byte
}

func mapInputs(desc string, isSplit bool, files []string) ([]mapInput, error) {
	if isSplit {
		in, err := parseSplit(desc)
		if err != nil {
			return nil, err
		}
		return []mapInput{in}, nil
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var out []mapInput
	for _, f := range files {
		out = append(out, mapInput{name: f})
	}
	return out, nil
}

// parseSplit parses PATH:START+LENGTH or PATH<TAB>START<TAB>LENGTH.
func parseSplit(desc string) (mapInput, error) {
	bad := func(why string) (mapInput, error) {
		return mapInput{}, fmt.Errorf("invalid split %q: %s", desc, why)
	}
	desc = strings.TrimRight(desc, "\n")
	var path, start, length string
	if f := strings.Split(desc, "\t"); len(f) == 3 {
		path, start, length = f[0], f[1], f[2]
	} else {
		i := strings.LastIndexByte(desc, ':')
		if i < 0 {
			return bad("want PATH:START+LENGTH or PATH<TAB>START<TAB>LENGTH")
		}
		var ok bool
		path = desc[:i]
		start, length, ok = strings.Cut(desc[i+1:], "+")
		if !ok {
			return bad("want PATH:START+LENGTH")
		}
	}
	s, err1 := strconv.ParseInt(start, 10, 64)
	l, err2 := strconv.ParseInt(length, 10, 64)
	if err1 != nil || err2 != nil || s < 0 || l < 0 {
		return bad("START and LENGTH must be non-negative integers")
	}
	if path == "" {
		return bad("empty path")
	}
	return mapInput{name: path, split: true, start: s, length: l}, nil
}

// open opens the input and describes it for the task's environment.
func (in mapInput) open(term byte) (io.ReadCloser, streaming.InputInfo, error) {
	info := streaming.InputInfo{Name: in.name, Start: in.start, Length: in.length, IsSplit: in.split}
	if in.name == "-" {
		return io.NopCloser(os.Stdin), info, nil
	}
	f, err := os.Open(in.name)
	if err != nil {
		return nil, info, fmt.Errorf("cannot read: %s: %w", in.name, unwrapPath(err))
	}
	if !in.split {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			info.Length = fi.Size()
		}
		return f, info, nil
	}
	if _, err := f.Seek(in.start, io.SeekStart); err != nil {
		f.Close()
		return nil, info, fmt.Errorf("cannot read: %s: %w", in.name, unwrapPath(err))
	}
	return &splitReader{f: f, br: bufio.NewReaderSize(f, streaming.ChunkSize), pos: in.start, end: in.start + in.length, skip: in.start != 0, term: term}, info, nil
}

// splitReader yields the records of a byte range as Hadoop's
// LineRecordReader does: a split not at offset 0 skips its first
// (partial) record, and every record starting at or before the end is
// read to its terminator.
type splitReader struct {
	f        *os.File
	br       *bufio.Reader
	pos, end int64
	skip     bool
	term     byte
	rest     []byte
	inRecord bool // in the middle of a record that started in range
	done     bool
}

func (s *splitReader) Read(p []byte) (int, error) {
	for {
		if len(s.rest) > 0 {
			n := copy(p, s.rest)
			s.rest = s.rest[n:]
			return n, nil
		}
		if s.done {
			return 0, io.EOF
		}
		if !s.inRecord && !s.skip && s.pos > s.end {
			s.done = true
			continue
		}
		b, err := s.br.ReadSlice(s.term)
		s.pos += int64(len(b))
		full := err == nil
		if s.skip {
			if full {
				s.skip = false
			}
		} else {
			s.rest = b
			s.inRecord = !full
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF {
				s.done = true
				continue
			}
			return 0, err
		}
	}
}

func (s *splitReader) Close() error { return s.f.Close() }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
