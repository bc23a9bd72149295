package app

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
)

// genInput makes one random input in one of the shapes GNU sort must agree
// with us on: fields with blanks and separators, numbers with signs, blanks,
// decimals and garbage, raw bytes (NUL, invalid UTF-8, CR), long lines,
// duplicates, no final newline, empty.
func genInput(r *rand.Rand) []byte {
	var b bytes.Buffer
	shape := r.IntN(7)
	n := r.IntN(3000)
	if r.IntN(10) == 0 {
		n = r.IntN(5)
	}
	words := []string{"a", "B", "b", "ab", "Ab", "abc", "z", "", "10", "-3", "x y", "é", "\xff\xfe", "a\r"}
	seps := []string{" ", "\t", ",", ":", "  ", " \t"}
	for i := 0; i < n; i++ {
		switch shape {
		case 0: // fields
			nf := r.IntN(5)
			if r.IntN(4) == 0 {
				b.WriteString(strings.Repeat(" ", r.IntN(3)))
			}
			for f := 0; f < nf; f++ {
				if f > 0 {
					b.WriteString(seps[r.IntN(len(seps))])
				}
				b.WriteString(words[r.IntN(len(words))])
				if r.IntN(3) == 0 {
					fmt.Fprintf(&b, "%d", r.IntN(100))
				}
			}
		case 1: // numbers
			nums := []string{"0", "-0", "00", "1", "-1", "1.5", "-1.50", ".5", "-.5", "0.0", "1e3", "+3", "  7", "\t-2", "abc", "", "-", ".", "10", "9", "0010", "3.14159265358979323846", "-3.141592653589793238", "99999999999999999999", "1,000", "12abc", "-0.000", " - 1", "1\x80000", "\x805", "-\x800\x802", "3\x80.5", "1.\x805"}
			k := r.IntN(3) + 1
			for f := 0; f < k; f++ {
				if f > 0 {
					b.WriteString(seps[r.IntN(3)])
				}
				if r.IntN(3) == 0 {
					fmt.Fprintf(&b, "%d", r.IntN(2000)-1000)
				} else {
					b.WriteString(nums[r.IntN(len(nums))])
				}
			}
		case 2: // raw bytes
			m := r.IntN(20)
			for j := 0; j < m; j++ {
				c := byte(r.IntN(256))
				if c == '\n' {
					c = '\r'
				}
				b.WriteByte(c)
			}
		case 3: // duplicates
			fmt.Fprintf(&b, "dup%d\tv", r.IntN(4))
		case 4: // long common prefixes
			b.WriteString(strings.Repeat("prefix/", r.IntN(4)))
			fmt.Fprintf(&b, "%x", r.Uint32()%64)
		case 5: // case and blanks
			w := []string{"Apple", "apple", "APPLE", " apple", "\tapple", "banana", "Banana", "b", "B", "_", "[", "a\x00b", "a\x00a"}
			b.WriteString(w[r.IntN(len(w))])
			b.WriteString(seps[r.IntN(len(seps))])
			b.WriteString(w[r.IntN(len(w))])
		case 6: // big lines now and then
			if r.IntN(200) == 0 {
				b.WriteString(strings.Repeat(string(rune('a'+r.IntN(3))), 150000+r.IntN(300000)))
			} else {
				fmt.Fprintf(&b, "%d %s", r.IntN(50), words[r.IntN(len(words))])
			}
		}
		b.WriteByte('\n')
	}
	out := b.Bytes()
	if len(out) > 0 && r.IntN(4) == 0 {
		out = out[:len(out)-1] // no final newline
	}
	return out
}

// genArgs makes a random option set.
func genArgs(r *rand.Rand) []string {
	var args []string
	for _, f := range []string{"-b", "-f", "-n", "-r", "-s", "-u"} {
		if r.IntN(5) == 0 {
			args = append(args, f)
		}
	}
	if r.IntN(2) == 0 {
		args = append(args, "-t", []string{",", "\t", " ", ":", "a"}[r.IntN(5)])
	}
	for k := r.IntN(4); k > 0; k-- {
		spec := fmt.Sprint(1 + r.IntN(3))
		if r.IntN(3) == 0 {
			spec += fmt.Sprintf(".%d", 1+r.IntN(3))
		}
		spec += mods(r)
		if r.IntN(2) == 0 {
			spec += fmt.Sprintf(",%d", 1+r.IntN(4))
			if r.IntN(3) == 0 {
				spec += fmt.Sprintf(".%d", r.IntN(3))
			}
			spec += mods(r)
		}
		args = append(args, "-k", spec)
	}
	if r.IntN(8) == 0 {
		args = append(args, "-z")
	}
	if r.IntN(6) == 0 {
		args = append(args, "--batch-size=2")
	}
	return args
}

func mods(r *rand.Rand) string {
	s := ""
	for _, m := range "bfnr" {
		if r.IntN(6) == 0 {
			s += string(m)
		}
	}
	return s
}

func runOurs(t *testing.T, args []string) ([]byte, int, string) {
	var out, errb bytes.Buffer
	st := cliutil.Run(New(), append([]string{"mrsort"}, args...), &out, &errb)
	return out.Bytes(), st, errb.String()
}

func runGNU(t *testing.T, args []string) ([]byte, int) {
	cmd := exec.Command("sort", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return out, ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out, 0
}

// TestDifferentialGNU sorts random inputs with random options with mrsort
// and GNU sort (LC_ALL=C) and wants the same bytes and exit status. The
// memory budget is the smallest, so most inputs are sorted externally.
func TestDifferentialGNU(t *testing.T) {
	if _, err := exec.LookPath("sort"); err != nil {
		t.Skip("GNU sort not found")
	}
	n := 400
	if testing.Short() {
		n = 60
	}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		seed := uint64(i)
		r := rand.New(rand.NewPCG(seed, 7))
		in := genInput(r)
		file := filepath.Join(dir, "in")
		if err := os.WriteFile(file, in, 0o644); err != nil {
			t.Fatal(err)
		}
		args := append(genArgs(r), "-S", "1K", "-T", dir)
		if r.IntN(10) == 0 {
			args = append(args, "-c")
		}
		args = append(args, file)
		want, wst := runGNU(t, args)
		got, gst, stderr := runOurs(t, args)
		if gst != wst || !bytes.Equal(got, want) {
			os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("mrsort-diff-%d.in", seed)), in, 0o644)
			t.Fatalf("seed %d: mrsort %q: status %d (GNU %d), stderr %q\n%s", seed, args, gst, wst, stderr, firstDiff(got, want))
		}
	}
}

func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte{'\n'}), bytes.Split(want, []byte{'\n'})
	for i := 0; i < len(g) && i < len(w); i++ {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, trunc(g[i]), trunc(w[i]))
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
