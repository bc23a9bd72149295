package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHeartbeatTimeout stops a worker (SIGSTOP): it is lost once silent
// for the timeout, then killed and its scratch directory removed.
func TestHeartbeatTimeout(t *testing.T) {
	scratch := t.TempDir()
	h, err := Start(context.Background(), Login{Local: true}, HostOptions{Scratch: scratch, Timeout: 2 * time.Second})
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
