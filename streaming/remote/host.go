package remote

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrHostLost is the error of a request whose host was lost: its session
// ended or its heartbeats stopped.
var ErrHostLost = errors.New("host lost")

// HostOptions configure a host's worker.
type HostOptions struct {
	SSH SSH
	// Binary is shipped to the host and run as `BINARY worker`; the zero
	// value means the running executable.
	Binary Binary
	// Timeout is how long the host may stay silent before it is lost;
	// 0 means 30 seconds.
	Timeout time.Duration
	// Scratch is passed to the worker as --scratch when set.
	Scratch string
	// Direct has reduce tasks fetch their partitions straight from the
	// hosts that keep them (--shuffle direct), not relayed by the driver.
	Direct bool
}

// Host is a worker running on one host, over one ssh session (or as a
// child process for the local machine).
type Host struct {
	Login Login
	Hello helloMsg
	// Copied says the binary was copied to the host.
	Copied bool
	// Done counts the task attempts the host finished successfully.
	Done atomic.Int64
	// Direct says the worker fetches partitions from the other hosts'
	// direct shuffle listeners; DirectAddr is where its own listener is
	// reached ("" when it is not).
	Direct     bool
	DirectAddr string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	wire   *wire
	stderr *tail
	seen   atomic.Int64 // unix nanoseconds of the last frame
	exited chan struct{}

	ssh     SSH
	closing atomic.Bool
	cleaned sync.WaitGroup

	// cleaning says a cleanup of the host (its session's processes, its
	// scratch directory) has started; under mu.
	cleaning bool

	mu     sync.Mutex
	reqs   map[uint32]*hreq
	nextID uint32
	lost   chan struct{}
	err    error
	work   map[string]*workState
}

type hreq struct {
	sink   frameSink
	log    *os.File
	result chan resultMsg
}

type workState struct {
	done chan struct{}
	err  error
}

// Start starts a worker on l: it installs the binary there if needed
// (ssh hosts) and waits for the worker's hello.
func Start(ctx context.Context, l Login, o HostOptions) (*Host, error) {
	bin := o.Binary
	if bin.Path == "" {
		var err error
		if bin, err = Self(); err != nil {
			return nil, err
		}
	}
	h := &Host{Login: l, ssh: o.SSH, reqs: map[uint32]*hreq{}, lost: make(chan struct{}), exited: make(chan struct{}),
		work: map[string]*workState{}, stderr: &tail{max: 4 << 10}}
	args := []string{"worker"}
	if o.Scratch != "" {
		args = append(args, "--scratch", o.Scratch)
	}
	var r *bufio.Reader
	var err error
	if l.Local {
		c := exec.Command(bin.Path, args...)
		// A session of its own, as over ssh, for cleanup.
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		r, err = h.startCmd(c)
	} else {
		r, err = h.launch(ctx, o.SSH, bin, args)
	}
	if err != nil {
		return nil, err
	}
	h.seen.Store(time.Now().UnixNano())
	hello := make(chan error, 1)
	go func() {
		var buf []byte
		fr, err := readFrame(r, &buf)
		if err == nil && fr.typ != msgHello {
			err = fmt.Errorf("protocol error: first frame %q", fr.typ)
		}
		if err == nil {
			err = json.Unmarshal(fr.data, &h.Hello)
		}
		if err == nil && h.Hello.Version != protoVersion {
			err = fmt.Errorf("worker speaks protocol %d, not %d", h.Hello.Version, protoVersion)
		}
		hello <- err
		if err == nil {
			h.read(r)
		}
	}()
	go func() {
		h.cmd.Wait()
		close(h.exited)
	}()
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case err = <-hello:
	case <-wait.C:
		err = fmt.Errorf("no answer from the worker within %s", timeout)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err != nil {
		h.kill()
		<-h.exited
		if err == io.ErrUnexpectedEOF || sessionEnded(err) {
			err = errors.New("the worker ended before it started")
		}
		return nil, fmt.Errorf("%s: %w%s", l.Name(), err, h.stderr.suffix())
	}
	go h.watch(timeout)
	return h, nil
}

// sessionEnded reports whether err, from reading the session's stdout,
// means that the session is over: the end of the pipe, or the pipe closed
// under the read by exec.Cmd.Wait, which closes it once the session has
// exited (a worker that exits at once races its Wait that way).
func sessionEnded(err error) bool {
	return err == io.EOF || errors.Is(err, os.ErrClosed)
}

