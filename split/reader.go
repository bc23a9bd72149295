package split

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// scanSize is the read size when looking for a record boundary.
const scanSize = 64 << 10

// Reader reads the records one split owns. Make one with [Open].
type Reader struct {
	split      Split
	f          *os.File
	src        io.Reader
	zd         *zstd.Decoder
	codec      Codec
	delim      byte
	start, end int64

	bytes, records int64
	last           byte
	eof            bool
	sent           bool
}

// Open opens the split s for reading records that end in '\n'.
func Open(s Split) (*Reader, error) { return OpenDelim(s, '\n') }

// OpenDelim opens the split s for reading records that end in delim
// (NUL for -z). It detects compression by the file's magic bytes. A
// compressed file cannot be split: the split that starts at 0 owns all of
// its decoded records, any other owns none. For an uncompressed file it
// resolves the split's byte range: from the first record that starts in
// [Start, End) to the end of the last one, which may lie past End.
func OpenDelim(s Split, delim byte) (*Reader, error) {
	if s.Start < 0 || s.Length < 0 {
		return nil, fmt.Errorf("%s: invalid split", s)
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, pathErr(s.Path, err)
	}
	r := &Reader{split: s, f: f, delim: delim}
	if err := r.init(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) init() error {
	s := r.split
	fi, err := r.f.Stat()
	if err != nil {
		return pathErr(s.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", s.Path)
	}
	size := fi.Size()
	var magic [4]byte
	n, err := r.f.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return pathErr(s.Path, err)
	}
	r.codec = detect(magic[:n])
	if r.codec != None {
		r.start, r.end = 0, -1
		if s.Start != 0 {
			r.src = eofReader{}
			return nil
		}
		switch r.codec {
		case Gzip:
			zr, err := gzip.NewReader(r.f)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			r.src = zr
		case Zstd:
			zd, err := zstd.NewReader(r.f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
			r.zd, r.src = zd, zd
		}
		return nil
	}
	if r.start, r.end, err = Bounds(r.f, size, s.Start, s.End(), r.delim); err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	r.src = io.NewSectionReader(r.f, r.start, r.end-r.start)
	return nil
}

// Bounds returns the byte range [rstart, rend) of the records that start in
// [start, end) of f, an uncompressed file of size bytes whose records end
// in delim. It reads only the bytes needed to find the two boundaries.
func Bounds(f *os.File, size, start, end int64, delim byte) (rstart, rend int64, err error) {
	if end < start {
		return 0, 0, fmt.Errorf("invalid range [%d, %d)", start, end)
	}
	if rstart, err = boundary(f, start, size, delim); err != nil {
		return 0, 0, err
	}
	if rend, err = boundary(f, max(end, rstart), size, delim); err != nil {
		return 0, 0, err
	}
	return rstart, rend, nil
}

// boundary returns the offset of the first record that starts at or after
// b in a file of size bytes: 0 for 0, size for b >= size, else one past the
// first delim at or after b-1.
func boundary(f *os.File, b, size int64, delim byte) (int64, error) {
	if b <= 0 {
		return 0, nil
	}
	if b >= size {
		return size, nil
	}
	var buf [scanSize]byte
	for off := b - 1; off < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if i := bytes.IndexByte(buf[:n], delim); i >= 0 {
			return off + int64(i) + 1, nil
		}
		off += int64(n)
		if err != nil {
			if err == io.EOF {
				break
			}
			return 0, err
		}
	}
	return size, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Read reads the split's records.
func (r *Reader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	n, err := r.src.Read(p)
	if n > 0 {
		r.bytes += int64(n)
		r.records += int64(bytes.Count(p[:n], []byte{r.delim}))
		r.last = p[n-1]
	}
	if err == io.EOF {
		r.eof = true
		if r.bytes > 0 && r.last != r.delim {
			r.records++
		}
	} else if err != nil {
		err = fmt.Errorf("%s: %w", r.split.Path, err)
	}
	return n, err
}

// Range returns the resolved byte range [start, end) of an uncompressed
// split; for a compressed file, end is -1.
func (r *Reader) Range() (start, end int64) { return r.start, r.end }

// Codec returns the compression detected when the split was opened.
func (r *Reader) Codec() Codec { return r.codec }

// Bytes returns the number of (decoded) bytes read so far.
func (r *Reader) Bytes() int64 { return r.bytes }

// Records returns the number of records read so far; the last one counts
// once it ends or the split's end has been read. After [Reader.SendTo] it
// is -1: the bytes were not looked at.
func (r *Reader) Records() int64 {
	if r.sent {
		return -1
	}
	return r.records
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.zd != nil {
		r.zd.Close()
	}
	return r.f.Close()
}
