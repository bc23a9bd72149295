package shuffle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/s2"
)

// Part is one partition file to read, with its manifest entry if it has
// one.
type Part struct {
	// Path is the file.
	Path string
	// Manifest and Info describe it; both are nil for a file without a
	// manifest, which is read unverified.
	Manifest *Manifest
	Info     *PartInfo
}

// FindPart returns partition p of the map output at path. A directory must
// hold a manifest with an entry for p. A file is verified against the
// manifest.json beside it if that manifest lists the file; otherwise it is
// read as it is (p is then not used).
func FindPart(path string, p int) (*Part, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if fi.IsDir() {
		m, err := ReadManifest(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: no %s: not a map output directory", path, ManifestName)
			}
			return nil, err
		}
		if p < 0 || p >= len(m.Partitions) {
			return nil, fmt.Errorf("%s: no partition %d (the manifest has %d)", path, p, len(m.Partitions))
		}
		info := &m.Partitions[p]
		return &Part{Path: filepath.Join(path, info.File), Manifest: m, Info: info}, nil
	}
	dir := filepath.Dir(path)
	m, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return &Part{Path: path}, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range m.Partitions {
		if m.Partitions[i].File == filepath.Base(path) {
			return &Part{Path: path, Manifest: m, Info: &m.Partitions[i]}, nil
		}
	}
	return &Part{Path: path}, nil
}

// VerifyError reports a part file that does not match its manifest, or a
// corrupt S2 stream: what was read is not what was written.
type VerifyError struct {
	File string
	What string
}

func (e *VerifyError) Error() string { return e.File + ": " + e.What }

// IsVerifyError reports whether err is (or wraps) a *VerifyError.
func IsVerifyError(err error) bool {
	var ve *VerifyError
	return errors.As(err, &ve)
}

// ReadError reports a part file that could not be read.
type ReadError struct {
	File string
	Err  error
}

func (e *ReadError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// s2Magic and snappyMagic start an S2 (or Snappy) framed stream.
var (
	s2Magic     = []byte("\xff\x06\x00\x00S2sTwO")
	snappyMagic = []byte("\xff\x06\x00\x00sNaPpY")
)

// Open opens the part for reading: S2 streams (told by their magic) are
// decompressed, other files read as they are. With a manifest entry, the
// reader checks the file's size when opened and its format, records, bytes
// and checksum as it reads; a difference is a *VerifyError, returned by
// Read in place of io.EOF.
func (pt *Part) Open() (io.ReadCloser, error) {
	f, err := os.Open(pt.Path)
	if err != nil {
		if pt.Info != nil && errors.Is(err, fs.ErrNotExist) {
			// The manifest lists it: the map output is not what was
			// written.
			return nil, &VerifyError{File: pt.Path, What: "missing, the manifest lists it"}
		}
		return nil, fmt.Errorf("%s: %w", pt.Path, unwrapPath(err))
	}
	return pt.newReader(f, f)
}

// NewReader is Open over an open file (or any reader); size checks need a
// file.
func (pt *Part) newReader(r io.Reader, c io.Closer) (io.ReadCloser, error) {
	vr := &verifyReader{name: pt.Path, info: pt.Info, closer: c, term: '\n'}
	if pt.Manifest != nil && pt.Manifest.ZeroTerminated {
		vr.term = 0
	}
	if pt.Info != nil {
		var err error
		if vr.want, err = pt.Info.crc(); err != nil {
			c.Close()
			return nil, &VerifyError{File: pt.Path, What: err.Error()}
		}
		if f, ok := r.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() != pt.Info.FileBytes {
				c.Close()
				return nil, &VerifyError{File: pt.Path, What: fmt.Sprintf("file is %d bytes, manifest says %d", fi.Size(), pt.Info.FileBytes)}
			}
		}
	}
	// A small part gets a buffer its size: a reduce over many map outputs
	// holds many at once.
	size := 256 << 10
	if pt.Info != nil {
		size = int(min(max(pt.Info.FileBytes, 4<<10), int64(size)))
	}
	br := bufio.NewReaderSize(fileReader{r}, size)
	head, err := br.Peek(len(s2Magic))
	var fe fileError
	if err != nil && errors.As(err, &fe) {
		c.Close()
		return nil, fmt.Errorf("%s: %w", pt.Path, unwrapPath(fe.err))
	}
	isS2 := bytes.Equal(head, s2Magic) || bytes.Equal(head, snappyMagic)
	if pt.Manifest != nil && len(head) > 0 && isS2 != (pt.Manifest.Format == CompressS2) {
		c.Close()
		what := "plain text"
		if isS2 {
			what = "an S2 stream"
		}
		return nil, &VerifyError{File: pt.Path, What: fmt.Sprintf("file is %s, manifest says format %s", what, pt.Manifest.Format)}
	}
	if isS2 {
		vr.src = s2.NewReader(br, s2.ReaderMaxBlockSize(4<<20), s2.ReaderAllocBlock(s2BlockSize))
		vr.s2 = true
	} else {
		vr.src = br
	}
	return vr, nil
}

