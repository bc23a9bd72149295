package shuffle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// genLines makes n key<TAB>value lines over a small key space, some
// without a tab, some with an empty key.
func genLines(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%d", r.IntN(50))
		switch r.IntN(20) {
		case 0:
			fmt.Fprintf(&b, "%s\n", k)
		case 1:
			fmt.Fprintf(&b, "\t%d\n", i)
		default:
			fmt.Fprintf(&b, "%s\t%d\n", k, i)
		}
	}
	return b.Bytes()
}

// stableSortByKey is sort -s -t'\t' -k1,1: lines by key bytes, ties in
// input order.
func stableSortByKey(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	key := func(l string) string {
		l = strings.TrimSuffix(l, "\n")
		if i := strings.IndexByte(l, '\t'); i >= 0 {
			return l[:i]
		}
		return l
	}
	sort.SliceStable(lines, func(i, j int) bool { return key(lines[i]) < key(lines[j]) })
	return []byte(strings.Join(lines, ""))
}

func writeAll(t *testing.T, dir string, o Options, data []byte, chunk int) *Manifest {
	t.Helper()
	w, err := Create(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	m, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mergeAll(t *testing.T, p int, dirs ...string) ([]byte, error) {
	t.Helper()
	var parts []*Part
	for _, d := range dirs {
		pt, err := FindPart(d, p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, pt)
	}
	var out bytes.Buffer
	_, err := Merge(context.Background(), parts, &out, MergeOptions{})
	return out.Bytes(), err
}

func TestWriteMergeEqualsStableSort(t *testing.T) {
	data := genLines(20000, 1)
	want := stableSortByKey(data)
	for _, compress := range []string{"", CompressNone} {
		for _, chunk := range []int{1, 7, 4096, 1 << 20} {
			if chunk == 1 && compress == "" {
				continue
			}
			dir := t.TempDir()
			m := writeAll(t, dir, Options{Partitions: 3, Sort: true, Compress: compress, Memory: 1 << 20}, data, chunk)
			if len(m.Partitions) != 3 || m.Stats.InputRecords != 20000 || m.Stats.OutputRecords != 20000 {
				t.Fatalf("manifest: %+v", m)
			}
			hp, _ := NewHashPartitioner(3)
			var got []byte
			for p := 0; p < 3; p++ {
				out, err := mergeAll(t, p, dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range bytes.SplitAfter(out, []byte("\n")) {
					if len(l) > 0 {
						if q := hp.Partition(KeySpec{}.Key(l[:len(l)-1])); q != p {
							t.Fatalf("line %q in partition %d, belongs in %d", l, p, q)
						}
					}
				}
				got = append(got, out...)
			}
			if !bytes.Equal(stableSortByKey(got), want) {
				t.Fatalf("compress %q chunk %d: partitions, regrouped, differ from a stable sort", compress, chunk)
			}
		}
	}
}

func TestUnsortedKeepsOrder(t *testing.T) {
	// 5,000 lines fit each partition's buffer; 1,000,000 (9 MB) fill it
	// several times, each full buffer handed to the encoder as a block.
	for _, n := range []int{5000, 1000000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testUnsortedKeepsOrder(t, n) })
	}
}

func testUnsortedKeepsOrder(t *testing.T, n int) {
	data := genLines(n, 2)
	dir := t.TempDir()
	m := writeAll(t, dir, Options{Partitions: 4}, data, 999)
	if m.Sorted {
		t.Fatal("manifest says sorted")
	}
	hp, _ := NewHashPartitioner(4)
	want := make([][]byte, 4)
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			p := hp.Partition(KeySpec{}.Key(l[:len(l)-1]))
			want[p] = append(want[p], l...)
		}
	}
	for p := 0; p < 4; p++ {
		b, err := os.ReadFile(filepath.Join(dir, PartName(p)))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && !bytes.HasPrefix(b, s2Magic) {
			t.Fatalf("partition %d is not an S2 stream", p)
		}
		// The reduce side sorts unsorted parts: stable, so it is the
		// stable sort of the partition in input order.
		got, err := mergeAll(t, p, dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, stableSortByKey(want[p])) {
			t.Errorf("partition %d differs", p)
		}
	}
}

