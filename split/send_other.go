//go:build !linux

package split

import (
	"io"
	"os"
)

// SendTo writes the rest of the split's records to w. Afterwards
// [Reader.Records] is -1.
func (r *Reader) SendTo(w *os.File) (int64, error) {
	if r.codec == None {
		r.sent = true
	}
	return io.CopyBuffer(w, readerOnly{r}, make([]byte, 1<<20))
}

type readerOnly struct{ io.Reader }
