package app

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/split"
)

func randomInput(rng *rand.Rand) []byte {
	var b []byte
	switch rng.IntN(10) {
	case 0:
		return nil
	case 1:
		return []byte{"a\n\x00"[rng.IntN(3)]}
	}
	n := rng.IntN(60)
	for i := 0; i < n; i++ {
		l := rng.IntN(10)
		if rng.IntN(8) == 0 {
			l = rng.IntN(200)
		}
		for j := 0; j < l; j++ {
			b = append(b, "ab\r\x00 "[rng.IntN(5)])
		}
		if rng.IntN(5) == 0 {
			b = append(b, '\r')
		}
		b = append(b, "\n\n\n\x00"[rng.IntN(4)])
	}
	if rng.IntN(3) == 0 && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return b
}

// files returns the names and contents of the files in dir but in.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.Name() == "in" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func runOurs(dir string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	st := cliutil.Run(New(), optionalArgs(append([]string{"mrsplit"}, args...)), &out, &errb)
	return st, out.String(), errb.String()
}

func runGNU(t *testing.T, dir string, args ...string) (int, string) {
	cmd := exec.Command("split", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestDifferentialGNU compares mrsplit's files with GNU split's for the
// options whose output GNU split 9.1 gets right: -l, -b, -C, -n r/N,
// r/K/N, -t, and the names (-d, -x, FROM, -a, --additional-suffix, -e).
func TestDifferentialGNU(t *testing.T) {
	if _, err := exec.LookPath("split"); err != nil {
		t.Skip("no GNU split")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	iters := 400
	if testing.Short() {
		iters = 60
	}
	for iter := 0; iter < iters; iter++ {
		data := randomInput(rng)
		var args []string
		switch rng.IntN(5) {
		case 0:
			args = append(args, "-l", fmt.Sprint(1+rng.IntN(8)))
		case 1:
			args = append(args, "-b", fmt.Sprint(1+rng.IntN(len(data)+5)))
		case 2:
			args = append(args, "-C", fmt.Sprint(1+rng.IntN(len(data)/3+5)))
		case 3:
			args = append(args, "-n", fmt.Sprintf("r/%d", 1+rng.IntN(12)))
		case 4:
			n := 1 + rng.IntN(6)
			args = append(args, "-n", fmt.Sprintf("r/%d/%d", 1+rng.IntN(n), n))
		}
		if rng.IntN(3) == 0 {
			args = append(args, "-t", `\0`)
		}
		switch rng.IntN(6) {
		case 0:
			args = append(args, "-d")
		case 1:
			args = append(args, "-x")
		case 2:
			args = append(args, fmt.Sprintf("--numeric-suffixes=%d", rng.IntN(20)))
		case 3:
			args = append(args, "--hex-suffixes")
		}
		if rng.IntN(4) == 0 {
			args = append(args, "-a", fmt.Sprint(2+rng.IntN(3)))
		}
		if rng.IntN(4) == 0 {
			args = append(args, "--additional-suffix=.txt")
		}
		if rng.IntN(4) == 0 {
			args = append(args, "-e")
		}
		if rng.IntN(3) == 0 {
			args = append(args, "--verbose")
		}
		args = append(args, "in")
		if rng.IntN(2) == 0 {
			args = append(args, "p-")
		}
		ours, gnu := t.TempDir(), t.TempDir()
		for _, d := range []string{ours, gnu} {
			if err := os.WriteFile(filepath.Join(d, "in"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		st, out, errs := runOurs(ours, args...)
		gst, gout := runGNU(t, gnu, args...)
		if (st == 0) != (gst == 0) || out != gout {
			t.Fatalf("split %s on %q: status %d, GNU %d; stdout %q, GNU %q; stderr %s", strings.Join(args, " "), data, st, gst, out, gout, errs)
		}
		a, b := files(t, ours), files(t, gnu)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("split %s on %q:\n ours %q\n  GNU %q", strings.Join(args, " "), data, a, b)
		}
	}
}

// TestWideningNames checks the names past the two-letter ones: after xyz
// come xzaaa, and after x89, x9000.
func TestWideningNames(t *testing.T) {
	if _, err := exec.LookPath("split"); err != nil {
		t.Skip("no GNU split")
	}
	var data []byte
	for i := 0; i < 700; i++ {
		data = fmt.Appendf(data, "%d\n", i)
	}
	for _, args := range [][]string{{"-l", "1", "in"}, {"-l", "1", "-d", "in"}, {"-l", "1", "-x", "in"}, {"-l", "1", "-a", "1", "in"}} {
		ours, gnu := t.TempDir(), t.TempDir()
		for _, d := range []string{ours, gnu} {
			os.WriteFile(filepath.Join(d, "in"), data, 0o644)
		}
		st, _, _ := runOurs(ours, args...)
		gst, _ := runGNU(t, gnu, args...)
		a, b := files(t, ours), files(t, gnu)
		if (st == 0) != (gst == 0) || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("split %v: status %d/%d, %d/%d files", args, st, gst, len(a), len(b))
		}
	}
}

// TestRuleChunks checks -n N and -n l/N against the rule (not against GNU
// split 9.1, which divides bytes differently): -n N gives chunk k the bytes
// [k*q+min(k,r), (k+1)*q+min(k+1,r)); -n l/N gives it the records that
// start there; -n K/N and l/K/N print chunk K; -e drops the empty ones.
func TestRuleChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for iter := 0; iter < 300; iter++ {
		data := randomInput(rng)
		n := 1 + rng.IntN(12)
		lines := rng.IntN(2) == 0
		zero := rng.IntN(3) == 0
		delim := byte('\n')
		spec := fmt.Sprint(n)
		if lines {
			spec = "l/" + spec
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in"), data, 0o644)
		args := []string{"-n", spec, "-d", "in"}
		if zero {
			args = append(args, "-z")
			delim = 0
		}
		if st, _, errs := runOurs(dir, args...); st != 0 {
			t.Fatalf("%v: %d %s", args, st, errs)
		}
		got := files(t, dir)
		var names []string
		for name := range got {
			names = append(names, name)
		}
		sort.Strings(names)
		if len(names) != n {
			t.Fatalf("%v: %d files", args, len(names))
		}
		var all []byte
		for k, name := range names {
			s, e := split.Chunk(k, n, int64(len(data)))
			want := data[s:e]
			if lines {
				want = owned(data, s, e, delim)
			}
			if got[name] != string(want) {
				t.Fatalf("%v on %q: chunk %d is %q, want %q", args, data, k, got[name], want)
			}
			all = append(all, got[name]...)
			// K/N prints the same chunk.
			kspec := fmt.Sprintf("%d/%d", k+1, n)
			if lines {
				kspec = "l/" + kspec
			}
			kargs := []string{"-n", kspec, "in"}
			if zero {
				kargs = append(kargs, "-t", `\0`)
			}
			if _, out, _ := runOurs(dir, kargs...); out != string(want) {
				t.Fatalf("%v: %q, want %q", kargs, out, want)
			}
		}
		if !bytes.Equal(all, data) {
			t.Fatalf("%v: pieces do not make the input", args)
		}
	}
}

// owned returns the records of data that start in [s, e).
func owned(data []byte, s, e int64, delim byte) []byte {
	var out []byte
	start := 0
	for i := 0; i <= len(data); i++ {
		if i == len(data) || data[i] == delim {
			if start < len(data) && int64(start) >= s && int64(start) < e {
				out = append(out, data[start:min(i+1, len(data))]...)
			}
			start = i + 1
		}
	}
	return out
}

func TestFilterRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for iter := 0; iter < 30; iter++ {
		data := randomInput(rng)
		n := 1 + rng.IntN(6)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in"), data, 0o644)
		spec := fmt.Sprintf("l/%d", n)
		st, _, errs := runOurs(dir, "-n", spec, "-j", fmt.Sprint(1+rng.IntN(3)), "--filter", `cat > "$FILE.out"; printf %s "$MRPIPE_SPLIT" > "$FILE.split"`, "in")
		if st != 0 {
			t.Fatal(errs)
		}
		got := files(t, dir)
		var all []byte
		for k := 0; k < n; k++ {
			name := "x" + string(rune('a'+k/26)) + string(rune('a'+k%26))
			s, e := split.Chunk(k, n, int64(len(data)))
			if want := fmt.Sprintf("in:%d+%d", s, e-s); got[name+".split"] != want {
				t.Fatalf("MRPIPE_SPLIT %q, want %q", got[name+".split"], want)
			}
			all = append(all, got[name+".out"]...)
		}
		if !bytes.Equal(all, data) {
			t.Fatalf("filtered pieces do not make the input: %q vs %q", all, data)
		}
	}
}
