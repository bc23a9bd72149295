package split

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

func TestTerminated(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"\n", "\n"},
		{"a", "a\n"},
		{"a\n", "a\n"},
		{"a\nb", "a\nb\n"},
		{"a\r\n", "a\r\n"},
		{"a\n\n", "a\n\n"},
	} {
		// Whole reads, byte-at-a-time reads, and reads that end exactly
		// at the input's end (the terminator then comes in a read of its
		// own), with io.EOF alone or together with the last bytes.
		readers := map[string]io.Reader{
			"whole":    Terminated(bytes.NewReader([]byte(c.in)), '\n'),
			"one byte": iotest.OneByteReader(Terminated(bytes.NewReader([]byte(c.in)), '\n')),
			"data+EOF": Terminated(iotest.DataErrReader(bytes.NewReader([]byte(c.in))), '\n'),
			"half":     iotest.HalfReader(Terminated(bytes.NewReader([]byte(c.in)), '\n')),
		}
		for name, r := range readers {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != c.want {
				t.Errorf("%s: Terminated(%q) = %q, %v; want %q", name, c.in, got, err, c.want)
			}
		}
		if err := iotest.TestReader(Terminated(bytes.NewReader([]byte(c.in)), '\n'), []byte(c.want)); err != nil {
			t.Errorf("Terminated(%q): %v", c.in, err)
		}
	}
	// NUL-terminated records.
	if got, _ := io.ReadAll(Terminated(bytes.NewReader([]byte("a\x00b")), 0)); string(got) != "a\x00b\x00" {
		t.Errorf("NUL: %q", got)
	}
	// Errors other than io.EOF pass through.
	r := Terminated(iotest.ErrReader(io.ErrUnexpectedEOF), '\n')
	if _, err := r.Read(make([]byte, 4)); err != io.ErrUnexpectedEOF {
		t.Errorf("error: %v", err)
	}
}

func FuzzTerminated(f *testing.F) {
	f.Add([]byte("a\nb"), 3)
	f.Add([]byte(""), 1)
	f.Add([]byte("x\n"), 2)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		want := in
		if len(in) > 0 && in[len(in)-1] != '\n' {
			want = append(append([]byte(nil), in...), '\n')
		}
		chunk = 1 + (chunk&0xff)%64
		r := Terminated(bytes.NewReader(in), '\n')
		var got []byte
		buf := make([]byte, chunk)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Terminated(%q) in reads of %d = %q, want %q", in, chunk, got, want)
		}
	})
}