// startCmd starts c as the host's session, with the worker's stdin and
// stderr, and returns its stdout. Nothing waits for c yet: its stdout is
// read first.
func (h *Host) startCmd(c *exec.Cmd) (*bufio.Reader, error) {
	c.Stderr = h.stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	growPipe(stdin)
	growPipe(stdout)
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Login.Name(), err)
	}
	h.cmd = c
	h.stdin = stdin
	h.wire = newWire(stdin)
	return bufio.NewReaderSize(stdout, 1<<20), nil
}

// launch starts the worker on an ssh host with args and returns its
// stdout. One session (launchScript) probes the host and, when the host
// has bin, runs the worker; when it needs bin, that session ends by
// itself, a second one copies bin and a third one runs the worker.
func (h *Host) launch(ctx context.Context, s SSH, bin Binary, args []string) (*bufio.Reader, error) {
	l := h.Login
	sargs, err := s.Args(l, append([]string{"sh", "-c", launchScript, "mrpipe", bin.Sum}, args...)...)
	if err != nil {
		return nil, err
	}
	r, err := h.startCmd(exec.Command(sargs[0], sargs[1:]...))
	if err != nil {
		return nil, err
	}
	type answer struct {
		lines [2]string
		out   []byte
		err   error
	}
	ans := make(chan answer, 1)
	go func() {
		var a answer
		for i := range a.lines {
			line, err := r.ReadSlice('\n')
			a.out = append(a.out, line...)
			if err != nil {
				a.err = err
				break
			}
			a.lines[i] = strings.TrimSpace(string(line))
		}
		ans <- a
	}()
	var a answer
	select {
	case a = <-ans:
	case <-ctx.Done():
		h.kill()
		h.cmd.Wait()
		return nil, fmt.Errorf("cannot probe host: %s: %w", l.Name(), context.Cause(ctx))
	}
	if a.err != nil {
		if a.err != io.EOF {
			h.kill()
		}
		if err := h.cmd.Wait(); err != nil {
			msg := oneLine(h.stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return nil, fmt.Errorf("cannot probe host: %s: %s", l.Name(), msg)
		}
		return nil, fmt.Errorf("%s: unexpected answer to the probe: %q", l.Name(), a.out)
	}
	path, have, err := probeAnswer(l, a.lines[0], a.lines[1], a.out)
	if err != nil {
		h.kill()
		h.cmd.Wait()
		return nil, err
	}
	if have {
		return r, nil
	}
	// The launch session ends by itself while the binary is copied.
	c := h.cmd
	h.stdin.Close()
	ended := make(chan struct{})
	go func() {
		c.Wait()
		close(ended)
	}()
	defer func() {
		c.Process.Kill()
		<-ended
	}()
	if err := s.copy(ctx, l, bin, path); err != nil {
		return nil, err
	}
	h.Copied = true
	h.stderr = &tail{max: 4 << 10}
	sargs, err = s.Args(l, append([]string{path}, args...)...)
	if err != nil {
		return nil, err
	}
	return h.startCmd(exec.Command(sargs[0], sargs[1:]...))
}

// Slots returns how many tasks the host runs at once.
func (h *Host) Slots() int {
	if h.Login.Slots > 0 {
		return h.Login.Slots
	}
	if h.Hello.CPUs > 0 {
		return h.Hello.CPUs
	}
	return 1
}

// Lost returns a channel closed when the host is lost, and Err why.
func (h *Host) Lost() <-chan struct{} { return h.lost }

// Err returns why the host was lost, or nil.
func (h *Host) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *Host) lose(err error) {
	h.mu.Lock()
	if h.err != nil {
		h.mu.Unlock()
		return
	}
	h.err = fmt.Errorf("%s: %w: %v%s", h.Login.Name(), ErrHostLost, err, h.stderr.suffix())
	// The cleanup is registered before anyone learns of the loss, so that
	// Close waits for it.
	clean := !h.closing.Load() && h.Hello.SID > 1
	if clean {
		h.cleaning = true
		h.cleaned.Add(1)
	}
	close(h.lost)
	h.mu.Unlock()
	// While closing, the session ends by itself: its output ends before
	// the worker's exit status (ssh's) comes, and killing it then would
	// lose that status. Close kills it after the grace.
	if !h.closing.Load() {
		h.kill()
	}
	if clean {
		go func() {
			defer h.cleaned.Done()
			h.cleanup(2 * time.Minute)
		}()
	}
}

