// Package sshlabtest brings up the project's SSH test lab
// (scripts/sshlab.sh) for a test: N hosts h1…hN, each a network namespace
// of this machine with its own sshd and its own scratch directory, /tmp
// and ~/.cache, reachable with the lab's ssh_config.
//
// The lab needs root, iproute2, util-linux and OpenSSH's client and
// server; [Start] skips the test with the reason when any is missing (or
// fails it, when [Required]).
package sshlabtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Base is where labs keep their files.
const Base = "/var/tmp/mrpipe-sshlab"

// Lab is a running lab.
type Lab struct {
	Name string
	// Dir holds the lab's key, ssh_config, known_hosts and one directory
	// per host (Dir/h1 …) whose scratch, cache and tmp subdirectories
	// are the host's Scratch, ~/.cache and /tmp.
	Dir string
	// Config is the ssh_config to pass with -F.
	Config string
	// Hosts are the hosts' names in Config: h1 … hN.
	Hosts []string
	// Scratch is the path of each host's private scratch directory, as
	// the host sees it.
	Scratch string
	// DriverAddr is this machine's address on the lab's subnet.
	DriverAddr string

	script string
}

// SSH returns the ssh command line that reaches the lab's hosts.
func (l *Lab) SSH() []string { return []string{"ssh", "-F", l.Config} }

// HostDir returns this machine's path of host's directory.
func (l *Lab) HostDir(host string) string { return filepath.Join(l.Dir, host) }

// Command returns a command running cmdline (one remote command line,
// given to the remote user's shell) on host.
func (l *Lab) Command(ctx context.Context, host, cmdline string) *exec.Cmd {
	args := append(l.SSH()[1:], host, "--", cmdline)
	return exec.CommandContext(ctx, "ssh", args...)
}

// Run runs cmdline on host and returns its standard output; it fails the
// test if the command fails.
func (l *Lab) Run(t testing.TB, host, cmdline string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	c := l.Command(ctx, host, cmdline)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("ssh %s %q: %v\n%s", host, cmdline, err, stderr.Bytes())
	}
	return string(out)
}

// Leftovers lists what a job left on host: the entries of the host's
// /tmp (where workers keep their scratch directories), the commands
// still running among those that wrote their pid to a file
// Scratch/pid.* (an empty file is a command killed before it wrote), and
// every process besides sshd's (see Processes). Nothing, for a job that
// cleaned up after itself.
func (l *Lab) Leftovers(t testing.TB, host string) []string {
	t.Helper()
	out := l.Run(t, host, `ls -A /tmp; for f in `+l.Scratch+`/pid.*; do [ -e "$f" ] || continue; p=$(cat "$f"); [ -n "$p" ] || continue; s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); if [ -n "$s" ] && [ "$s" != Z ]; then echo "command $p left: $s"; fi; done`)
	var left []string
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line != "" {
			left = append(left, line)
		}
	}
	ps, err := l.Processes(host)
	if err != nil {
		return append(left, err.Error())
	}
	return append(left, ps...)
}

// Processes returns the pids and command lines of the processes running
// on host (in its network namespace), sshd's own left out.
func (l *Lab) Processes(host string) ([]string, error) {
	out, err := exec.Command("ip", "netns", "pids", l.Name+"-"+host).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s-%s: %v", l.Name, host, err)
	}
	var procs []string
	for _, pid := range strings.Fields(string(out)) {
		b, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		cmd := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		// The listener, and the per-connection sshd processes of
		// sessions that are ending ("sshd-session:" and "sshd-auth:"
		// from OpenSSH 9.8 on).
		if strings.HasPrefix(cmd, "sshd:") || strings.HasPrefix(cmd, "sshd-session:") || strings.HasPrefix(cmd, "sshd-auth:") ||
			strings.Contains(cmd, "sshd") && strings.Contains(cmd, l.Dir+"/") {
			continue
		}
		procs = append(procs, pid+" "+cmd)
	}
	return procs, nil
}

// Missing reports why the lab cannot run here, or "" if it can.
func Missing() string {
	if os.Geteuid() != 0 {
		return "the SSH lab needs root (network and mount namespaces)"
	}
	for _, t := range []string{"ip", "ssh", "ssh-keygen", "unshare", "setsid", "flock", "mount"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Sprintf("the SSH lab needs %s (apt-get install -y openssh-server openssh-client iproute2)", t)
		}
	}
	if _, err := exec.LookPath("sshd"); err != nil {
		if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
			return "the SSH lab needs sshd (apt-get install -y openssh-server)"
		}
	}
	if err := exec.Command("unshare", "-n", "-m", "true").Run(); err != nil {
		return fmt.Sprintf("cannot create network and mount namespaces here (unshare -n -m: %v)", err)
	}
	return ""
}

