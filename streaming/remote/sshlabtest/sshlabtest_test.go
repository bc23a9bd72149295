package sshlabtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestIsolation: what a host writes in its scratch directory, /tmp or
// ~/.cache is seen by that host only, and by this machine only under the
// lab's directory for that host.
func TestIsolation(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	if got := lab.Run(t, "h1", "echo ok"); got != "ok\n" {
		t.Fatalf("h1: echo ok = %q", got)
	}
	for _, dir := range []string{lab.Scratch, "/tmp", "~/.cache"} {
		name := "isolation-" + lab.Name
		path := dir + "/" + name
		lab.Run(t, "h1", "echo h1 >"+path)
		if got := lab.Run(t, "h1", "cat "+path); got != "h1\n" {
			t.Errorf("h1: cat %s = %q", path, got)
		}
		if got := lab.Run(t, "h2", "test -e "+path+" && echo visible || echo absent"); got != "absent\n" {
			t.Errorf("h2 sees h1's %s", path)
		}
		local := path
		if strings.HasPrefix(local, "~/") {
			home, _ := os.UserHomeDir()
			local = filepath.Join(home, local[2:])
		}
		if _, err := os.Stat(local); !os.IsNotExist(err) {
			t.Errorf("this machine sees h1's %s (stat: %v)", path, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(lab.HostDir("h1"), "scratch", "isolation-"+lab.Name))
	if err != nil || string(b) != "h1\n" {
		t.Errorf("h1's scratch under the lab dir: %q, %v", b, err)
	}
	// Processes sees what runs on a host, and only there.
	pid := strings.TrimSpace(lab.Run(t, "h1", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!"))
	// (Until the shell's child has exec'd sleep, it shows the shell's
	// command line.)
	ps, err := lab.Processes("h1")
	for i := 0; i < 50 && err == nil && (len(ps) != 1 || ps[0] != pid+" sleep 300"); i++ {
		time.Sleep(100 * time.Millisecond)
		ps, err = lab.Processes("h1")
	}
	if err != nil || len(ps) != 1 || ps[0] != pid+" sleep 300" {
		t.Errorf("h1's processes: %q, %v; want %s sleep 300", ps, err, pid)
	}
	if ps, err := lab.Processes("h2"); err != nil || len(ps) != 0 {
		t.Errorf("h2's processes: %q, %v", ps, err)
	}
	lab.Run(t, "h1", "kill "+pid)

	// The hosts reach each other on the lab's subnet.
	lab.Run(t, "h2", "exec 3<>/dev/tcp/"+strings.TrimSuffix(lab.DriverAddr, ".1")+".11/22 || exit 1; head -c 4 <&3")
}

// TestScript: up is idempotent, down cleans up after a lab whose
// namespace was deleted under its sshd, and down twice is fine.
func TestScript(t *testing.T) {
	sshlabtest.SkipIfMissing(t)
	script, err := filepath.Abs("../../../scripts/sshlab.sh")
	if err != nil {
		t.Fatal(err)
	}
	sshlabtest.Exclusive(t)
	name := "mrts" + strconv.Itoa(os.Getpid()%1000000)
	dir := filepath.Join(sshlabtest.Base, name)
	env := append(os.Environ(), "SSHLAB_NAME="+name, "SSHLAB_DIR="+dir)
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(script, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("sshlab.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { run("down") })
	run("up", "1")
	if out := run("up", "2"); !strings.Contains(out, "SSHLAB_HOSTS=h1,h2") {
		t.Fatalf("up 2 again:\n%s", out)
	}
	for _, h := range []string{"h1", "h2"} {
		c := exec.Command("ssh", "-F", filepath.Join(dir, "ssh_config"), h, "echo", "ok")
		if out, err := c.CombinedOutput(); err != nil || string(out) != "ok\n" {
			t.Fatalf("ssh %s after up 2: %q, %v", h, out, err)
		}
	}
	// A crash: h1's namespace is gone, its sshd still runs.
	if out, err := exec.Command("ip", "netns", "del", name+"-h1").CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	run("down")
	run("down")
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), name+"-") {
		t.Errorf("namespaces left:\n%s", out)
	}
	if out, _ := exec.Command("ip", "link", "show", name+"r").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("link left:\n%s", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab dir left: %v", err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), dir+"/") && strings.Contains(string(b), "sshd") {
			st, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if !strings.Contains(string(st), ") Z ") {
				t.Errorf("sshd left: %s %q", p, b)
			}
		}
	}
}
