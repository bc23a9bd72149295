package extsort

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// randomLines makes n lines over an alphabet chosen to hit the comparison's
// corners: blanks, separators, digits and signs, NUL, 0x80 (GNU's
// thousands separator in the C locale), other high bytes and CR.
func randomLines(r *rand.Rand, n int) []byte {
	alpha := []string{"a", "b", "B", "0", "1", "9", "-", ".", " ", "\t", ",", "\x00", "\x80", "\xff", "\r", "é", "ab", "abcdefghij"}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		for k := r.IntN(14); k > 0; k-- {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gnuSort(t *testing.T, args []string, in []byte) []byte {
	t.Helper()
	cmd := exec.Command("sort", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sort %q: %v", args, err)
	}
	return out
}

// TestSortMemoryShapes sorts the same inputs entirely in memory, in
// arenas kept in memory, in runs on disk, in both, and with several merge
// passes, and wants GNU sort's output every time.
func TestSortMemoryShapes(t *testing.T) {
	if _, err := exec.LookPath("sort"); err != nil {
		t.Skip("GNU sort not found")
	}
	optsets := []struct {
		args []string
		o    Options
	}{
		{nil, Options{}},
		{[]string{"-r"}, Options{Reverse: true}},
		{[]string{"-n"}, Options{Numeric: true}},
		{[]string{"-u"}, Options{Unique: true}},
		{[]string{"-f", "-u"}, Options{IgnoreCase: true, Unique: true}},
		{[]string{"-s", "-t", ",", "-k2,2"}, Options{Stable: true, Separator: ",", Keys: []Key{{StartField: 2, EndField: 2}}}},
		{[]string{"-k1.2b,1.4", "-k2n"}, Options{Keys: []Key{{StartField: 1, StartChar: 2, StartBlanks: true, EndField: 1, EndChar: 4}, {StartField: 2, Numeric: true}}}},
		{[]string{"-z"}, Options{ZeroTerminated: true}},
	}
	shapes := []struct {
		name   string
		mem    int64
		chunk  int64
		batch  int
		lines  int
		inMem  bool // no runs expected
		onDisk bool // runs expected
		pmerge int  // size of parallel merge ranges; 0: none
	}{
		{"memory", 64 << 20, maxChunk, 0, 5000, true, false, 0},
		{"kept", 4 << 20, 32 << 10, 0, 20000, true, false, 0},
		{"kept/parallel", 4 << 20, 32 << 10, 0, 20000, true, false, 16 << 10},
		{"kept/parallel-tiny", 4 << 20, 32 << 10, 0, 20000, true, false, 64},
		{"kept+runs", 1 << 20, 64 << 10, 0, 60000, false, true, 0},
		{"kept+runs/parallel", 1 << 20, 64 << 10, 0, 60000, false, true, 16 << 10},
		{"kept+runs/parallel-tiny", 1 << 20, 64 << 10, 0, 60000, false, true, 64},
		{"runs", MinMemory, maxChunk, 0, 30000, false, true, 0},
		{"runs/parallel", MinMemory, 16 << 10, 16, 30000, false, true, 1 << 10},
		{"runs/parallel-tiny", MinMemory, 16 << 10, 100, 30000, false, true, 64},
		{"passes", MinMemory, maxChunk, 2, 30000, false, true, 0},
	}
	dir := t.TempDir()
	for i, os := range optsets {
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%s/%q", sh.name, os.args), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 3))
				in := randomLines(r, sh.lines)
				if os.o.ZeroTerminated {
					in = bytes.ReplaceAll(in, []byte{'\n'}, []byte{0})
				}
				file := filepath.Join(dir, "in")
				if err := writeFile(file, in); err != nil {
					t.Fatal(err)
				}
				o := os.o
				o.Memory, o.BatchSize, o.TempDirs = sh.mem, sh.batch, []string{dir}
				s, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				s.chunk = sh.chunk
				s.parMin = 1 << 62
				if sh.pmerge > 0 {
					o.Parallel = 2
					if s, err = New(o); err != nil {
						t.Fatal(err)
					}
					s.chunk, s.parMin, s.parRange = sh.chunk, 0, sh.pmerge
					s.parMark, s.runBuf = 2<<10, 1<<10
				}
				var out bytes.Buffer
				st, err := s.Sort(context.Background(), []Input{{Name: file}}, &out)
				if err != nil {
					t.Fatal(err)
				}
				want := gnuSort(t, append(os.args, file), nil)
				if !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("output differs from GNU sort (%d vs %d bytes)", out.Len(), len(want))
				}
				if sh.inMem && st.Runs != 0 || sh.onDisk && st.Runs == 0 {
					t.Errorf("runs = %d, want in memory %v", st.Runs, sh.inMem)
				}
				if sh.batch == 2 && st.MergePasses == 0 {
					t.Errorf("no merge passes with --batch-size=2")
				}
				if st.Records != int64(bytes.Count(in, []byte{s.term})) || st.Bytes != int64(len(in)) {
					t.Errorf("stats %+v for %d bytes", st, len(in))
				}
				if st.OutRecords+st.Duplicates != st.Records {
					t.Errorf("stats %+v lose records", st)
				}
			})
		}
	}
}

