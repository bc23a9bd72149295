package split

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sendChunk is the most SendTo asks the kernel to move at once.
const sendChunk = 1 << 20

// SendTo writes the rest of an uncompressed split's bytes to w without
// copying them through user space when it can: splice(2) when w is a pipe,
// sendfile(2) otherwise, and read/write where neither works. It does not
// look at the bytes, so afterwards [Reader.Records] is -1. A compressed
// split is copied through its decoder.
func (r *Reader) SendTo(w *os.File) (int64, error) {
	if r.codec != None {
		return io.Copy(w, r)
	}
	r.sent = true
	sec := r.src.(*io.SectionReader)
	pos, _ := sec.Seek(0, io.SeekCurrent)
	off := r.start + pos
	total := int64(0)
	rc, err := w.SyscallConn()
	if err != nil {
		return r.copyRest(w, off, total)
	}
	src := int(r.f.Fd())
	useSplice := true
	for off < r.end {
		var n int
		var serr error
		werr := rc.Write(func(fd uintptr) bool {
			want := int(min(int64(sendChunk), r.end-off))
			if useSplice {
				var n64 int64
				n64, serr = unix.Splice(src, &off, int(fd), nil, want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				n = int(n64)
			} else {
				n, serr = unix.Sendfile(int(fd), src, &off, want)
			}
			return serr != unix.EAGAIN
		})
		if serr == nil && werr != nil {
			serr = werr
		}
		if n > 0 {
			total += int64(n)
			r.bytes += int64(n)
		}
		switch {
		case serr == nil && n == 0:
			// The file shrank under us.
			r.eof = true
			return total, fmt.Errorf("%s: unexpected end of file", r.split.Path)
		case serr == nil, serr == unix.EINTR:
		case useSplice && (serr == unix.EINVAL || serr == unix.ENOSYS):
			useSplice = false
		case serr == unix.EINVAL || serr == unix.ENOSYS:
			return r.copyRest(w, off, total)
		default:
			return total, &os.PathError{Op: "write", Path: w.Name(), Err: serr}
		}
	}
	r.eof = true
	return total, nil
}

func (r *Reader) copyRest(w io.Writer, off, total int64) (int64, error) {
	n, err := io.CopyBuffer(w, io.NewSectionReader(r.f, off, r.end-off), make([]byte, sendChunk))
	r.bytes += n
	r.eof = true
	if err != nil && !errors.Is(err, io.EOF) {
		return total + n, err
	}
	return total + n, nil
}