func TestMergeStableAcrossInputs(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeAll(t, a, Options{Partitions: 1, Sort: true}, []byte("x\ta1\ny\ta2\nx\ta3\n"), 100)
	writeAll(t, b, Options{Partitions: 1, Sort: true}, []byte("x\tb1\nw\tb2\n"), 100)
	got, err := mergeAll(t, 0, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := "w\tb2\nx\ta1\nx\ta3\nx\tb1\ny\ta2\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, _ = mergeAll(t, 0, b, a)
	if want := "w\tb2\nx\tb1\nx\ta1\nx\ta3\ny\ta2\n"; string(got) != want {
		t.Errorf("reversed inputs: got %q, want %q", got, want)
	}
}

func TestLastLineWithoutTerminator(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		dir := t.TempDir()
		m := writeAll(t, dir, Options{Partitions: 1, Sort: sorted}, []byte("b\t1\na"), 1)
		if m.Partitions[0].Records != 2 || m.Partitions[0].Bytes != 6 {
			t.Fatalf("sorted=%v: %+v", sorted, m.Partitions[0])
		}
	}
}

func TestEmptyInput(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		dir := t.TempDir()
		m := writeAll(t, dir, Options{Partitions: 3, Sort: sorted}, nil, 1)
		for p := 0; p < 3; p++ {
			if _, err := os.Stat(filepath.Join(dir, PartName(p))); err != nil {
				t.Fatal(err)
			}
			got, err := mergeAll(t, p, dir)
			if err != nil || len(got) != 0 {
				t.Fatalf("partition %d: %q, %v", p, got, err)
			}
		}
		if m.Stats.InputRecords != 0 {
			t.Fatal(m.Stats)
		}
	}
}

func TestCombine(t *testing.T) {
	data := genLines(3000, 3)
	// A combiner that counts records per key: key<TAB>n.
	count := func(ctx context.Context, p int, r io.Reader, w io.Writer) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		var prev string
		n := 0
		emit := func() {
			if n > 0 {
				fmt.Fprintf(w, "%s\t%d\n", prev, n)
			}
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			k, _, _ := strings.Cut(l, "\t")
			if k != prev || n == 0 {
				emit()
				prev, n = k, 0
			}
			n++
		}
		emit()
		return nil
	}
	dir := t.TempDir()
	m := writeAll(t, dir, Options{Partitions: 3, Combine: count}, data, 4096)
	if !m.Combined || m.Stats.CombineInputRecords != 3000 || m.Stats.CombineOutputRecords != m.Stats.OutputRecords {
		t.Fatalf("counters %+v", m.Stats)
	}
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		k, _, _ := strings.Cut(l, "\t")
		counts[k]++
	}
	total := 0
	for p := 0; p < 3; p++ {
		got, err := mergeAll(t, p, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
			if l == "" {
				continue
			}
			var k string
			var n int
			k, ns, _ := strings.Cut(l, "\t")
			fmt.Sscan(ns, &n)
			if counts[k] != n {
				t.Errorf("%q: %d, want %d", k, n, counts[k])
			}
			total++
		}
	}
	if total != len(counts) {
		t.Errorf("%d keys, want %d", total, len(counts))
	}
}

func TestCombineOutputChecked(t *testing.T) {
	bad := map[string]CombineFunc{
		"order": func(ctx context.Context, p int, r io.Reader, w io.Writer) error {
			io.Copy(io.Discard, r)
			_, err := io.WriteString(w, "the\t1\na\t1\n") // both partition 0 of 2
			return err
		},
		"partition": func(ctx context.Context, p int, r io.Reader, w io.Writer) error {
			io.Copy(io.Discard, r)
			_, err := io.WriteString(w, "a\t1\nhello\t1\n") // a: 0, hello: 1 of 2
			return err
		},
		"fails": func(ctx context.Context, p int, r io.Reader, w io.Writer) error {
			return fmt.Errorf("exit status 3")
		},
	}
	for name, f := range bad {
		dir := t.TempDir()
		w, err := Create(context.Background(), dir, Options{Partitions: 2, Combine: f})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("a\t1\nb\t2\n"))
		_, err = w.Close()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Errorf("%s: left %v", name, ents)
		}
	}
}

