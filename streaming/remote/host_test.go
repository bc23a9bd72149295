package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming/job"
)

// TestHeartbeatTimeout stops a worker (SIGSTOP): it is lost once silent
// for the timeout, then killed and its scratch directory removed.
func TestHeartbeatTimeout(t *testing.T) {
	scratch := t.TempDir()
	// The timeout is also the wait for the worker's hello: room for a
	// loaded machine.
	h, err := Start(context.Background(), Login{Local: true}, HostOptions{Scratch: scratch, Timeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(time.Minute)
	if err := syscall.Kill(h.Hello.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Lost():
	case <-time.After(5 * time.Minute):
		syscall.Kill(h.Hello.PID, syscall.SIGKILL)
		t.Fatal("a stopped worker was not lost")
	}
	if err := h.Err(); !errors.Is(err, ErrHostLost) || !strings.Contains(err.Error(), "no heartbeat") {
		t.Errorf("Err = %v, want a lost host without heartbeat", err)
	}
	h.Close(time.Minute)
	if es, _ := os.ReadDir(scratch); len(es) != 0 {
		t.Errorf("scratch not empty after the cleanup: %v", es)
	}
	// The worker is gone (or a zombie not yet reaped).
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(h.Hello.PID) + "/stat"); err == nil && !bytes.Contains(b, []byte(") Z ")) {
		t.Errorf("the stopped worker is still there: %s", b)
	}
	// A request on a lost host fails at once.
	if _, err := h.request(context.Background(), msgWork, workMsg{}, "", "", nil); !errors.Is(err, ErrHostLost) {
		t.Errorf("request on a lost host: %v", err)
	}
}

// TestCloseKilled stops a worker (SIGSTOP) and closes it: it does not
// end within the grace, so it is killed, and the driver kills what is
// left of its session and removes its scratch directory.
func TestCloseKilled(t *testing.T) {
	scratch := t.TempDir()
	h, err := Start(context.Background(), Login{Local: true}, HostOptions{Scratch: scratch})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(h.Hello.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	h.Close(100 * time.Millisecond)
	if h.cmd.ProcessState.Success() {
		t.Fatalf("the stopped worker ended well: %v", h.cmd.ProcessState)
	}
	if es, _ := os.ReadDir(scratch); len(es) != 0 {
		t.Errorf("scratch not empty after Close: %v", es)
	}
}

// TestHeartbeatBusyHost: a host whose mapper runs silent for longer than
// the timeout is not lost, since the worker's heartbeats go on while its
// tasks run.
func TestHeartbeatBusyHost(t *testing.T) {
	var warn bytes.Buffer
	ls, _ := ParseLogins("2/:")
	r, err := Dial(context.Background(), ls, HostOptions{Scratch: t.TempDir(), Timeout: 4 * time.Second}, &syncWriter{w: &warn})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Three times the timeout, with nothing read or written.
	o := job.Options{Mapper: "sleep 12; cat", Reducer: "cat", NumReduceTasks: 1}
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("a\t1\nb\t2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := runJob(t, in, filepath.Join(t.TempDir(), "out"), o, r, r.Slots())
	if len(got) != 1 {
		t.Errorf("%d part files, want 1", len(got))
	}
	if err := r.Hosts()[0].Err(); err != nil {
		t.Errorf("the busy host: %v", err)
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %q", warn.String())
	}
}

// TestDialUnreachable: a host that cannot be reached is left out with
// one warning; the others run the job. Dial fails when none is left.
func TestDialUnreachable(t *testing.T) {
	var warn bytes.Buffer
	ls := []Login{{Local: true, Slots: 1}, {Host: "nowhere"}}
	r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: []string{"false"}}, Scratch: t.TempDir()}, &warn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Hosts()) != 1 || !r.Hosts()[0].Login.Local {
		t.Errorf("hosts: %v", r.Hosts())
	}
	if w := warn.String(); strings.Count(w, "\n") != 1 || !strings.Contains(w, "leaving out nowhere") {
		t.Errorf("warnings: %q", w)
	}
	if _, err := Dial(context.Background(), ls[1:], HostOptions{SSH: SSH{Command: []string{"false"}}}, nil); err == nil {
		t.Error("Dial with no reachable host: no error")
	}
}

// TestOneLine: what ssh says on several lines becomes one line of an
// error message.
func TestOneLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"\n \n", ""},
		{"Host key verification failed.\n", "Host key verification failed."},
		{"No ED25519 host key is known for h1.\r\nHost key verification failed.\r\n", "No ED25519 host key is known for h1.; Host key verification failed."},
		{"  a\n\n\tb  \nc", "a; b; c"},
	} {
		if got := oneLine(c.in); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestServeScratchLeft runs a worker in this process whose scratch
// directory cannot be removed (an immutable file in it, which root cannot
// remove either): Serve says so, so that the worker exits 1 and the
// driver cleans up after it.
func TestServeScratchLeft(t *testing.T) {
	base := t.TempDir()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- Serve(context.Background(), inR, outW, WorkerOptions{Scratch: base})
		outW.Close()
	}()
	r := bufio.NewReader(outR)
	var buf []byte
	fr, err := readFrame(r, &buf)
	if err != nil || fr.typ != msgHello {
		t.Fatalf("first frame %q, %v", fr.typ, err)
	}
	var hello helloMsg
	if err := json.Unmarshal(fr.data, &hello); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, r) // heartbeats
	stuck := filepath.Join(hello.Scratch, "stuck")
	if err := os.WriteFile(stuck, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", stuck).CombinedOutput(); err != nil {
		inW.Close()
		<-served
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	defer exec.Command("chattr", "-i", stuck).Run()
	inW.Close()
	err = <-served
	if err == nil || !strings.Contains(err.Error(), "remove scratch directory") {
		t.Errorf("Serve = %v, want an error removing the scratch directory", err)
	}
}