// fileReader marks errors from the file itself, to tell them from
// corrupt data found by the decompressor.
type fileReader struct{ r io.Reader }

type fileError struct{ err error }

func (e fileError) Error() string { return e.err.Error() }
func (e fileError) Unwrap() error { return e.err }

func (f fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		err = fileError{err}
	}
	return n, err
}

type verifyReader struct {
	name    string
	src     io.Reader
	closer  io.Closer
	info    *PartInfo
	s2      bool
	term    byte
	crc     uint32
	want    uint32
	records int64
	bytes   int64
	last    byte
	err     error
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.src.Read(p)
	if n > 0 {
		b := p[:n]
		v.crc = crc32.Update(v.crc, castagnoli, b)
		v.records += int64(bytes.Count(b, []byte{v.term}))
		v.bytes += int64(n)
		v.last = b[n-1]
		if v.info != nil && v.bytes > v.info.Bytes {
			v.err = &VerifyError{File: v.name, What: fmt.Sprintf("more than the %d bytes the manifest says", v.info.Bytes)}
			return n, nil
		}
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		v.err = v.atEOF()
		return n, v.err
	default:
		var fe fileError
		if errors.As(err, &fe) {
			v.err = &ReadError{File: v.name, Err: unwrapPath(fe.err)}
		} else if v.s2 {
			v.err = &VerifyError{File: v.name, What: "corrupt S2 stream: " + s2Error(err)}
		} else {
			v.err = &ReadError{File: v.name, Err: err}
		}
		return n, v.err
	}
}

func s2Error(err error) string {
	if err == io.ErrUnexpectedEOF {
		return "truncated"
	}
	return err.Error()
}

// atEOF checks the totals against the manifest.
func (v *verifyReader) atEOF() error {
	if v.info == nil {
		return io.EOF
	}
	records := v.records
	if v.bytes > 0 && v.last != v.term {
		records++
	}
	i := v.info
	switch {
	case records != i.Records:
		return &VerifyError{File: v.name, What: fmt.Sprintf("%d records, manifest says %d", records, i.Records)}
	case v.bytes != i.Bytes:
		return &VerifyError{File: v.name, What: fmt.Sprintf("%d bytes, manifest says %d", v.bytes, i.Bytes)}
	case v.crc != v.want:
		return &VerifyError{File: v.name, What: fmt.Sprintf("checksum %08x, manifest says %08x", v.crc, v.want)}
	}
	return io.EOF
}

// Close closes the part. It may be called more than once, and while a
// Read is under way (which then fails).
func (v *verifyReader) Close() error {
	c := v.closer
	v.closer = nil
	if c == nil {
		return nil
	}
	return c.Close()
}
