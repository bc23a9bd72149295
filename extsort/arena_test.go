package extsort

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// anonHugeKB returns the AnonHugePages of the mapping holding addr, from
// /proc/self/smaps.
func anonHugeKB(t *testing.T, addr uintptr) int {
	t.Helper()
	return smapsKB(t, "AnonHugePages", addr, addr+1)
}

// TestArenaPages: a small sort touches 4 KiB pages only, not a 2 MiB huge
// page zeroed whole for a few lines; past its first megabytes a big sort's
// arena is in huge pages, when the kernel has them.
func TestArenaPages(t *testing.T) {
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(thp), "[never]") {
		t.Skip("no transparent huge pages here")
	}
	a, err := newArena(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.release()
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(a.tmem)))
	a.tmem[0] = 1
	a.tmem[smallPages-1] = 1
	if kb := anonHugeKB(t, addr); kb != 0 {
		t.Errorf("%d kB of huge pages after touching the first %d bytes", kb, smallPages)
	}
	big := hugeStart(addr)
	if big < smallPages || big > smallPages+hugePage || (addr+uintptr(big))%hugePage != 0 {
		t.Fatalf("huge pages start at %d, at %#x", big, addr+uintptr(big))
	}
	for i := big; i < big+4*hugePage; i += 4096 {
		a.tmem[i] = 1
	}
	if kb := anonHugeKB(t, addr+uintptr(big)); kb == 0 {
		t.Errorf("no huge pages after touching 8 MiB past %d", big)
	}
}

// smapsKB sums a field of /proc/self/smaps (in kB) over the mappings
// that overlap [lo, hi).
func smapsKB(t *testing.T, field string, lo, hi uintptr) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	in, sum := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var mlo, mhi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &mlo, &mhi); n == 2 && strings.Contains(line, " ") {
			in = mlo < hi && lo < mhi
			continue
		}
		var kb int
		if in && strings.HasPrefix(line, field+":") {
			fmt.Sscanf(strings.TrimPrefix(line, field+":"), "%d", &kb)
			sum += kb
		}
	}
	return sum
}

// TestArenaRecycle: an arena put back in the pool for the next sort keeps
// the pages of its first keepPooled bytes only.
func TestArenaRecycle(t *testing.T) {
	const size, touched = 64 << 20, 40 << 20
	a, err := newArena(size)
	if err != nil {
		t.Fatal(err)
	}
	var spans [][2]uintptr
	for _, m := range [][]byte{a.tmem, a.rmem} {
		for i := 0; i < touched; i += 4096 {
			m[i] = 1
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
		spans = append(spans, [2]uintptr{lo, lo + size})
	}
	for _, s := range spans {
		if kb := smapsKB(t, "Rss", s[0], s[1]); kb < touched>>10 {
			t.Fatalf("%d kB resident after touching %d kB", kb, touched>>10)
		}
	}
	a.recycle()
	for _, s := range spans {
		if kb := smapsKB(t, "Rss", s[0], s[1]); kb > (keepPooled+hugePage)>>10 {
			t.Errorf("%d kB resident in a pooled arena's mapping, more than %d kB", kb, (keepPooled+hugePage)>>10)
		}
	}
	b, err := getArena(size)
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	if len(b.text) != 0 || len(b.recs) != 0 || b.free() != size {
		t.Fatalf("arena from the pool not empty: %d text, %d records", len(b.text), len(b.recs))
	}
}

// TestArenaPoolBound: the pool keeps about maxPooledArenas; the arenas
// recycled past that are unmapped.
func TestArenaPoolBound(t *testing.T) {
	var as []*arena
	for range maxPooledArenas + 3 {
		a, err := newArena(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	released := 0
	for _, a := range as {
		a.recycle()
		if a.tmem == nil {
			released++
		}
	}
	if n := pooledArenas.Load(); n > maxPooledArenas {
		t.Errorf("%d arenas pooled, more than %d", n, maxPooledArenas)
	}
	if released < 3 {
		t.Errorf("%d of %d arenas released, want at least 3", released, len(as))
	}
}