func TestComparator(t *testing.T) {
	data := []byte("a\t10\nb\t9\nc\t100\nd\t9\n")
	dir := t.TempDir()
	m := writeAll(t, dir, Options{Partitions: 1, Key: KeySpec{Fields: 2}, Comparator: "-k2,2nr"}, data, 3)
	if m.Comparator != "-k2,2nr" {
		t.Fatal(m.Comparator)
	}
	got, err := mergeAll(t, 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "c\t100\na\t10\nb\t9\nd\t9\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// More partitions: the partition prefix is a field of its own.
	dir = t.TempDir()
	writeAll(t, dir, Options{Partitions: 70, Key: KeySpec{Fields: 2}, Comparator: "-k2,2n"}, genLines(2000, 5), 100)
	for p := 0; p < 70; p++ {
		if _, err := mergeAll(t, p, dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTotalOrderGlobal(t *testing.T) {
	data := genLines(5000, 4)
	tp, err := NewTotalOrderPartitioner(4, [][]byte{[]byte("k2"), []byte("k4"), []byte("k7")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeAll(t, dir, Options{Partitions: 4, Partitioner: tp, Sort: true}, data, 5000)
	var got []byte
	for p := 0; p < 4; p++ {
		out, err := mergeAll(t, p, dir)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	if !bytes.Equal(got, stableSortByKey(data)) {
		t.Error("concatenated partitions are not the stable sort")
	}
}

func TestSkipCombine(t *testing.T) {
	ran := false
	never := func(ctx context.Context, p int, r io.Reader, w io.Writer) error {
		ran = true
		_, err := io.Copy(w, r)
		return err
	}
	dir := t.TempDir()
	w, err := Create(context.Background(), dir, Options{Partitions: 2, Combine: never})
	if err != nil {
		t.Fatal(err)
	}
	w.SkipCombine()
	in := "the\t3\na\t1\nhello\t2\nz\t9\n"
	if _, err := w.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	m, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("the combiner ran after SkipCombine")
	}
	if !m.Sorted || m.Stats.InputRecords != 4 || m.Stats.OutputRecords != 4 || m.Stats.CombineInputRecords != 0 {
		t.Errorf("manifest %+v, stats %+v", m, m.Stats)
	}
	var got []string
	for p := 0; p < 2; p++ {
		b, err := mergeAll(t, p, dir)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if !sort.StringsAreSorted(lines) {
			t.Errorf("partition %d not sorted: %q", p, lines)
		}
		got = append(got, lines...)
	}
	sort.Strings(got)
	if want := []string{"a\t1", "hello\t2", "the\t3", "z\t9"}; !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// TestMergeInBatches checks that parts beyond the fan-in are merged in
// batches with the same output, stable in the order of parts, and counts
// as in one pass; that a damaged part is still found; and that the parts
// are not all open at once.
func TestMergeInBatches(t *testing.T) {
	var dirs []string
	var all []byte
	for i := range 23 {
		d := t.TempDir()
		data := genLines(300+50*i, uint64(i))
		writeAll(t, d, Options{Partitions: 2, Sort: true}, data, 4096)
		dirs = append(dirs, d)
		all = append(all, data...)
	}
	parts := func(p int) []*Part {
		var ps []*Part
		for _, d := range dirs {
			pt, err := FindPart(d, p)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pt)
		}
		return ps
	}
	for p := range 2 {
		var one, batched bytes.Buffer
		st1, err := Merge(context.Background(), parts(p), &one, MergeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// With room for the fan-in and a few files more, not for all the
		// parts at once.
		var st2 MergeStats
		withFileLimit(t, openFiles(t)+4+6, func() {
			st2, err = Merge(context.Background(), parts(p), &batched, MergeOptions{FanIn: 4, TempDirs: []string{t.TempDir()}})
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Bytes(), batched.Bytes()) {
			t.Errorf("partition %d: merged in batches of 4, the output differs", p)
		}
		if st1 != st2 || st2.Records == 0 || st2.OutRecords != st2.Records {
			t.Errorf("partition %d: stats %+v in one pass, %+v in batches", p, st1, st2)
		}
		// A merge in one pass that runs out of files (other merges hold
		// some) goes on in batches.
		var held []*os.File
		for range 40 {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, f)
		}
		var again bytes.Buffer
		var st3 MergeStats
		withFileLimit(t, openFiles(t)+12, func() {
			if o := (MergeOptions{}); !o.onePass(parts(p)) {
				t.Fatalf("%d parts not for one pass under a limit of %d", len(dirs), fileLimit())
			}
			st3, err = Merge(context.Background(), parts(p), &again, MergeOptions{TempDirs: []string{t.TempDir()}})
		})
		for _, f := range held {
			f.Close()
		}
		if err != nil || !bytes.Equal(again.Bytes(), one.Bytes()) || st3 != st1 {
			t.Errorf("partition %d, out of files in one pass: %v, stats %+v, same output %v", p, err, st3, bytes.Equal(again.Bytes(), one.Bytes()))
		}
	}
	// The partitions together are the stable sort of all the input.
	var both []byte
	for p := range 2 {
		var b bytes.Buffer
		if _, err := Merge(context.Background(), parts(p), &b, MergeOptions{FanIn: 3}); err != nil {
			t.Fatal(err)
		}
		both = append(both, b.Bytes()...)
	}
	if !bytes.Equal(stableSortByKey(both), stableSortByKey(all)) {
		t.Error("the partitions merged in batches do not hold the input")
	}
	// A part cut short in a later batch is found.
	ps := parts(0)
	f := ps[17].Path
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	_, err = Merge(context.Background(), ps, io.Discard, MergeOptions{FanIn: 4})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != f {
		t.Errorf("truncated part %s: got %v, want a VerifyError naming it", f, err)
	}
}

// withFileLimit runs f with the soft limit on open files at n.
func withFileLimit(t *testing.T, n int, f func()) {
	t.Helper()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip(err)
	}
	lower := rl
	lower.Cur = uint64(n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lower); err != nil {
		t.Skip(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	f()
}

// openFiles returns how many files this process has open.
func openFiles(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// TestMergeUnsortedFailing checks that a sort of unsorted parts that fails
// (its temporary directory is missing, or it is cancelled) says so and
// leaves nothing running that touches the parts (run with -race).
func TestMergeUnsortedFailing(t *testing.T) {
	var parts []*Part
	for i := range 60 {
		d := t.TempDir()
		writeAll(t, d, Options{Partitions: 1}, genLines(2000, uint64(i)), 4096)
		pt, err := FindPart(d, 0)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, pt)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := Merge(context.Background(), parts, io.Discard, MergeOptions{Memory: 4 << 20, TempDirs: []string{missing}})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("sort with a missing temporary directory: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	st, err := Merge(ctx, parts, io.Discard, MergeOptions{Memory: 4 << 20})
	if err == nil && st.OutRecords != st.Records {
		t.Errorf("cancelled sort: no error, stats %+v", st)
	}
}

// TestWriteFailure: when writing a part file fails in the middle, Write or
// Close says so, naming the file, and the directory gets no manifest and
// no part files; nothing hangs, whether the buffers are handed to the
// encoder (4 partitions), copied into it (100) or written plain, and
// however much is written after the failure.
func TestWriteFailure(t *testing.T) {
	data := genLines(2000000, 3) // 18 MB: each partition's buffer fills many times
	for _, o := range []Options{
		{Partitions: 4},
		{Partitions: 100},
		{Partitions: 4, Compress: CompressNone},
	} {
		t.Run(fmt.Sprintf("%d-%s", o.Partitions, o.Compress), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(context.Background(), dir, o)
			if err != nil {
				t.Fatal(err)
			}
			quarter := len(data) / 4
			if _, err := w.Write(data[:quarter]); err != nil {
				t.Fatal(err)
			}
			// The files go away under the writer, as on a failing disk.
			for _, pf := range w.parts {
				pf.f.Close()
			}
			done := make(chan error, 1)
			go func() {
				var werr error
				for i := 0; i < 3 && werr == nil; i++ {
					_, werr = w.Write(data)
				}
				_, cerr := w.Close()
				done <- errors.Join(werr, cerr)
			}()
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the writer has not ended in two minutes")
			}
			if err == nil || !strings.Contains(err.Error(), "write "+dir+"/part-") {
				t.Fatalf("error %v, want a failed write of a part file", err)
			}
			left, _ := os.ReadDir(dir)
			if len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}
