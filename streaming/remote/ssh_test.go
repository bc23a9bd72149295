package remote

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

func TestParseSSH(t *testing.T) {
	for in, want := range map[string][]string{
		"ssh":                           {"ssh"},
		"ssh -F cfg -i key":             {"ssh", "-F", "cfg", "-i", "key"},
		"  ssh\t-F 'my cfg'  ":          {"ssh", "-F", "my cfg"},
		`ssh -o "ProxyJump a b" -v`:     {"ssh", "-o", "ProxyJump a b", "-v"},
		`/opt/ssh -i my\ key -o x=""`:   {"/opt/ssh", "-i", "my key", "-o", "x="},
		`ssh -F "a\"b\\c\$d" ''`:        {"ssh", "-F", `a"b\c$d`, ""},
		"ssh -o 'A=$HOME' -o \"B=`x`\"": {"ssh", "-o", "A=$HOME", "-o", "B=`x`"},
	} {
		s, err := ParseSSH(in)
		if err != nil {
			t.Errorf("ParseSSH(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(s.Command, want) {
			t.Errorf("ParseSSH(%q) = %q, want %q", in, s.Command, want)
		}
	}
	for _, in := range []string{"", "   ", "ssh 'x", `ssh "x`} {
		if s, err := ParseSSH(in); err == nil {
			t.Errorf("ParseSSH(%q) = %q, want an error", in, s.Command)
		}
	}
}

func TestSSHArgs(t *testing.T) {
	s, _ := ParseSSH("ssh -F cfg")
	got, err := s.Args(Login{User: "u", Host: "h2", Port: 2222, Slots: 4}, "mrrun", "worker", "a b")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ssh", "-F", "cfg", "-T", "-o", "BatchMode=yes", "-p", "2222", "-l", "u", "--", "h2", "mrrun worker 'a b'"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
	got, _ = SSH{}.Args(Login{Host: "h1"}, "true")
	if want := []string{"ssh", "-T", "-o", "BatchMode=yes", "--", "h1", "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
	if _, err := (SSH{}).Args(Login{Local: true}, "true"); err == nil {
		t.Error("Args for the local machine: no error")
	}
	if _, err := (SSH{}).Args(Login{Host: "h"}, "a\x00"); err == nil {
		t.Error("Args with a NUL: no error")
	}
}

func TestUnameMatches(t *testing.T) {
	for _, c := range []struct {
		goos, goarch, uname string
		want                bool
	}{
		{"linux", "amd64", "Linux x86_64", true},
		{"linux", "amd64", "Linux x86_64\n", true},
		{"linux", "arm64", "Linux aarch64", true},
		{"linux", "amd64", "Linux aarch64", false},
		{"linux", "arm", "Linux armv7l", true},
		{"darwin", "arm64", "Darwin arm64", true},
		{"linux", "amd64", "Darwin x86_64", false},
		{"freebsd", "amd64", "FreeBSD amd64", true},
		{"linux", "amd64", "", false},
		{"linux", "amd64", "Linux", false},
	} {
		if got := unameMatches(c.goos, c.goarch, c.uname); got != c.want {
			t.Errorf("unameMatches(%s, %s, %q) = %v", c.goos, c.goarch, c.uname, got)
		}
	}
}

// TestInstall ships the test binary (standing in for mrrun) to a lab
// host: copied the first time, found the second, runnable there, and
// another build goes beside it; the other host is untouched.
func TestInstall(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	s := SSH{Command: lab.SSH()}
	bin, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h1 := Login{Host: "h1"}
	path, copied, err := s.Install(ctx, h1, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !copied || !strings.HasSuffix(path, "/.cache/mrpipe/mrrun-"+bin.Sum) {
		t.Fatalf("Install = %q, copied %v", path, copied)
	}
	if p2, copied, err := s.Install(ctx, h1, bin); err != nil || copied || p2 != path {
		t.Fatalf("second Install = %q, copied %v, %v; want %q, not copied", p2, copied, err, path)
	}
	out, err := s.run(ctx, h1, nil, path, "argv-echo", "it's", "$x")
	if err != nil || string(out) != "it's\x00$x\x00" {
		t.Fatalf("running the installed binary: %q, %v", out, err)
	}
	if out := lab.Run(t, "h1", "ls -a ~/.cache/mrpipe; stat -c %a ~/.cache/mrpipe "+path); out != ".\n..\nmrrun-"+bin.Sum+"\n700\n700\n" {
		t.Errorf("h1's cache after Install:\n%s", out)
	}
	if out := lab.Run(t, "h2", "ls -a ~/.cache/mrpipe 2>&1 || true"); !strings.Contains(out, "No such file") {
		t.Errorf("h2's cache:\n%s", out)
	}

	// Another build: another name, copied beside the first.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("#!/bin/sh\necho other build\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ob, err := NewBinary(other)
	if err != nil {
		t.Fatal(err)
	}
	op, copied, err := s.Install(ctx, h1, ob)
	if err != nil || !copied || op == path {
		t.Fatalf("Install of another build = %q, copied %v, %v", op, copied, err)
	}
	if out, err := s.run(ctx, h1, nil, op); err != nil || string(out) != "other build\n" {
		t.Fatalf("running the other build: %q, %v", out, err)
	}

	// A copy that does not match its checksum is not installed.
	bad := Binary{Path: other, Sum: strings.Repeat("0", 64)}
	if p, _, err := s.Install(ctx, h1, bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Install with a wrong checksum = %q, %v; want a checksum error", p, err)
	}
	if out := lab.Run(t, "h1", "ls -a ~/.cache/mrpipe | grep -c mrrun"); out != "2\n" {
		t.Errorf("h1's cache holds %s binaries, want 2 (and no temporary file)", out)
	}
}

// TestStartSessions counts the ssh sessions Start opens, with an ssh
// wrapper that logs each run: on a fresh host it probes, copies the
// binary and starts the worker (3 sessions); once the host has the
// binary, one session probes it and runs the worker.
func TestStartSessions(t *testing.T) {
	lab := sshlabtest.Start(t, 1)
	dir := t.TempDir()
	log := filepath.Join(dir, "sessions")
	wrapper := filepath.Join(dir, "ssh")
	script := "#!/bin/sh\necho \"$#\" >>" + MustQuote(log) + "\nexec ssh \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := HostOptions{SSH: SSH{Command: append([]string{wrapper}, lab.SSH()[1:]...)}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i, want := range []struct {
		copied   bool
		sessions int
	}{{true, 3}, {false, 1}, {false, 1}} {
		h, err := Start(ctx, Login{Host: lab.Hosts[0]}, o)
		if err != nil {
			t.Fatalf("Start %d: %v", i+1, err)
		}
		// The worker's frames follow the probe's lines.
		err = h.sendWork(ctx, t.TempDir())
		h.Close(time.Minute)
		if err != nil {
			t.Fatalf("Start %d: sending work: %v", i+1, err)
		}
		if ps := h.cmd.ProcessState; ps == nil || !ps.Success() {
			t.Errorf("Start %d: the session ended with %v, want status 0", i+1, ps)
		}
		if h.Copied != want.copied {
			t.Errorf("Start %d: Copied = %v, want %v", i+1, h.Copied, want.copied)
		}
		b, _ := os.ReadFile(log)
		os.Remove(log)
		if n := strings.Count(string(b), "\n"); n != want.sessions {
			t.Errorf("Start %d: %d ssh sessions, want %d", i+1, n, want.sessions)
		}
	}
}

// TestStartLaunchErrors starts workers through a stand-in for ssh that
// runs the command line here: a host of another OS or architecture is
// refused, and when the cached binary fails at once, its stderr is
// reported.
func TestStartLaunchErrors(t *testing.T) {
	dir := t.TempDir()
	fakeSSH := filepath.Join(dir, "ssh")
	if err := os.WriteFile(fakeSSH, []byte("#!/bin/sh\neval \"c=\\${$#}\"\nexec sh -c \"$c\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	t.Setenv("XDG_CACHE_HOME", cache)
	bin := Binary{Path: fakeSSH, Sum: strings.Repeat("ab", 32)}
	o := HostOptions{SSH: SSH{Command: []string{fakeSSH}}, Binary: bin, Timeout: time.Minute}
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(cache, "mrpipe"), 0o700); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(cache, "mrpipe", "mrrun-"+bin.Sum)
	if err := os.WriteFile(cached, []byte("#!/bin/sh\necho \"cannot run $*\" >&2\nexit 3\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(ctx, Login{Host: "h"}, o)
	if err == nil || !strings.Contains(err.Error(), "h: the worker ended before it started (stderr: cannot run worker)") {
		t.Errorf("Start with a failing binary: %v", err)
	}

	bindir := filepath.Join(dir, "bin")
	if err := os.Mkdir(bindir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bindir, "uname"), []byte("#!/bin/sh\necho Plan9 mips\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bindir+":"+os.Getenv("PATH"))
	_, err = Start(ctx, Login{Host: "h"}, o)
	if err == nil || !strings.Contains(err.Error(), "h is Plan9 mips, this mrrun is built for") {
		t.Errorf("Start on another architecture: %v", err)
	}
	o.SSH.Command = []string{"false"}
	if _, err = Start(ctx, Login{Host: "h"}, o); err == nil || !strings.HasPrefix(err.Error(), "cannot probe host: h: ") {
		t.Errorf("Start on an unreachable host: %v", err)
	}
}
