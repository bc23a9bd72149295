package extsort

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestLineWriter writes lines of every length around the buffer size,
// some far longer, and checks that the writes hold whole lines, in order,
// each about the buffer size unless one line is longer, with at most
// three buffers in use.
func TestLineWriter(t *testing.T) {
	const size = 64
	r := rand.New(rand.NewPCG(4, 4))
	var want, got bytes.Buffer
	var writes [][]byte
	w := newLineWriterSize(func(b []byte) error {
		writes = append(writes, bytes.Clone(b))
		got.Write(b)
		return nil
	}, '\n', size)
	for i := 0; i < 2000; i++ {
		n := r.IntN(size + 8)
		if i%97 == 0 {
			n = 5 * size
		}
		line := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		w.line(line)
		want.Write(line)
		want.WriteByte('\n')
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("output differs from the lines written")
	}
	if w.records != 2000 || w.bytes != int64(want.Len()) {
		t.Errorf("counted %d records, %d bytes; want 2000, %d", w.records, w.bytes, want.Len())
	}
	for i, b := range writes {
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Fatalf("write %d does not end a line", i)
		}
		if len(b) > 2*size && bytes.Count(b, []byte("\n")) > 1 {
			t.Errorf("write %d: %d bytes in %d lines, for buffers of %d", i, len(b), bytes.Count(b, []byte("\n")), size)
		}
	}
	if w.spare > outBufs-1 {
		t.Errorf("%d spare buffers made", w.spare)
	}
}

// TestLineWriterSmall: a few lines make one write and no spare buffer.
func TestLineWriterSmall(t *testing.T) {
	var writes int
	w := newLineWriterSize(func(b []byte) error { writes++; return nil }, '\n', outBuf)
	w.line([]byte("a"))
	w.line([]byte("b"))
	if cap(w.cur) >= outBuf {
		t.Errorf("a buffer of %d bytes for two lines", cap(w.cur))
	}
	if err := w.close(); err != nil || writes != 1 || w.spare != 0 {
		t.Errorf("err %v, %d writes, %d spare buffers", err, writes, w.spare)
	}
}

// TestLineWriterError: the first write error is returned by close.
func TestLineWriterError(t *testing.T) {
	boom := errors.New("boom")
	w := newLineWriterSize(func(b []byte) error { return boom }, '\n', 16)
	for i := 0; i < 100; i++ {
		w.line([]byte("0123456789"))
	}
	if err := w.close(); !errors.Is(err, boom) {
		t.Errorf("close: %v", err)
	}
}