// RequireEnv names the environment variable that, set to anything but
// "" or "0", makes a lab that cannot run here fail the tests that need it
// rather than skip them: CI sets it where it has checked that the lab
// runs, so that no lab test skips unnoticed.
const RequireEnv = "MRPIPE_REQUIRE_SSHLAB"

// Required reports whether RequireEnv is set.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// SkipIfMissing skips t with the reason when the lab cannot run here, or
// fails it when the lab is Required.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	why := Missing()
	switch {
	case why == "":
	case Required():
		t.Fatalf("the SSH lab is required (%s is set), but %s", RequireEnv, why)
	default:
		t.Skip("skipped: " + why)
	}
}

var reapOnce sync.Once

// Start brings up a lab of n hosts for the test and removes it when the
// test ends. It skips the test when the lab cannot run here and fails it
// when the lab does not come up.
func Start(t testing.TB, n int) *Lab {
	t.Helper()
	SkipIfMissing(t)
	script, err := findScript()
	if err != nil {
		t.Fatal(err)
	}
	Exclusive(t)
	reapOnce.Do(func() { reapStale(script) })

	name := "mrt" + randName(7)
	dir := filepath.Join(Base, name)
	env := append(os.Environ(), "SSHLAB_NAME="+name, "SSHLAB_DIR="+dir)
	l := &Lab{Name: name, Dir: dir, script: script}
	t.Cleanup(func() {
		if err := l.down(); err != nil {
			t.Errorf("sshlab down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, script, "up", strconv.Itoa(n))
	c.Env = env
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("sshlab up %d: %v\n%s", n, err, stderr.Bytes())
	}
	// The owner lets a later test run remove the lab if this process dies
	// before its cleanup.
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := parseEnv(out)
	l.Config = vars["SSH_CONFIG"]
	l.Scratch = vars["SSHLAB_SCRATCH"]
	l.DriverAddr = vars["SSHLAB_DRIVER_ADDR"]
	if h := vars["SSHLAB_HOSTS"]; h != "" {
		l.Hosts = strings.Split(h, ",")
	}
	if l.Config == "" || len(l.Hosts) != n || l.Scratch == "" {
		t.Fatalf("sshlab up %d: unexpected output:\n%s", n, out)
	}
	return l
}

// Exclusive keeps the labs of other test processes (go test runs
// packages in parallel) from running while t runs: tests that kill a
// host's sshd or workers find them through /proc and must not meet
// another process's lab there. Tests of one process share the hold; it is
// released when the last of them ends.
func Exclusive(t testing.TB) {
	t.Helper()
	hold.mu.Lock()
	defer hold.mu.Unlock()
	if hold.n == 0 {
		if err := os.MkdirAll(Base, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(Base, ".tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatal(err)
		}
		hold.f = f
	}
	hold.n++
	t.Cleanup(func() {
		hold.mu.Lock()
		defer hold.mu.Unlock()
		if hold.n--; hold.n == 0 {
			hold.f.Close() // releases the lock
			hold.f = nil
		}
	})
}

var hold struct {
	mu sync.Mutex
	n  int
	f  *os.File
}

func (l *Lab) down() error {
	return runDown(l.script, l.Name, l.Dir)
}

func runDown(script, name, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, script, "down")
	c.Env = append(os.Environ(), "SSHLAB_NAME="+name, "SSHLAB_DIR="+dir)
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// reapStale removes the labs of test processes that died before their
// cleanup ran.
func reapStale(script string) {
	ents, err := os.ReadDir(Base)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "mrt") {
			continue
		}
		dir := filepath.Join(Base, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			// Being set up, or its owner died before writing this: give
			// it time.
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < 30*time.Minute {
				continue
			}
		} else if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && alive(pid) {
			continue
		}
		runDown(script, e.Name(), dir)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func parseEnv(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

func randName(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// findScript finds scripts/sshlab.sh in the module above the working
// directory.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "sshlab.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("sshlab: %v", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("sshlab: scripts/sshlab.sh not found above the working directory")
		}
		dir = parent
	}
}