// cleanupScript kills every process of session $1 (the lost worker and
// the commands it started) and removes the scratch directory $2.
const cleanupScript = `sid=$1 scratch=$2
for s in /proc/[0-9]*/stat; do
	read -r line <"$s" 2>/dev/null || continue
	set -- ${line##*) }
	if [ "$4" = "$sid" ]; then
		p=${s#/proc/}
		kill -9 "${p%/stat}" 2>/dev/null
	fi
done
case $scratch in
*/mrpipe-worker-*) rm -rf -- "$scratch" ;;
esac`

// cleanup removes what a lost worker left on its host, if the host can
// be reached within timeout: its processes and its scratch directory.
func (h *Host) cleanup(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sid, scratch := strconv.Itoa(h.Hello.SID), h.Hello.Scratch
	if h.Login.Local {
		exec.CommandContext(ctx, "sh", "-c", cleanupScript, "mrpipe", sid, scratch).Run()
		return
	}
	h.ssh.run(ctx, h.Login, nil, "sh", "-c", cleanupScript, "mrpipe", sid, scratch)
}

func (h *Host) kill() {
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Kill()
	}
}

// watch loses the host when it stays silent for timeout.
func (h *Host) watch(timeout time.Duration) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.lost:
			return
		case <-t.C:
			if silent := time.Since(time.Unix(0, h.seen.Load())); silent > timeout {
				h.lose(fmt.Errorf("no heartbeat for %s", silent.Round(time.Second)))
				return
			}
		}
	}
}

// read dispatches the worker's frames until its output ends.
func (h *Host) read(r *bufio.Reader) {
	var buf []byte
	for {
		fr, err := readFrame(r, &buf)
		if err != nil {
			if sessionEnded(err) {
				err = errors.New("session ended")
			}
			h.lose(err)
			return
		}
		h.seen.Store(time.Now().UnixNano())
		if fr.typ == msgBeat {
			continue
		}
		h.mu.Lock()
		q := h.reqs[fr.id]
		h.mu.Unlock()
		if q == nil {
			continue // a cancelled request
		}
		switch fr.typ {
		case msgFile, msgData, msgDataZ, msgEnd:
			if q.sink != nil {
				q.sink.frame(fr)
			}
		case msgLog:
			if q.log != nil {
				q.log.Write(fr.data)
			}
		case msgResult:
			var m resultMsg
			if err := json.Unmarshal(fr.data, &m); err != nil {
				m = resultMsg{Err: "protocol error: " + err.Error()}
			}
			q.result <- m
		}
	}
}

// request sends a request and returns its id; send sends its inputs.
// The result comes when the worker is done, with the files it sent back
// written under dir and its log appended to logPath.
func (h *Host) request(ctx context.Context, typ byte, msg any, dir, logPath string, send func(id uint32) error) (resultMsg, error) {
	var s frameSink
	if dir != "" {
		s = &sink{dir: dir}
	}
	return h.requestTo(ctx, typ, msg, s, logPath, send)
}

// requestTo is request with the files the worker sends going to s.
func (h *Host) requestTo(ctx context.Context, typ byte, msg any, s frameSink, logPath string, send func(id uint32) error) (resultMsg, error) {
	q := &hreq{result: make(chan resultMsg, 1), sink: s}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
		if err != nil {
			return resultMsg{}, err
		}
		defer f.Close()
		q.log = f
	}
	h.mu.Lock()
	if h.err != nil {
		err := h.err
		h.mu.Unlock()
		return resultMsg{}, err
	}
	h.nextID++
	id := h.nextID
	h.reqs[id] = q
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.reqs, id)
		h.mu.Unlock()
	}()
	sendErr := make(chan error, 1)
	go func() {
		err := h.wire.sendJSON(typ, id, msg)
		if err == nil && send != nil {
			err = send(id)
			if err != nil {
				// The worker must not run the task on part of its
				// inputs: it answers a cancelled request at its start.
				h.wire.send(msgCancel, id, nil)
			}
		}
		if serr := h.wire.send(msgStart, id, nil); err == nil {
			err = serr
		}
		sendErr <- err
	}()
	var m resultMsg
	select {
	case m = <-q.result:
	case <-h.lost:
		return resultMsg{}, h.Err()
	case <-ctx.Done():
		h.wire.send(msgCancel, id, nil)
		return resultMsg{}, context.Cause(ctx)
	}
	if err := <-sendErr; err != nil {
		return m, fmt.Errorf("%s: %w", h.Login.Name(), err)
	}
	if m.Err != "" {
		return m, errors.New(m.Err)
	}
	if q.sink != nil {
		// The result frame follows the files: the sink is complete.
		if err := q.sink.close(); err != nil {
			return m, fmt.Errorf("%s: receiving the output: %w", h.Login.Name(), err)
		}
	}
	return m, nil
}

