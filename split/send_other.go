//go:build !linux

package split

import (
	"fmt"
	"io"
	"os"
)

// SendTo writes the rest of the split's records to w. Afterwards
// [Reader.Records] is -1 for an uncompressed split.
func (r *Reader) SendTo(w *os.File) (int64, error) {
	if r.codec == None {
		r.sent = true
	}
	n, err := io.CopyBuffer(w, readerOnly{r}, make([]byte, 1<<20))
	if err != nil {
		err = fmt.Errorf("%s: %w", r.split.Path, err)
	}
	return n, err
}

// SendRange writes the bytes [start, end) of the file src to w.
func SendRange(w, src *os.File, start, end int64) (int64, error) {
	return io.CopyBuffer(w, io.NewSectionReader(src, start, end-start), make([]byte, 1<<20))
}

type readerOnly struct{ io.Reader }