func writeFile(name string, b []byte) error { return os.WriteFile(name, b, 0o644) }

// TestHugeLine sorts a line larger than the whole memory budget.
func TestHugeLine(t *testing.T) {
	big := strings.Repeat("m", 3*MinMemory)
	in := "z\n" + big + "\na\n" + big[:10] + "\n"
	s, err := New(Options{Memory: MinMemory, TempDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := s.Sort(context.Background(), []Input{{Name: "-", Reader: strings.NewReader(in)}}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "a\n" + big[:10] + "\n" + big + "\nz\n"; out.String() != want {
		t.Fatalf("got %d bytes, want %d", out.Len(), len(want))
	}
}

// TestIdenticalLines sorts 10^7 equal lines through runs on disk.
func TestIdenticalLines(t *testing.T) {
	n := 10_000_000
	if testing.Short() {
		n = 1_000_000
	}
	in := strings.Repeat("same\n", n)
	for _, o := range []Options{{Memory: 8 << 20}, {Memory: 8 << 20, Unique: true}, {Memory: 8 << 20, Stable: true, Keys: []Key{{StartField: 1}}}} {
		o.TempDirs = []string{t.TempDir()}
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := s.Sort(context.Background(), []Input{{Name: "-", Reader: strings.NewReader(in)}}, &out)
		if err != nil {
			t.Fatal(err)
		}
		want := in
		if o.Unique {
			want = "same\n"
		}
		if out.String() != want || st.Runs == 0 {
			t.Fatalf("%+v: got %d bytes, want %d; %d runs", o, out.Len(), len(want), st.Runs)
		}
	}
}

// TestNoFinalNewline: the last line gains a terminator, in every input.
func TestNoFinalNewline(t *testing.T) {
	s, _ := New(Options{})
	var out bytes.Buffer
	_, err := s.Sort(context.Background(), []Input{
		{Name: "a", Reader: strings.NewReader("b\nd")},
		{Name: "b", Reader: strings.NewReader("c\na")},
		{Name: "c", Reader: strings.NewReader("")},
	}, &out)
	if err != nil || out.String() != "a\nb\nc\nd\n" {
		t.Fatalf("got %q, %v", out.String(), err)
	}
}

// TestCancel: a cancelled sort returns the context's error and leaves no
// temporary file.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(Options{Memory: MinMemory, TempDirs: []string{dir}})
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw, _ := os.Pipe()
	go func() {
		line := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<12)
		for i := 0; i < 100; i++ {
			pw.Write(line)
		}
		cancel()
		pw.Close()
	}()
	_, err := s.Sort(ctx, []Input{{Name: "-", Reader: pr}}, &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// TestWriteError: a failing output is reported as an *OutputError.
func TestWriteError(t *testing.T) {
	s, _ := New(Options{})
	_, err := s.Sort(context.Background(), []Input{{Name: "-", Reader: strings.NewReader("b\na\n")}}, failWriter{})
	var oe *OutputError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want *OutputError", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestParallelMergeErrors: with the final merge on several goroutines, a
// failing output and a cancelled context end the sort with their error,
// and every goroutine returns.
func TestParallelMergeErrors(t *testing.T) {
	in := randomLines(rand.New(rand.NewPCG(7, 7)), 50000)
	sorter := func() *Sorter {
		s, err := New(Options{Memory: 8 << 20, Parallel: 2})
		if err != nil {
			t.Fatal(err)
		}
		s.chunk, s.parMin, s.parRange = 64<<10, 0, 4<<10
		return s
	}
	before := runtime.NumGoroutine()
	_, err := sorter().Sort(context.Background(), []Input{{Name: "-", Reader: bytes.NewReader(in)}}, &failAfter{n: 100 << 10})
	var oe *OutputError
	if !errors.As(err, &oe) {
		t.Fatalf("failing output: err = %v, want *OutputError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err = sorter().Sort(ctx, []Input{{Name: "-", Reader: bytes.NewReader(in)}}, writerFunc(func(p []byte) (int, error) {
		cancel()
		return len(p), nil
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 500 {
			t.Fatalf("%d goroutines left running", runtime.NumGoroutine()-before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelMergeSlowOutput: when the output is slow, the parallel
// merge's workers wait for their pools' buffers to come back, and the
// output is whole and sorted. (A worker that made buffers of its own once
// its pool was empty sent a buffer per line, more than the pool could take
// back, and the merge hung.)
func TestParallelMergeSlowOutput(t *testing.T) {
	// Ranges of 2 MiB: more buffers each than a pool holds.
	testSlowOutput(t, randomLines(rand.New(rand.NewPCG(8, 8)), 1000000), 64<<20, 200*time.Microsecond)
}

// TestParallelMergeLongLinesSlowOutput: lines longer than a merge
// worker's buffers get buffers of their own, which the output must not
// give to the worker's pool (it has room for its own only: the merge hung).
func TestParallelMergeLongLinesSlowOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var in bytes.Buffer
	for i := 0; i < 120; i++ {
		in.Write(bytes.Repeat([]byte{byte('a' + r.IntN(26))}, outBuf+r.IntN(64<<10)))
		in.WriteByte('\n')
	}
	testSlowOutput(t, in.Bytes(), 256<<20, time.Millisecond)
}

// testSlowOutput sorts in with a parallel merge over ranges of 2 MiB into
// an output that takes delay for each write, and compares the result with
// GNU sort's. It fails if the sort has not ended in two minutes.
func testSlowOutput(t *testing.T, in []byte, memory int64, delay time.Duration) {
	t.Helper()
	s, err := New(Options{Memory: memory, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.chunk, s.parMin, s.parRange = 64<<10, 0, 2<<20
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := s.Sort(context.Background(), []Input{{Name: "-", Reader: bytes.NewReader(in)}}, writerFunc(func(p []byte) (int, error) {
			time.Sleep(delay)
			return out.Write(p)
		}))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the merge has not ended in two minutes")
	}
	if want := gnuSort(t, nil, in); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output differs from GNU sort (%d vs %d bytes)", out.Len(), len(want))
	}
}

// failAfter fails every write once n bytes have been written.
type failAfter struct{ n int }

func (w *failAfter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk on fire")
	}
	return len(p), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestParallelMergeLongLines: runs mark no place where a line longer than
// maxMarkLine starts, so a parallel final merge over runs of mostly long
// lines reads longer sections; the output is still GNU sort's.
func TestParallelMergeLongLines(t *testing.T) {
	if _, err := exec.LookPath("sort"); err != nil {
		t.Skip("GNU sort not found")
	}
	r := rand.New(rand.NewPCG(11, 13))
	var in bytes.Buffer
	for i := 0; i < 3000; i++ {
		n := 1 + r.IntN(3*maxMarkLine)
		if i%3 == 0 {
			n = 1 + r.IntN(40)
		}
		for j := 0; j < n; j++ {
			in.WriteByte("ab\x00\xffz"[r.IntN(5)])
		}
		in.WriteByte('\n')
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "in")
	if err := writeFile(file, in.Bytes()); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Memory: MinMemory, BatchSize: 100, Parallel: 2, TempDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	s.chunk, s.parMin, s.parRange, s.parMark, s.runBuf = 64<<10, 0, 16<<10, 8<<10, 4<<10
	var out bytes.Buffer
	st, err := s.Sort(context.Background(), []Input{{Name: file}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs < 2 {
		t.Fatalf("runs = %d, want several", st.Runs)
	}
	if want := gnuSort(t, []string{file}, nil); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output differs from GNU sort (%d vs %d bytes)", out.Len(), len(want))
	}
}