// fetch has the worker send file of its map output key, which the
// driver relays to request id of w as name.
func (h *Host) fetch(ctx context.Context, key, file string, w *wire, id uint32, name string) error {
	_, err := h.requestTo(ctx, msgFetch, fetchMsg{Key: key, File: file}, &relay{w: w, id: id, name: name}, "", nil)
	return err
}

// startDirect has the worker serve its map outputs to the holders of
// token and fetch with it. A worker not run by sshd knows no address the
// others reach it at: a local worker's listener is reached on the
// loopback address when loopback is set (every host is the local
// machine).
func (h *Host) startDirect(ctx context.Context, token []byte, loopback bool) error {
	m, err := h.request(ctx, msgDirect, directMsg{Token: hex.EncodeToString(token)}, "", "", nil)
	if err != nil {
		return err
	}
	h.Direct = true
	h.DirectAddr = m.Addr
	if m.Addr == "" && loopback && h.Login.Local && m.Port > 0 {
		h.DirectAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
	}
	if h.DirectAddr == "" {
		return errors.New("no address the other hosts reach its listener at")
	}
	return nil
}

// sendWork sends the files of a work directory once per host.
func (h *Host) sendWork(ctx context.Context, dir string) error {
	h.mu.Lock()
	ws := h.work[dir]
	first := ws == nil
	if first {
		ws = &workState{done: make(chan struct{})}
		h.work[dir] = ws
	}
	h.mu.Unlock()
	if !first {
		select {
		case <-ws.done:
			return ws.err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	_, ws.err = h.request(ctx, msgWork, workMsg{Key: dir}, "", "", func(id uint32) error {
		es, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range es {
			// Shipped files may be symbolic links to the user's files.
			if err := h.wire.sendFile(id, e.Name(), dirJoin(dir, e.Name()), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if ws.err != nil {
		h.mu.Lock()
		delete(h.work, dir) // try again with the next task
		h.mu.Unlock()
	}
	close(ws.done)
	return ws.err
}

func dirJoin(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

// Close ends the worker: its stdin is closed, so it stops its tasks,
// removes its scratch directory and exits; after grace it is killed. A
// worker that did not exit with status 0 has its session's processes
// killed and its scratch directory removed by the driver.
func (h *Host) Close(grace time.Duration) error {
	h.closing.Store(true)
	defer h.cleaned.Wait()
	h.stdin.Close()
	select {
	case <-h.exited:
	case <-time.After(grace):
		h.kill()
		<-h.exited
	}
	h.mu.Lock()
	if h.err == nil {
		h.err = fmt.Errorf("%s: %w: closed", h.Login.Name(), ErrHostLost)
		close(h.lost)
	}
	// A worker that did not end well (killed after the grace, crashed,
	// or unable to remove its scratch directory) leaves its scratch
	// directory and maybe processes behind: they are removed here.
	ps := h.cmd.ProcessState
	clean := !h.cleaning && h.Hello.SID > 1 && (ps == nil || !ps.Success())
	h.cleaning = h.cleaning || clean
	h.mu.Unlock()
	if clean {
		// Briefly: a host that cannot be reached now is not waited for.
		h.cleanup(15 * time.Second)
	}
	return nil
}

// tail keeps the last bytes written to it (a worker's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func (t *tail) suffix() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := oneLine(string(t.b))
	if s == "" {
		return ""
	}
	return " (stderr: " + s + ")"
}

// oneLine joins the lines of what ssh (or a remote shell) said into one,
// for an error message of one line: "No host key is known…", "Host key
// verification failed." become "No host key is known…; Host key
// verification failed.".
func oneLine(s string) string {
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
