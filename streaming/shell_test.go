package streaming

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// shArgs returns the argument vector sh -c makes of the words of cmd.
func shArgs(t testing.TB, cmd string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", `printf '%s\0' `+cmd).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", cmd, err)
	}
	args := strings.Split(string(out), "\x00")
	return args[:len(args)-1]
}

func TestPlainArgs(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // nil: not plain
	}{
		{"cat", []string{"cat"}},
		{"  tr  a-z   A-Z ", []string{"tr", "a-z", "A-Z"}},
		{"./map.sh -x 1 key=v", []string{"./map.sh", "-x", "1", "key=v"}},
		{"awk '{print $1 \"\\t1\"}'", []string{"awk", `{print $1 "\t1"}`}},
		{`grep "a b" 'c  d'`, []string{"grep", "a b", "c  d"}},
		{"sort -t, -k2,2n -S 50% user@host:x +1", []string{"sort", "-t,", "-k2,2n", "-S", "50%", "user@host:x", "+1"}},
		{"", nil},
		{"   ", nil},
		{"cut -f1 | sort", nil},
		{"grep 'a'b", nil},
		{"grep a'b'", nil},
		{`echo "$HOME"`, nil},
		{`echo "a\b"`, nil},
		{"echo ''", nil},
		{"echo 'unterminated", nil},
		{"X=1 env", nil},
		{"echo *.txt", nil},
		{"echo a\tb", nil},
		{"cat ~/x", nil},
		{"cat #x", nil},
		{"ls [ab]", nil},
		{"a;b", nil},
		{"a&", nil},
		{"a>b", nil},
		{"if true", nil},
		{"for x in a; do echo $x; done", nil},
		{"echo $(date) `date`", nil},
		{"echo a\\ b", nil},
		{"echo {a,b}", nil},
		{"! true", nil},
		{"a\nb", nil},
	}
	for _, tc := range tests {
		got, ok := PlainArgs(tc.cmd)
		if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PlainArgs(%q) = %q, %v; want %q", tc.cmd, got, ok, tc.want)
			continue
		}
		if ok {
			if sh := shArgs(t, tc.cmd); !reflect.DeepEqual(got, sh) {
				t.Errorf("PlainArgs(%q) = %q, sh makes %q", tc.cmd, got, sh)
			}
		}
	}
}

// FuzzPlainArgs checks that a command PlainArgs calls plain has the words
// sh makes of it.
func FuzzPlainArgs(f *testing.F) {
	for _, s := range []string{"cat", `awk '{print $1}' "x y" z`, "a=b c", "tr 'a' \"b\"", "x '' y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		args, ok := PlainArgs(cmd)
		if !ok {
			return
		}
		if strings.ContainsRune(cmd, 0) {
			t.Fatalf("PlainArgs(%q) plain with a NUL", cmd)
		}
		if sh := shArgs(t, cmd); !reflect.DeepEqual(args, sh) {
			t.Fatalf("PlainArgs(%q) = %q, sh makes %q", cmd, args, sh)
		}
	})
}

// ppid runs cmd, which prints /proc/self/stat, and returns the parent pid
// it printed.
func ppid(t *testing.T, cmd string) int {
	t.Helper()
	r := runCmd(t, &Command{Cmd: cmd}, "")
	if r.err != nil {
		t.Fatalf("%s: %v", cmd, r.err)
	}
	// pid (comm) state ppid ...
	f := strings.Fields(r.out[strings.LastIndexByte(r.out, ')')+1:])
	p, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("%s: %q", cmd, r.out)
	}
	return p
}

