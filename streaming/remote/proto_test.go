package remote

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

// frames reads every frame in b.
func frames(t *testing.T, b []byte) []frame {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	var out []frame
	for {
		var buf []byte
		fr, err := readFrame(r, &buf)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fr)
	}
}

// TestSendReaderCompresses checks that a file crosses the wire as S2
// blocks where they save bytes and as plain data elsewhere, and that the
// receiving sink, and a relay in between, deliver exactly its bytes.
func TestSendReaderCompresses(t *testing.T) {
	text := bytes.Repeat([]byte("127.0.0.1 - - [30/Nov/2026:17:09:28 +0000] \"GET /index.html HTTP/1.1\" 200 512\n"), 40<<10)
	random := make([]byte, chunkSize+12345)
	rand.Read(random)
	in := append(append(append([]byte(nil), text...), random...), "tail without newline"...)

	var out bytes.Buffer
	if err := newWire(&out).sendReader(7, "input", 0o600, bytes.NewReader(in), nil); err != nil {
		t.Fatal(err)
	}
	frs := frames(t, out.Bytes())
	var types strings.Builder
	for _, fr := range frs {
		types.WriteByte(fr.typ)
		if fr.id != 7 {
			t.Fatalf("frame for request %d", fr.id)
		}
	}
	// text: 3.1 MiB in 1 MiB chunks, compressed; the chunk that holds
	// the rest of the text and the start of the random bytes
	// compresses too; then random bytes alone are sent plain.
	if got := types.String(); !strings.HasPrefix(got, "FZZZ") || !strings.Contains(got, "D") || got[len(got)-1] != 'E' {
		t.Fatalf("frame types %q", got)
	}
	if out.Len() > len(in)/2 {
		t.Errorf("%d bytes on the wire for %d bytes of mostly text", out.Len(), len(in))
	}

	// Through a relay, then into a sink.
	var relayed bytes.Buffer
	rl := &relay{w: newWire(&relayed), id: 9, name: "part-00000"}
	for _, fr := range frs {
		rl.frame(fr)
	}
	if err := rl.close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sk := &sink{dir: dir}
	for _, fr := range frames(t, relayed.Bytes()) {
		if fr.id != 9 {
			t.Fatalf("relayed frame for request %d", fr.id)
		}
		sk.frame(fr)
	}
	if err := sk.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "part-00000"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, in) || sk.n != int64(len(in)) {
		t.Fatalf("sink wrote %d bytes (counted %d), want the %d sent", len(got), sk.n, len(in))
	}
}

// TestSinkRefusesBadBlocks checks that a compressed frame that does not
// decode, or decodes to more than a chunk, fails the request.
func TestSinkRefusesBadBlocks(t *testing.T) {
	big := s2.Encode(nil, make([]byte, chunkSize+1))
	good := s2.Encode(nil, []byte(strings.Repeat("abc", 1000)))
	for name, data := range map[string][]byte{
		"garbage":   []byte("\xff\xff\xff\xff\x0fnot s2"),
		"truncated": good[:len(good)-3],
		"too big":   big,
	} {
		t.Run(name, func(t *testing.T) {
			sk := &sink{dir: t.TempDir()}
			sk.frame(frame{typ: msgFile, data: []byte(`{"name":"f","mode":384}`)})
			sk.frame(frame{typ: msgDataZ, data: data})
			sk.frame(frame{typ: msgEnd})
			if err := sk.close(); err == nil || !strings.Contains(err.Error(), "bad compressed data frame") {
				t.Fatalf("close = %v, want a bad compressed data frame error", err)
			}
		})
	}
}
