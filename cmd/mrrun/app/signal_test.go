package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestMain lets the test binary be mrrun: as a host's worker (mrrun
// -hosts ships the driver's own executable and runs it as "BINARY
// worker"), and as the driver itself when a test runs it as a child
// process with mainEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" || len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

const mainEnv = "MRRUN_TEST_MAIN"

// TestSignalHosts sends SIGINT, then SIGTERM, to a real mrrun -hosts
// while its mappers run on two lab hosts: mrrun exits 130 or 143, OUT
// holds no part files, and no process of the job and no file of its
// scratch directories remain on either host.
func TestSignalHosts(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	var b bytes.Buffer
	for i := range 4000 {
		fmt.Fprintf(&b, "w%d x\n", i%97)
	}
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The mappers record their pids in the hosts' scratch directories.
	mapper := "echo $$ >" + lab.Scratch + "/pid.$$; exec sleep 600"
	for _, c := range []struct {
		sig    syscall.Signal
		status int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.sig.String(), " ", "-"))
			cmd := exec.Command(os.Args[0], "-q", "-hosts", strings.Join(lab.Hosts, ","), "--ssh", strings.Join(lab.SSH(), " "),
				"-input", in, "-output", out, "-mapper", mapper, "-reducer", "cat",
				"-D", "mapreduce.input.fileinputformat.split.maxsize=8000")
			cmd.Env = append(os.Environ(), mainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait for a mapper on every host, then signal.
			for _, h := range lab.Hosts {
				for i := 0; lab.Run(t, h, "ls "+lab.Scratch+" | grep -c '^pid' || true") == "0\n"; i++ {
					if i > 1200 {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("no mapper started on %s; mrrun said: %s", h, stderr.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != c.status {
				t.Errorf("mrrun after %v: %v, want exit status %d; stderr: %s", c.sig, err, c.status, stderr.String())
			}
			if parts, _ := filepath.Glob(filepath.Join(out, "part-*")); len(parts) != 0 {
				t.Errorf("OUT holds %q", parts)
			}
			if _, err := os.Stat(filepath.Join(out, "_temporary")); err == nil {
				t.Errorf("OUT/_temporary remains")
			}
			// mrrun has ended: nothing of the job may remain on the hosts.
			for _, h := range lab.Hosts {
				if left := lab.Leftovers(t, h); len(left) != 0 {
					t.Errorf("%s after %v: %q", h, c.sig, left)
				}
				lab.Run(t, h, "rm -f "+lab.Scratch+"/pid.*")
			}
		})
	}
}
