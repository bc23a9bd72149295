package streaming

import (
	"bytes"
	"io"
)

// ChunkSize is the size of the buffers records are read and written in.
const ChunkSize = 256 << 10

// maxRecord bounds a single record: a longer one is an error rather than
// unbounded memory growth.
const maxRecord = 1 << 30

// ChunkReader reads records in batches: each call to Next returns a slice
// holding one or more whole records, each with its terminator. A last
// record without a terminator is returned with one added, so every record
// a consumer sees is terminated. The slice is valid until the next call.
type ChunkReader struct {
	r          io.Reader
	term       byte
	buf        []byte
	start, end int
	err        error
}

// NewChunkReader returns a ChunkReader over r with records ending in term.
func NewChunkReader(r io.Reader, term byte) *ChunkReader {
	return &ChunkReader{r: r, term: term, buf: make([]byte, ChunkSize)}
}

// ErrRecordTooLong is returned for a record longer than 1 GiB.
var ErrRecordTooLong = errorString("record longer than 1 GiB")

type errorString string

func (e errorString) Error() string { return string(e) }

// Next returns the next batch of whole records, or nil and io.EOF at the
// end, or nil and the read error.
func (c *ChunkReader) Next() ([]byte, error) {
	scanFrom := c.start
	for {
		if c.end > c.start {
			if i := bytes.LastIndexByte(c.buf[scanFrom:c.end], c.term); i >= 0 {
				i += scanFrom
				out := c.buf[c.start : i+1]
				c.start = i + 1
				return out, nil
			}
		}
		if c.err != nil {
			if c.end > c.start {
				// A last record without terminator: add one.
				if c.end == len(c.buf) {
					c.compact(1)
				}
				c.buf[c.end] = c.term
				c.end++
				out := c.buf[c.start:c.end]
				c.start = c.end
				return out, nil
			}
			return nil, c.err
		}
		scanFrom = c.end
		if c.end == len(c.buf) {
			if c.start == 0 && len(c.buf) >= maxRecord {
				c.err = ErrRecordTooLong
				return nil, c.err
			}
			scanFrom -= c.start
			c.compact(ChunkSize / 4)
		}
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		if err != nil {
			c.err = err
		}
	}
}

// compact moves the unread bytes to the front, growing the buffer when
// fewer than room bytes would be free.
func (c *ChunkReader) compact(room int) {
	n := c.end - c.start
	if len(c.buf)-n < room {
		nb := make([]byte, max(2*len(c.buf), n+room))
		copy(nb, c.buf[c.start:c.end])
		c.buf = nb
	} else {
		copy(c.buf, c.buf[c.start:c.end])
	}
	c.start, c.end = 0, n
}

// countRecords returns the number of records in a chunk of whole records.
func countRecords(chunk []byte, term byte) int64 {
	return int64(bytes.Count(chunk, []byte{term}))
}

// Lines calls fn for every record of a chunk of whole records, without
// its terminator.
func Lines(chunk []byte, term byte, fn func(line []byte) error) error {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, term)
		if i < 0 {
			return fn(chunk)
		}
		if err := fn(chunk[:i]); err != nil {
			return err
		}
		chunk = chunk[i+1:]
	}
	return nil
}