// TestShellCommand checks that a plain command is run without sh, and
// exactly as sh would run it otherwise.
func TestShellCommand(t *testing.T) {
	if got := ppid(t, "cat /proc/self/stat"); got != os.Getpid() {
		t.Errorf("a plain command's parent is %d, want this process (%d): it ran in sh", got, os.Getpid())
	}
	if got := ppid(t, "cat /proc/self/stat; :"); got == os.Getpid() {
		t.Errorf("a command with ; ran without sh")
	}

	// The environment sh gives its commands: PWD names the working
	// directory, variables with names sh cannot hold are gone, the last
	// setting of a variable counts.
	wd, _ := os.Getwd()
	envs := [][]string{
		{"PATH=/usr/bin:/bin", "A.B=1", "x-y=2", "OK_1=3", "9X=4", "=5", "PWD=/nonexistent", "OK_1=6"},
		{"PATH=/usr/bin:/bin", "IFS=x", "OPTIND=5", "PPID=1", "PS1=a", "HOME=/x"},
		{"PATH=/usr/bin:/bin", "PWD=" + wd},
		{"PATH=/usr/bin:/bin", "PWD=" + wd + "/."},
		{"PATH=/usr/bin:/bin", "PWD=."},
		{"PATH=/usr/bin:/bin"},
	}
	for _, env := range envs {
		direct := runCmd(t, &Command{Cmd: "env", Env: env}, "")
		viaSh := runCmd(t, &Command{Cmd: "env; :", Env: env}, "")
		if direct.err != nil || viaSh.err != nil {
			t.Fatalf("env: %v, %v", direct.err, viaSh.err)
		}
		d, s := strings.Split(direct.out, "\n"), strings.Split(viaSh.out, "\n")
		slices.Sort(d)
		slices.Sort(s)
		if !reflect.DeepEqual(d, s) {
			t.Errorf("environment %q: the program gets\n%q\nand from sh\n%q", env, d, s)
		}
	}

	// PATH decides, as in sh; a program not found, or not executable,
	// is for sh to report.
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho prog in bin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\necho no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A script without #! is one sh runs itself.
	if err := os.WriteFile(filepath.Join(dir, "bare"), []byte("echo bare $1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := []string{"PATH=" + dir + ":/usr/bin:/bin"}
	for _, tc := range []struct {
		cmd, out string
		status   int
	}{
		{"prog", "prog in bin\n", 0},
		{prog, "prog in bin\n", 0},
		{"bare x", "bare x\n", 0},
		{filepath.Join(dir, "bare") + " y", "bare y\n", 0},
		{"noexec", "", 127},
		{filepath.Join(dir, "noexec"), "", 126},
		{"no-such-program", "", 127},
		// echo is sh's own, which reads \t as a TAB in dash.
		{`echo 'a\tb'`, "a\tb\n", 0},
	} {
		r := runCmd(t, &Command{Cmd: tc.cmd, Env: path}, "")
		status := 0
		var ce *CommandError
		if r.err != nil && !errors.As(r.err, &ce) {
			t.Errorf("%s: %v", tc.cmd, r.err)
			continue
		} else if ce != nil {
			status = ce.ExitStatus
		}
		if tc.cmd == `echo 'a\tb'` && !strings.Contains(r.out, "\t") {
			t.Skip("/bin/sh's echo does not read backslashes (not dash)")
		}
		if r.out != tc.out || status != tc.status {
			t.Errorf("%s: out %q status %d (%v), want %q status %d", tc.cmd, r.out, status, r.err, tc.out, tc.status)
		}
	}
}

// TestShellCommandSignal checks that a program run without sh that dies
// of a signal is reported as such, and ignored as sh's status 128+n would
// be when exit statuses are.
func TestShellCommandSignal(t *testing.T) {
	cmd := "sh -c 'kill -SEGV $$'" // plain: the program is sh, which kills itself
	if _, ok := PlainArgs(cmd); !ok {
		t.Fatal("not plain")
	}
	r := runCmd(t, &Command{Cmd: cmd}, "")
	var ce *CommandError
	if !errors.As(r.err, &ce) || ce.Signal != syscall.SIGSEGV {
		t.Errorf("got %v, want a death by SIGSEGV", r.err)
	}
	r = runCmd(t, &Command{Cmd: cmd, IgnoreExitStatus: true}, "")
	if r.err != nil {
		t.Errorf("with exit statuses ignored: %v", r.err)
	}
	// sh itself killed (not a program it runs) fails either way.
	r = runCmd(t, &Command{Cmd: "kill -SEGV $$", IgnoreExitStatus: true}, "")
	if !errors.As(r.err, &ce) || ce.Signal != syscall.SIGSEGV {
		t.Errorf("sh killed, exit statuses ignored: got %v, want a death by SIGSEGV", r.err)
	}
}
