package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestMain lets the test binary stand in for mrrun: run as "worker" it
// is a worker; as "argv-echo ARG..." it prints the ARGs, each ended by a
// NUL.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(WorkerMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "argv-echo" {
		var b bytes.Buffer
		for _, a := range os.Args[2:] {
			b.WriteString(a)
			b.WriteByte(0)
		}
		os.Stdout.Write(b.Bytes())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var quoteCases = [][]string{
	{},
	{""},
	{"", ""},
	{"plain", "-n", "--flag=value", "a/b.c:d,e+f@g%h"},
	{"it's", `"double"`, `back\slash`, "trailing\\"},
	{"$HOME", "${x:-y}", "$(echo pwned)", "`echo pwned`", "$'\\n'"},
	{"new\nline", "\r\n", "tab\there", "  spaces  "},
	{"*", "?", "[a-z]", "~", "~root", "#comment", "a=b", "!", "!!", "^x"},
	{";", "&&", "||", "|", "&", ">", "<", "(", ")", "{", "}", "<<EOF"},
	{"if", "then", "fi", "for", "in", "do", "done", "time", "!"},
	{"\xff\xfe", "\x80", "é", "\x01\x02\x7f", "'", "''", "'\\''"},
	{"-", "--", "-e", "-n", "-c"},
}

// argv runs line with sh -c, with the test binary's path in front, and
// returns the arguments the binary got.
func argv(t testing.TB, shell, line string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, shell, "-c", MustQuote(exe, "argv-echo")+" "+line)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v\n%s", shell, line, err, stderr.Bytes())
	}
	return splitNUL(out)
}

func splitNUL(b []byte) []string {
	args := []string{}
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		args = append(args, string(b[:i]))
		b = b[i+1:]
	}
	return args
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func shells(t *testing.T) []string {
	var sh []string
	for _, s := range []string{"sh", "dash", "bash", "ksh", "mksh", "zsh"} {
		if p, err := exec.LookPath(s); err == nil {
			sh = append(sh, p)
		}
	}
	if len(sh) == 0 {
		t.Skip("no shell found")
	}
	return sh
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, shell := range shells(t) {
		for _, args := range quoteCases {
			line, err := Quote(args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := argv(t, shell, line); !equal(got, args) {
				t.Errorf("%s: Quote(%q) = %s\nran with %q", shell, args, line, got)
			}
		}
	}
}

func TestQuoteFirstWord(t *testing.T) {
	// Quoted, these are commands, not assignments or keywords.
	for _, w := range []string{"a=b", "if", "!", "{", "while"} {
		line := MustQuote(w)
		if bare(w) || !strings.HasPrefix(line, "'") {
			t.Errorf("Quote(%q) = %s, want it quoted", w, line)
		}
		out, _ := exec.Command("sh", "-c", line+" 2>&1; echo status=$?").Output()
		if !strings.Contains(string(out), "status=127") {
			t.Errorf("sh -c %s: %q, want command not found", line, out)
		}
	}
}

func TestQuoteBare(t *testing.T) {
	for s, want := range map[string]string{
		"abc":          "abc",
		"-n":           "-n",
		"/usr/bin/x":   "/usr/bin/x",
		"":             "''",
		"a b":          "'a b'",
		"it's":         `'it'\''s'`,
		"a=b":          "'a=b'",
		"~":            "'~'",
		"$x":           "'$x'",
		"in":           "'in'",
		"h1:/p/a,b+c%": "h1:/p/a,b+c%",
	} {
		if got := MustQuote(s); got != want {
			t.Errorf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
	if got := MustQuote("a", "", "b c"); got != "a '' 'b c'" {
		t.Errorf("Quote(a, '', b c) = %s", got)
	}
}

func TestQuoteNUL(t *testing.T) {
	_, err := Quote("ok", "a\x00b")
	if !errors.Is(err, ErrNUL) {
		t.Fatalf("Quote with a NUL: %v, want ErrNUL", err)
	}
}

// FuzzQuote: random bytes, cut into arguments at NULs, come back
// unchanged through sh -c.
func FuzzQuote(f *testing.F) {
	for _, args := range quoteCases {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Add("\x00")
	f.Add("a\x00\x00b")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		line, err := Quote(args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := argv(t, "sh", line); !equal(got, args) {
			t.Fatalf("Quote(%q) = %s\nran with %q", args, line, got)
		}
		if _, err := Quote(s + "\x00"); !errors.Is(err, ErrNUL) {
			t.Fatalf("Quote(%q + NUL) did not fail", s)
		}
	})
}

// TestQuoteSSH sends quoted arguments through ssh to a lab host, whose
// login shell reads them.
func TestQuoteSSH(t *testing.T) {
	lab := sshlabtest.Start(t, 1)
	var args []string
	for _, c := range quoteCases {
		args = append(args, c...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	line := MustQuote(append([]string{"printf", `%s\0`}, args...)...)
	var stderr bytes.Buffer
	c := lab.Command(ctx, "h1", line)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("ssh h1 %s: %v\n%s", line, err, stderr.Bytes())
	}
	if got := splitNUL(out); !equal(got, args) {
		t.Errorf("through ssh: sent %q\ngot %q", args, got)
	}
}
