package streaming

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// checkSumTable adds keys (each with the value 1, then again with 2) to a
// sum table and checks its records against a map's, in first-seen order.
func checkSumTable(t *testing.T, keys [][]byte) {
	t.Helper()
	tab := newSumTable()
	// Twice over: the second time in the table the first emptied.
	for range 2 {
		checkSumTableOnce(t, tab, keys)
		for j := range tab.slots {
			if tab.slots[j] != (sumSlot{}) {
				t.Fatalf("slot %d not cleared: %+v", j, tab.slots[j])
			}
		}
	}
}

func checkSumTableOnce(t *testing.T, tab *sumTable, keys [][]byte) {
	t.Helper()
	want := map[string]int{}
	var order []string
	for round, v := range []string{"1", "2"} {
		for _, k := range keys {
			isNew, err := tab.add(k, []byte(v))
			if err != nil {
				t.Fatal(err)
			}
			_, seen := want[string(k)]
			if isNew == seen {
				t.Fatalf("round %d: add(%q) new = %v, seen before = %v", round, k, isNew, seen)
			}
			if !seen {
				order = append(order, string(k))
			}
			want[string(k)] += round + 1
		}
	}
	var wantOut bytes.Buffer
	for _, k := range order {
		fmt.Fprintf(&wantOut, "%s\t%d\n", k, want[k])
	}
	out, err := tab.appendAll(nil, []byte("\t"), '\n', func(b []byte) ([]byte, error) { return b, nil })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, wantOut.Bytes()) {
		t.Fatalf("records:\n%q\nwant:\n%q", out, wantOut.Bytes())
	}
	if tab.used != 0 || len(tab.order) != 0 {
		t.Fatalf("table not empty after appendAll: %d used", tab.used)
	}
}

// TestSumTableKeys covers the key encodings of the slots: keys held in a
// slot (0 to 16 bytes) and in the arena (longer), with keys of every
// length that differ in a single byte at every position, NUL and 0xff
// bytes, and lengths that differ by one.
func TestSumTableKeys(t *testing.T) {
	var keys [][]byte
	for n := 0; n <= 60; n++ {
		base := []byte(strings.Repeat("abcdefghij", 6)[:n])
		keys = append(keys, base)
		for i := 0; i < n; i++ {
			for _, c := range []byte{0, 'A', 0xff} {
				k := bytes.Clone(base)
				k[i] = c
				keys = append(keys, k)
			}
		}
		keys = append(keys, make([]byte, n), bytes.Repeat([]byte{0xff}, n))
	}
	checkSumTable(t, keys)
}

func FuzzSumTable(f *testing.F) {
	f.Add([]byte("a\x00b\nab\n\x00ab\nabcdefgh\nabcdefgi\n/static/css/site.css\n/static/css/site.cs5\n"))
	f.Add([]byte("\n\n12345678901234567\n12345678901234568\n1234\n12345\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSumTable(t, bytes.Split(in, []byte("\n")))
	})
}

// TestSumTableSpread checks that the hash of keys of up to 32 bytes (the
// ones not hashed by maphash) spreads keys that differ in few bits over
// the table: patterned keys that vary in any of the words hashed must not
// pile up in long probe runs, as a weak mix of the words would make them
// (the table would stay correct, only slow).
func TestSumTableSpread(t *testing.T) {
	for _, format := range []string{"%d", "k%07d", "/static/%d.html", "%08x", "\x00\x00%04d\x00",
		"%020d", "/static/css/%08d.css", "/static/css/%020d.css", "%d/talks/slides/2026/x",
		"/static/css/%08d/style.css", "0000000000000000%08d00000000"} {
		tab := newSumTable()
		for i := 0; i < 100000; i++ {
			if _, err := tab.add([]byte(fmt.Sprintf(format, i)), []byte("1")); err != nil {
				t.Fatal(err)
			}
		}
		mask := uint32(len(tab.slots) - 1)
		longest, total := uint32(0), 0
		for _, j := range tab.order {
			d := (j - tab.slots[j].hash) & mask
			longest = max(longest, d)
			total += int(d)
		}
		// Uniform hashing at this load gives a mean near 0.5 and runs of
		// a few dozen at most.
		if mean := float64(total) / float64(len(tab.order)); mean > 2 || longest > 200 {
			t.Errorf("keys %q: mean probe distance %.2f, longest %d", format, mean, longest)
		}
	}
}

