package streaming

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// counts are the ways to count a range of a file, by name.
var counts = map[string]func(*os.File, int64, int64, byte) (int64, int64, error){
	"countRange": countRange, "mapCount": mapCount, "readCount": readCount,
}

// openData writes data to a temporary file and opens it.
func openData(t *testing.T, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCountRange checks countRange and its two ways, mapping the file a
// window at a time and reading it, against bytes.Count over ranges that
// start and end anywhere: inside pages, on window boundaries, across
// several windows, empty, at the file's end.
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
	f := openData(t, data)
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
			for name, count := range counts {
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
// past it (which fault when mapped); not a crash. The records and bytes
// up to the file's end are counted, as far as the command could have
// read, even when the fault is in a later window than the first.
func TestCountRangeShortFile(t *testing.T) {
	line := "a line\n"
	data := strings.Repeat(line, (countWindow+21000)/len(line)) // a window, 5 pages and a bit
	f := openData(t, []byte(data))
	size := int64(len(data))
	for _, start := range []int64{0, 3, countWindow + 70} {
		for _, end := range []int64{size + 7, size + 16*4096, size + countWindow + 1} {
			records, n, err := countRange(f, start, end, '\n')
			if want := int64(strings.Count(data[start:], "\n")); !errors.Is(err, errShrank) || records != want || n != size-start {
				t.Errorf("[%d, %d) of a %d-byte file: %d records, %d bytes, error %v; want %d, %d, errShrank", start, end, size, records, n, err, want, size-start)
			}
		}
	}
	// The goroutine's fault setting is left as it was.
	for _, prev := range []bool{false, true} {
		debug.SetPanicOnFault(prev)
		if _, _, err := mapCount(f, 0, size+countWindow, '\n'); err == nil {
			t.Error("mapCount past the end: no error")
		}
		if got := debug.SetPanicOnFault(false); got != prev {
			t.Errorf("SetPanicOnFault left %v, was %v", got, prev)
		}
	}
}
