package split

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sendChunk is the most SendTo asks the kernel to move at once.
const sendChunk = 1 << 20

// SendTo writes the rest of an uncompressed split's bytes to w without
// copying them through user space when it can (see [SendRange]). It does
// not look at the bytes, so afterwards [Reader.Records] is -1. A compressed
// split is copied through its decoder.
func (r *Reader) SendTo(w *os.File) (int64, error) {
	if r.codec != None {
		return io.Copy(w, r)
	}
	r.sent = true
	sec := r.src.(*io.SectionReader)
	pos, _ := sec.Seek(0, io.SeekCurrent)
	n, err := SendRange(w, r.f, r.start+pos, r.end)
	r.bytes += n
	r.eof = true
	if err != nil {
		err = fmt.Errorf("%s: %w", r.split.Path, err)
	}
	return n, err
}

// SendRange writes the bytes [start, end) of the file src to w: with
// splice(2) when w is a pipe, sendfile(2) otherwise, and read/write where
// neither works. The data does not pass through user space.
func SendRange(w, src *os.File, start, end int64) (int64, error) {
	off := start
	total := int64(0)
	rc, err := w.SyscallConn()
	if err != nil {
		return copyRange(w, src, off, end, total)
	}
	sfd := int(src.Fd())
	useSplice := true
	for off < end {
		var n int
		var serr error
		werr := rc.Write(func(fd uintptr) bool {
			want := int(min(int64(sendChunk), end-off))
			if useSplice {
				var n64 int64
				n64, serr = unix.Splice(sfd, &off, int(fd), nil, want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				n = int(n64)
			} else {
				n, serr = unix.Sendfile(int(fd), sfd, &off, want)
			}
			return serr != unix.EAGAIN
		})
		if serr == nil && werr != nil {
			serr = werr
		}
		if n > 0 {
			total += int64(n)
		}
		switch {
		case serr == nil && n == 0:
			return total, io.ErrUnexpectedEOF // the file shrank
		case serr == nil, serr == unix.EINTR:
		case useSplice && (serr == unix.EINVAL || serr == unix.ENOSYS):
			useSplice = false
		case serr == unix.EINVAL || serr == unix.ENOSYS:
			return copyRange(w, src, off, end, total)
		default:
			return total, &os.PathError{Op: "write", Path: w.Name(), Err: serr}
		}
	}
	return total, nil
}

func copyRange(w io.Writer, src *os.File, off, end, total int64) (int64, error) {
	n, err := io.CopyBuffer(w, io.NewSectionReader(src, off, end-off), make([]byte, sendChunk))
	return total + n, err
}
