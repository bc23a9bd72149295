package streaming

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCountRange checks countRange, which maps the file a window at a
// time, and readCount, which reads it, against bytes.Count over ranges
// that start and end anywhere: inside pages, on window boundaries, across
// several windows, empty.
func TestCountRange(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 2*countWindow+12345)
	for i := range data {
		switch r.IntN(20) {
		case 0:
			data[i] = '\n'
		case 1:
			data[i] = 0
		default:
			data[i] = byte('a' + r.IntN(26))
		}
	}
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(data))
	type rng struct{ start, end int64 }
	ranges := []rng{
		{0, size}, {0, 0}, {5, 5}, {0, 1}, {1, 4095}, {4095, 4097}, {4096, 8192},
		{countWindow - 1, countWindow + 1}, {countWindow, 2 * countWindow}, {3, 2*countWindow + 7},
		{size - 1, size}, {size - 5000, size}, {12345, size - 54321},
	}
	for range 20 {
		a, b := r.Int64N(size+1), r.Int64N(size+1)
		ranges = append(ranges, rng{min(a, b), max(a, b)})
	}
	for _, g := range ranges {
		for _, term := range []byte{'\n', 0} {
			want := int64(bytes.Count(data[g.start:g.end], []byte{term}))
			for name, count := range map[string]func(*os.File, int64, int64, byte) (int64, int64, error){"countRange": countRange, "readCount": readCount} {
				records, n, err := count(f, g.start, g.end, term)
				if err != nil || records != want || n != g.end-g.start {
					t.Errorf("%s [%d, %d) term %q: %d records, %d bytes, %v; want %d, %d", name, g.start, g.end, term, records, n, err, want, g.end-g.start)
				}
			}
		}
	}
}

// TestCountRangeShortFile: a range past the end of its file (which
// shrank after the range was planned) is an error, whether the end falls
// in the file's last page (which reads as zeros when mapped) or in pages
// past it (which fault when mapped); not a crash, nor a count.
func TestCountRangeShortFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in")
	data := strings.Repeat("a line\n", 3000) // 21000 bytes: 5 pages and a bit
	if err := os.WriteFile(path, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(data))
	for _, end := range []int64{size + 7, size + 3*4096, size + countWindow + 1} {
		for name, count := range map[string]func(*os.File, int64, int64, byte) (int64, int64, error){"countRange": countRange, "readCount": readCount} {
			records, n, err := count(f, 0, end, '\n')
			if err == nil {
				t.Errorf("%s [0, %d) of a %d-byte file: %d records, %d bytes, no error", name, end, size, records, n)
			}
		}
	}
}
