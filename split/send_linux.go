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
	wfd := -1
	rc.Control(func(fd uintptr) { wfd = int(fd) })
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
		if n > 0 {
			total += int64(n)
		}
		if serr == unix.EAGAIN && werr != nil {
			// w is not in Go's poller (standard output is a blocking
			// file Go does not poll): wait for room ourselves.
			if perr := waitWritable(wfd); perr != nil {
				return total, &os.PathError{Op: "write", Path: w.Name(), Err: perr}
			}
			continue
		}
		if serr == nil && werr != nil {
			serr = werr
		}
		if serr == unix.EPIPE && (wfd == 1 || wfd == 2) {
			// As for any write to a closed standard output: die of
			// SIGPIPE, quietly, as GNU tools do (the Go runtime raises it
			// for os.File writes on descriptors 1 and 2, not for splice).
			w.Write([]byte{'\n'})
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

// waitWritable waits until fd has room for a write (or an error to
// report, which the next write returns).
func waitWritable(fd int) error {
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, -1)
		if err != unix.EINTR {
			return err
		}
	}
}

func copyRange(w io.Writer, src *os.File, off, end, total int64) (int64, error) {
	n, err := io.CopyBuffer(w, io.NewSectionReader(src, off, end-off), make([]byte, sendChunk))
	return total + n, err
}
