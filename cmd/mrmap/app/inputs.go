package app

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// mapInput is one map task's input: standard input, a whole file, or a
// split of one.
type mapInput struct {
	stdin   bool
	isSplit bool
	split   split.Split
}

func mapInputs(desc string, isSplit bool, files []string) ([]mapInput, error) {
	if isSplit {
		s, err := split.ParseDescriptor(desc)
		if err != nil {
			return nil, cliutil.Usagef("--split: %v", err)
		}
		return []mapInput{{isSplit: true, split: s}}, nil
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var out []mapInput
	for _, f := range files {
		if f == "-" {
			out = append(out, mapInput{stdin: true})
			continue
		}
		out = append(out, mapInput{split: split.Split{Path: f}})
	}
	return out, nil
}

// open opens the input (decoding gzip and zstd files) and describes it
// for the task's environment.
func (in mapInput) open(term byte) (io.ReadCloser, streaming.InputInfo, error) {
	if in.stdin {
		info := streaming.InputInfo{Name: "-"}
		// Under mrsplit --filter, standard input is the split it names.
		if d := os.Getenv("MRPIPE_SPLIT"); d != "" {
			if s, err := split.ParseDescriptor(d); err == nil {
				info = streaming.InputInfo{Name: s.Path, Start: s.Start, Length: s.Length, IsSplit: true}
			}
		}
		if info.IsSplit {
			return io.NopCloser(os.Stdin), info, nil
		}
		return stdinInput{os.Stdin, term}, info, nil
	}
	s := in.split
	info := streaming.InputInfo{Name: s.Path, Start: s.Start, Length: s.Length, IsSplit: in.isSplit}
	if !in.isSplit {
		fi, err := os.Stat(s.Path)
		if err != nil {
			return nil, info, fmt.Errorf("cannot read: %s: %w", s.Path, unwrapPath(err))
		}
		if fi.IsDir() {
			return nil, info, fmt.Errorf("cannot read: %s: is a directory", s.Path)
		}
		if !fi.Mode().IsRegular() {
			// A pipe or device: read it as a stream.
			f, err := os.Open(s.Path)
			if err != nil {
				return nil, info, fmt.Errorf("cannot read: %s: %w", s.Path, unwrapPath(err))
			}
			return f, info, nil
		}
		s.Length = fi.Size()
		info.Length = s.Length
	}
	r, err := split.OpenDelim(s, term)
	if err != nil {
		return nil, info, fmt.Errorf("cannot read: %w", err)
	}
	return &splitInput{Reader: r, path: s.Path, term: term}, info, nil
}

// splitInput is a split's reader that the mapper may also read directly
// from the file (streaming.DirectInput): when the file is uncompressed and
// the split's records end in a terminator.
type splitInput struct {
	*split.Reader
	path string
	term byte
}

func (s *splitInput) DirectRange() (string, int64, int64, bool) {
	if s.Codec() != split.None {
		return "", 0, 0, false
	}
	start, end := s.Range()
	fi, err := os.Stat(s.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < end {
		return "", 0, 0, false
	}
	if end > start {
		f, err := os.Open(s.path)
		if err != nil {
			return "", 0, 0, false
		}
		defer f.Close()
		var last [1]byte
		if _, err := f.ReadAt(last[:], end-1); err != nil || last[0] != s.term {
			return "", 0, 0, false
		}
	}
	return s.path, start, end, true
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stdinInput is standard input; when it is a regular file (mrmap < FILE)
// the mapper may read it directly, from its current offset to its end.
type stdinInput struct {
	f    *os.File
	term byte
}

func (s stdinInput) Read(p []byte) (int, error) { return s.f.Read(p) }
func (s stdinInput) Close() error               { return nil }

func (s stdinInput) DirectRange() (string, int64, int64, bool) {
	fi, err := s.f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", 0, 0, false
	}
	start, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil || start > fi.Size() {
		return "", 0, 0, false
	}
	end := fi.Size()
	if end > start {
		var last [1]byte
		if _, err := s.f.ReadAt(last[:], end-1); err != nil || last[0] != s.term {
			return "", 0, 0, false
		}
		// Compressed input goes through the pipe (undecoded, as it is
		// read from standard input).
	}
	return fmt.Sprintf("/proc/self/fd/%d", s.f.Fd()), start, end, true
}