// TestEqualLong checks the comparison of keys longer than 8 bytes
// against their copy in the arena: equal keys of every length, and keys
// that differ in one byte at every position after the first 8 (which the
// slot compares).
func TestEqualLong(t *testing.T) {
	for n := 9; n <= 70; n++ {
		a := []byte(strings.Repeat("0123456789", 7)[:n])
		if !equalLong(bytes.Clone(a), a) {
			t.Fatalf("%q not equal to itself", a)
		}
		for i := 8; i < n; i++ {
			b := bytes.Clone(a)
			b[i] ^= 0x80
			if equalLong(a, b) || equalLong(b, a) {
				t.Fatalf("%q equal to %q", a, b)
			}
		}
	}
}

// TestSumTableMapping grows a table past mapSlotsFrom, so that its slots
// are a mapping of their own, then again: the first mapping is unmapped,
// and the second is once the table is dropped and collected. The sums
// survive the moves.
func TestSumTableMapping(t *testing.T) {
	mapped := func(b []byte) bool {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip(err)
		}
		start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
		for _, l := range strings.Split(string(maps), "\n") {
			if strings.HasPrefix(l, start) {
				return true
			}
		}
		return false
	}
	tab := newSumTable()
	var first []byte
	key := func(i int) []byte { return fmt.Appendf(nil, "key %d of the mapping test", i) }
	n := 0
	for ; first == nil || tab.mem.b == nil || &tab.mem.b[0] == &first[0]; n++ {
		if _, err := tab.add(key(n), []byte("1")); err != nil {
			t.Fatal(err)
		}
		if first == nil && tab.mem.b != nil {
			first = tab.mem.b
			if !mapped(first) {
				t.Fatalf("the slots of a table of %d slots are not a mapping of their own", len(tab.slots))
			}
		}
	}
	if mapped(first) {
		t.Errorf("the mapping of %d slots outlived the table's growth", len(first)/32)
	}
	for i := range n {
		if _, err := tab.add(key(i), []byte("2")); err != nil {
			t.Fatal(err)
		}
	}
	threes := 0
	count := func(b []byte) ([]byte, error) {
		threes += bytes.Count(b, []byte("\t3\n"))
		return b[:0], nil
	}
	out, err := tab.appendAll(nil, []byte("\t"), '\n', count)
	if err != nil {
		t.Fatal(err)
	}
	count(out)
	if got := threes; got != n {
		t.Fatalf("%d of %d keys sum to 3", got, n)
	}
	second := tab.mem.b
	tab = nil
	for i := 0; i < 50 && mapped(second); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if mapped(second) {
		t.Errorf("the mapping of a dropped table is still there")
	}
}

// TestSumTablesKept checks that released tables outlive garbage
// collections (a sync.Pool's would not), emptied, up to maxFreeTables.
func TestSumTablesKept(t *testing.T) {
	var got []*sumTable
	for range maxFreeTables + 2 {
		tab := getSumTable()
		if _, err := tab.add([]byte("key"), []byte("1")); err != nil {
			t.Fatal(err)
		}
		got = append(got, tab)
	}
	for _, tab := range got {
		putSumTable(tab)
	}
	runtime.GC()
	runtime.GC()
	kept := map[*sumTable]bool{}
	for _, tab := range got {
		kept[tab] = true
	}
	for i := range maxFreeTables {
		tab := getSumTable()
		if !kept[tab] {
			t.Fatalf("table %d is a new one after two collections", i)
		}
		if tab.used != 0 || len(tab.order) != 0 {
			t.Fatalf("table %d kept %d keys", i, tab.used)
		}
		delete(kept, tab)
		defer putSumTable(tab)
	}
	if tab := getSumTable(); kept[tab] {
		t.Fatalf("more than %d tables kept", maxFreeTables)
	}
	// A table grown past keepTableBytes is not kept.
	big := newSumTable()
	for i := 0; len(big.slots)*int(unsafe.Sizeof(sumSlot{})) <= keepTableBytes; i++ {
		if _, err := big.add(fmt.Appendf(nil, "k%d", i), []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	putSumTable(big)
	for range maxFreeTables + 1 {
		if tab := getSumTable(); tab == big {
			t.Fatal("a table bigger than keepTableBytes was kept")
		}
	}
}
