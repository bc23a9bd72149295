package app

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run mrsort as a real child process: the test
// binary re-executes itself with MRSORT_AS_MAIN=1.
func TestMain(m *testing.M) {
	if os.Getenv("MRSORT_AS_MAIN") == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

func mrsortCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MRSORT_AS_MAIN=1")
	return cmd
}

// TestSignalCleanup interrupts a sort that is spilling runs: it exits
// 128+signal, removes its temporary files and leaves no -o file.
func TestSignalCleanup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			os.Mkdir(tmp, 0o755)
			out := filepath.Join(dir, "out.txt")
			cmd := mrsortCmd("-S", "256K", "-T", tmp, "-o", out)
			stdin, _ := cmd.StdinPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 1000)
			for i := 0; i < 100; i++ { // 4.4 MB: several runs
				if _, err := stdin.Write(line); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			stdin.Close()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Fatalf("exit: %v, want status %d; stderr %q", err, 128+int(sig), stderr.String())
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("temporary files left: %v", ents)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("output directory holds %v, want only tmp", ents)
			}
		})
	}
}

// TestFullDisk sorts into a temporary directory on a 1 MiB tmpfs: a clear
// error naming the file, exit 2, and no partial -o file.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	defer exec.Command("umount", full).Run()

	// 8 MiB of lines that do not compress much.
	var in bytes.Buffer
	x := uint64(1)
	for in.Len() < 8<<20 {
		for i := 0; i < 60; i++ {
			x = x*6364136223846793005 + 1442695040888963407
			in.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x>>58])
		}
		in.WriteByte('\n')
	}
	src := filepath.Join(dir, "in.txt")
	os.WriteFile(src, in.Bytes(), 0o644)
	out := filepath.Join(dir, "out.txt")

	for _, target := range []string{"temp", "output"} {
		var args []string
		if target == "temp" {
			args = []string{"-S", "256K", "-T", full, "-o", out, src}
		} else {
			args = []string{"-o", filepath.Join(full, "out.txt"), src}
		}
		cmd := mrsortCmd(args...)
		var stderr bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, io.Discard
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%s: exit %v, want 2", target, err)
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "mrsort: write failed: "+full+"/") || !strings.HasSuffix(msg, ": No space left on device\n") || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: stderr %q", target, msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: partial output %s exists", target, out)
		}
		if ents, _ := os.ReadDir(full); len(ents) != 0 {
			t.Errorf("%s: files left on the full disk: %v", target, ents)
		}
	}
}
