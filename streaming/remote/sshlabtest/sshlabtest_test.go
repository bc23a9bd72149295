package sshlabtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	// The hosts reach each other on the lab's subnet.
	lab.Run(t, "h2", "exec 3<>/dev/tcp/"+strings.TrimSuffix(lab.DriverAddr, ".1")+".11/22 || exit 1; head -c 4 <&3")
}
