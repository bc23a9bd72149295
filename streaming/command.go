package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Role is what a command is run as.
type Role int

const (
	Mapper Role = iota
	Combiner
	Reducer
)

func (r Role) String() string {
	switch r {
	case Mapper:
		return "mapper"
	case Combiner:
		return "combiner"
	}
	return "reducer"
}

// TailLines is how many of a failed command's last stderr lines its
// report shows.
const TailLines = 20

// Command is a shell command run as a mapper, combiner or reducer: its
// standard input is fed records, its standard output is read as records,
// and its standard error is scanned for reporter lines.
type Command struct {
	Role Role
	// Cmd is run as `sh -c Cmd` would run it.
	Cmd string
	// Task gives the command's Hadoop environment and names its input in
	// failure reports.
	Task Task
	// Env is the base environment; nil means os.Environ().
	Env []string
	// Term is the record terminator ('\n', or 0 for -z).
	Term byte
	// Stderr receives the command's stderr lines that are not reporter
	// lines; nil discards them.
	Stderr io.Writer
	// Warn receives one-line warnings about malformed reporter lines,
	// prefixed with Name; nil means Stderr.
	Warn io.Writer
	// Name prefixes warnings, e.g. "mrmap".
	Name string
	// ReporterPrefix is stream.stderr.reporter.prefix; empty means
	// "reporter:".
	ReporterPrefix string
	// Counters receives user counters and status messages; nil keeps
	// them in a set of its own.
	Counters *Counters
	// OnStatus, when set, is called with each status message.
	OnStatus func(msg string)
	// InputName, when set, names the input in failure reports instead of
	// Task.Input.
	InputName string
	// IgnoreExitStatus is stream.non.zero.exit.is.failure=false: a
	// non-zero exit status does not fail the command.
	IgnoreExitStatus bool
}

// Stats counts what went through a command.
type Stats struct {
	InRecords, InBytes   int64 // records and bytes written to its stdin
	OutRecords, OutBytes int64 // records and bytes read from its stdout
}

// CommandError is the report of a failed command.
type CommandError struct {
	Role  Role
	Cmd   string
	Input InputInfo
	// ExitStatus is the exit status, or -1 when killed by Signal.
	ExitStatus int
	Signal     syscall.Signal
	// EarlyExit says the command stopped reading its input before the end
	// (our write to it failed with EPIPE).
	EarlyExit bool
	// LastRecord is the number of the last input record written to the
	// command in full (0: none).
	LastRecord int64
	// Tail is the command's last stderr lines (reporter lines excluded).
	Tail []string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s ", e.Role, ShellQuote(e.Cmd))
	switch {
	case e.ExitStatus < 0:
		fmt.Fprintf(&b, "was killed by signal %s (%d)", unix.SignalName(e.Signal), int(e.Signal))
	case e.ExitStatus > 0:
		fmt.Fprintf(&b, "exited with status %d", e.ExitStatus)
		if e.EarlyExit {
			b.WriteString(" before reading all its input")
		}
	default:
		b.WriteString("exited before reading all its input")
	}
	fmt.Fprintf(&b, " (input: %s; last record fed: ", e.Input)
	if e.LastRecord == 0 {
		b.WriteString("none)")
	} else {
		fmt.Fprintf(&b, "%d)", e.LastRecord)
	}
	if len(e.Tail) == 0 {
		b.WriteString("\n  no stderr output")
	} else {
		fmt.Fprintf(&b, "\n  last %d stderr line(s):", len(e.Tail))
		for _, l := range e.Tail {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// InputError is a failure to read a command's input.
type InputError struct {
	Input InputInfo
	Err   error
}

func (e *InputError) Error() string {
	name := e.Input.String()
	if msg := e.Err.Error(); strings.HasPrefix(msg, e.Input.Name+": ") {
		return "reading " + msg
	}
	return fmt.Sprintf("reading %s: %v", name, e.Err)
}
func (e *InputError) Unwrap() error { return e.Err }

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pipeSize is the capacity asked for the command's stdin and stdout
// pipes, so that both sides move large batches per context switch.
const pipeSize = 1 << 20

// Run runs the command: it writes the records read from in to the
// command's stdin (a last record without terminator gets one), calls out
// with batches of whole records read from its stdout (each terminated),
// and parses its stderr. onInput, if not nil, sees every batch before it
// is written. Run returns when the command has exited and its output has
// been read. A failed command gives a *CommandError; an error from in or
// out is returned as is (wrapped), after killing the command; when ctx
// ends the command is killed and the context's cause returned.
func (c *Command) Run(ctx context.Context, in io.Reader, out func(chunk []byte) error, onInput func(chunk []byte)) (Stats, error) {
	var st Stats
	if c.Counters == nil {
		c.Counters = NewCounters()
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd, execd := shellCommand(c.Cmd, c.Task.Environ(env))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// The command's stdin: the input file itself when it can read it
	// directly, else a pipe we feed.
	direct, dStart, dEnd, spl := openDirect(in, onInput)
	var (
		spliced *os.File // closed by the feeder once it has started
		feeding bool
	)
	if spl {
		spliced, direct = direct, nil
		defer func() {
			if !feeding {
				spliced.Close()
			}
		}()
	}
	var (
		inR, inW *os.File
		err      error
	)
	if direct != nil {
		inR = direct
		defer direct.Close()
	} else if inR, inW, err = blockingPipe(); err != nil {
		return st, err
	}
	outR, outW, err := blockingPipe()
	if err != nil {
		closeInput(inR, inW, direct)
		return st, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeInput(inR, inW, direct)
		outR.Close()
		outW.Close()
		return st, err
	}
	if inW != nil {
		setPipeSize(inW)
	}
	setPipeSize(outR)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	if err != nil && execd {
		// sh -c runs what exec cannot (a script without #!), or says why not.
		sh := exec.Command("/bin/sh", "-c", c.Cmd)
		sh.Env, sh.SysProcAttr = c.Task.Environ(env), cmd.SysProcAttr
		sh.Stdin, sh.Stdout, sh.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
		cmd, err, execd = sh, sh.Start(), false
	}
	// keepR, our copy of the read end of the command's stdin pipe, stays
	// open until the command has exited: the bytes then left in the pipe
	// are input it never read. (A command that exits without reading an
	// input small enough for the pipe makes no write of ours fail.)
	var keepR *os.File
	if direct == nil {
		keepR = inR
	}
	outW.Close()
	errW.Close()
	if err != nil {
		if inW != nil {
			inW.Close()
		}
		if keepR != nil {
			keepR.Close()
		}
		outR.Close()
		errR.Close()
		return st, fmt.Errorf("%s %s: %w", c.Role, ShellQuote(c.Cmd), err)
	}
	pid := cmd.Process.Pid

	var (
		killOnce sync.Once
		failMu   sync.Mutex
		failErr  error // first error from input, output or context
	)
	kill := func() {
		killOnce.Do(func() {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		})
	}
	fail := func(err error) {
		failMu.Lock()
		if failErr == nil {
			failErr = err
		}
		failMu.Unlock()
		kill()
	}
	stop := context.AfterFunc(ctx, func() { fail(context.Cause(ctx)) })
	defer stop()

	var wg sync.WaitGroup
	var early bool
	wg.Add(2)
	// The feeder counts into fst and fearly, read once it is done.
	fed := make(chan struct{})
	var fst Stats
	var fearly bool
	feeding = true
	go func() { // stdin
		defer close(fed)
		if direct != nil {
			n, b, err := countRange(direct, dStart, dEnd, c.Term)
			if err != nil {
				fail(&InputError{Input: c.Task.Input, Err: err})
			}
			fst.InRecords, fst.InBytes = n, b
			return
		}
		defer inW.Close()
		if spliced != nil {
			// When the run is cancelled Run may return before this
			// ends: the file and the pipe are closed here only.
			defer spliced.Close()
			sent, epipe, err := spliceRange(inW, spliced, dStart, dEnd)
			inW.Close()
			if err != nil {
				fail(&InputError{Input: c.Task.Input, Err: err})
				return
			}
			fearly = epipe
			n, b, err := countRange(spliced, dStart, dStart+sent, c.Term)
			if err != nil {
				fail(&InputError{Input: c.Task.Input, Err: err})
			}
			fst.InRecords, fst.InBytes = n, b
			return
		}
		cr := NewChunkReader(in, c.Term)
		room := newRoomWaiter(inW)
		for {
			chunk, err := cr.Next()
			if err != nil {
				if err != io.EOF {
					fail(&InputError{Input: c.Task.Input, Err: err})
				}
				return
			}
			if onInput != nil {
				onInput(chunk)
			}
			room.wait(len(chunk))
			n, err := inW.Write(chunk)
			room.wrote(n)
			fst.InRecords += countRecords(chunk[:n], c.Term)
			fst.InBytes += int64(n)
			if err != nil {
				if errors.Is(err, syscall.EPIPE) {
					fearly = true
				} else {
					fail(fmt.Errorf("writing to %s: %w", c.Role, err))
				}
				return
			}
		}
	}()
	go func() { // stdout
		defer wg.Done()
		defer outR.Close()
		cr := NewChunkReader(&coalescingReader{f: outR}, c.Term)
		for {
			chunk, err := cr.Next()
			if err != nil {
				if err != io.EOF {
					fail(fmt.Errorf("reading %s output: %w", c.Role, err))
				}
				return
			}
			st.OutRecords += countRecords(chunk, c.Term)
			st.OutBytes += int64(len(chunk))
			if err := out(chunk); err != nil {
				fail(err)
				return
			}
		}
	}()
	tail := newTail(TailLines)
	go func() { // stderr
		defer wg.Done()
		defer errR.Close()
		if err := c.scanStderr(errR, tail); err != nil && c.Stderr != os.Stderr {
			// The command's stderr would be lost (its log's disk is
			// full): the run fails. (Our own stderr failing, there is
			// nowhere to say so.)
			fail(fmt.Errorf("%s %s: its stderr: %w", c.Role, ShellQuote(c.Cmd), err))
		}
	}()
	wg.Wait()
	// Wait for the command to exit without reaping it, so that a kill
	// racing with its exit cannot reach another process that got its pid.
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			break
		}
	}
	// What is left in the stdin pipe was never read. Closing our read end
	// then makes the feeder's writes fail, if it is still writing.
	var unread bool
	if keepR != nil {
		unread = pipeFill(keepR) > 0
		keepR.Close()
	}
	// The feeder ends when the command has gone (its writes fail), unless
	// it is blocked reading our input, which only the reader can end; when
	// the run is cancelled we do not wait for that.
	select {
	case <-fed:
		st.InRecords, st.InBytes, early = fst.InRecords, fst.InBytes, fearly || unread
	case <-ctx.Done():
		if direct == nil && spliced == nil {
			inW.Close()
		}
	}
	// Allow no more kills, and reap the command.
	stop()
	killOnce.Do(func() {})
	werr := cmd.Wait()
	if direct != nil {
		// The command shares the file's offset: where it stopped is how
		// far it read.
		if off, err := direct.Seek(0, io.SeekCurrent); err == nil && off < dEnd {
			early = true
			st.InRecords, st.InBytes, _ = countRange(direct, dStart, off, c.Term)
		}
	}

	failMu.Lock()
	ferr := failErr
	failMu.Unlock()
	if ferr != nil {
		return st, ferr
	}
	if ctx.Err() != nil {
		return st, context.Cause(ctx)
	}
	ce := &CommandError{Role: c.Role, Cmd: c.Cmd, Input: c.Task.Input, EarlyExit: early, LastRecord: st.InRecords, Tail: tail.lines()}
	if c.InputName != "" {
		ce.Input = InputInfo{Name: c.InputName}
	}
	// When exit statuses are ignored, so is the death by a signal of a
	// program run without sh: sh would have exited 128+n, and Hadoop,
	// which runs commands without a shell, sees 128+n too.
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && !(execd && c.IgnoreExitStatus && !early) {
		ce.ExitStatus, ce.Signal = -1, ws.Signal()
		return st, ce
	}
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return st, fmt.Errorf("%s %s: %w", c.Role, ShellQuote(c.Cmd), werr)
		}
		ce.ExitStatus = ee.ExitCode()
		if !c.IgnoreExitStatus || early {
			return st, ce
		}
	}
	if early {
		return st, ce
	}
	return st, nil
}

// DirectInput is an input a command may read straight from a file, as
// its standard input, instead of through a pipe we feed: no copy, and the
// command reads as fast as the file allows.
type DirectInput interface {
	// DirectRange returns the file and the byte range of the input. ok is
	// false when the input cannot be read directly: the range must be
	// part of an uncompressed regular file and end in a record terminator
	// (or be empty). A range that runs to the end of the file becomes the
	// command's standard input itself; a shorter one is spliced into its
	// stdin pipe.
	DirectRange() (path string, start, end int64, ok bool)
}

// openDirect opens the file of a DirectInput. When the range runs to the
// end of the file, the file is at the range's start, for the command to
// read as its standard input; else spl is set: the range is to be spliced
// into the command's stdin pipe (see spliceRange).
func openDirect(in io.Reader, onInput func([]byte)) (f *os.File, start, end int64, spl bool) {
	d, ok := in.(DirectInput)
	if !ok || onInput != nil {
		return nil, 0, 0, false
	}
	path, start, end, ok := d.DirectRange()
	if !ok || start < 0 || end < start {
		return nil, 0, 0, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < end {
		f.Close()
		return nil, 0, 0, false
	}
	if fi.Size() != end {
		return f, start, end, true
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, 0, false
	}
	return f, start, end, false
}

func closeInput(inR, inW, direct *os.File) {
	if direct != nil {
		return
	}
	inR.Close()
	inW.Close()
}

// blockingPipe returns a pipe whose ends are in blocking mode, so that
// our reads and writes on them are plain system calls that move as much
// as the pipe allows, rather than non-blocking ones that return early and
// wait for the poller every time the other side takes a little (which
// costs several system calls per page with a reader like mawk that reads
// 4 KiB at a time).
func blockingPipe() (r, w *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1"), nil
}

// Batching across the pipes. A command that reads or writes in small
// pieces (mawk moves 4 KiB at a time) would otherwise wake us, and we it,
// for every piece: two context switches per 4 KiB. Instead the feeder
// writes only when the pipe has room for a good part of a batch, waiting
// a little (about coalesceWait at most) for that, and the output reader
// reads in batches too (see coalescingReader): the pipes are 1 MiB, so
// the command never waits on us.
//
// The naps are time.Sleep: the goroutine parks and its thread stays
// free. The runtime rounds them up to a millisecond or so, which the
// 1 MiB pipes absorb. Sleeping in the thread instead (nanosleep, for
// finer naps) made the runtime hand the thread's processor to another
// thread at every nap: on 2 cores that cost a fifth of mrrun's CPU.
const (
	coalesceNap  = time.Millisecond
	coalesceWait = 3 * time.Millisecond
)

// coalesce waits until ready returns true, or about coalesceWait has
// passed.
func coalesce(ready func() bool) {
	start := time.Now()
	for !ready() && time.Since(start) < coalesceWait {
		time.Sleep(coalesceNap)
	}
}

// pipeFill returns the number of bytes in the pipe f, or -1.
func pipeFill(f *os.File) int { return pipeFillFd(int(f.Fd())) }

// pipeFillFd is pipeFill for a descriptor.
func pipeFillFd(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
	if err != nil {
		return -1
	}
	return n
}

// roomWaiter waits for room in a pipe we write and a command reads, in
// as few naps as it can. From what was written and what is still in the
// pipe it knows how fast the command reads, and after a write it first
// sleeps for as long as the room it wants should take to free up, before
// it looks: about one look and one nap per batch, where naps of a fixed
// length took two or three looks and more wake-ups.
type roomWaiter struct {
	// rc is the pipe's: a look through it cannot reach another file
	// that reused the descriptor after a cancelled run closed the pipe.
	rc       syscall.RawConn
	capacity int   // the pipe's; 0 when unknown (then it does not wait)
	written  int64 // bytes written
	fill     int   // bytes in the pipe, as last seen plus written since
	start    time.Time
	looks    int // at the pipe's fill (for tests)
}

func newRoomWaiter(w *os.File) *roomWaiter {
	r := &roomWaiter{start: time.Now()}
	rc, err := w.SyscallConn()
	if err != nil {
		return r
	}
	r.rc = rc
	_ = rc.Control(func(fd uintptr) {
		if c, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil {
			r.capacity = c
		}
	})
	return r
}

// look returns the bytes in the pipe, or -1.
func (r *roomWaiter) look() int {
	r.looks++
	fill := -1
	if err := r.rc.Control(func(fd uintptr) { fill = pipeFillFd(int(fd)) }); err != nil {
		return -1
	}
	return fill
}

// wrote records that n more bytes went into the pipe.
func (r *roomWaiter) wrote(n int) {
	r.written += int64(n)
	r.fill += n
}

// wait waits (about coalesceWait at most) until the pipe has room for
// most of n bytes.
func (r *roomWaiter) wait(n int) {
	if r.capacity <= 0 {
		return
	}
	want := min(n, r.capacity/2)
	start := time.Now()
	var rate float64 // bytes a second the command reads; 0: not known yet
	if el := start.Sub(r.start); r.written > int64(r.fill) && el > 0 {
		rate = float64(r.written-int64(r.fill)) / el.Seconds()
	}
	// r.fill is a guess until looked at: the command may have read since.
	looked := rate == 0
	for {
		if looked {
			fill := r.look()
			if fill < 0 {
				return
			}
			r.fill = fill
		}
		short := want - (r.capacity - r.fill)
		waited := time.Since(start) // naps take longer than asked
		if short <= 0 && looked || waited >= coalesceWait {
			return
		}
		if short > 0 {
			nap := coalesceNap
			if rate > 0 {
				nap = time.Duration(float64(short) / rate * float64(time.Second))
			}
			time.Sleep(min(max(nap, coalesceNap/8), coalesceWait-waited))
		}
		looked = true
	}
}

// coalescingReader reads a pipe in batches of about coalesceBatch bytes:
// when fewer are there, it naps for as long as the rest should take to
// come at the rate the pipe has filled so far (between coalesceNap and
// coalesceMaxNap), then reads what there is. A mapper like mawk writes
// 4 KiB at a time, tens of MB a second: one read in a few milliseconds
// instead of one wake-up per write, or per short nap. The longest nap
// bounds what a burst after a slow start can lose: a full pipe (1 MiB)
// per coalesceMaxNap. It starts batching only after the first
// coalesceAfter bytes, so that small outputs (a combiner's, say) cost no
// waiting at all.
type coalescingReader struct {
	f     *os.File
	total int64
	start time.Time
	batch int // coalesceBatch, or half the pipe when it is smaller
}

const (
	coalesceAfter  = 1 << 20
	coalesceBatch  = 256 << 10
	coalesceMaxNap = 4 * time.Millisecond
)

func (r *coalescingReader) Read(p []byte) (int, error) {
	if r.total < coalesceAfter {
		if r.start.IsZero() {
			r.start = time.Now()
			r.batch = coalesceBatch
			if c, err := unix.FcntlInt(r.f.Fd(), unix.F_GETPIPE_SZ, 0); err == nil {
				r.batch = min(r.batch, c/2)
			}
		}
		n, err := r.f.Read(p)
		r.total += int64(n)
		return n, err
	}
	want := min(len(p), r.batch)
	if fill := pipeFill(r.f); fill >= 0 && fill < want {
		time.Sleep(napFor(want-fill, r.total, time.Since(r.start)))
	}
	n, err := r.f.Read(p)
	r.total += int64(n)
	return n, err
}

// napFor returns how long to wait for missing more bytes when total came
// in elapsed: as long as they should take at that rate, between
// coalesceNap and coalesceMaxNap.
func napFor(missing int, total int64, elapsed time.Duration) time.Duration {
	nap := coalesceMaxNap
	if elapsed > 0 && total > 0 {
		nap = time.Duration(float64(missing) * float64(elapsed) / float64(total))
	}
	return min(max(nap, coalesceNap), coalesceMaxNap)
}

func setPipeSize(f *os.File) {
	_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
}

// scanStderr parses the command's stderr line by line. It returns the
// first error writing to c.Stderr (a log file on a full disk), and reads
// on to the end all the same.
func (c *Command) scanStderr(r io.Reader, tail *tail) error {
	var werr error
	pass := c.Stderr
	if pass != nil {
		pass = errWriter{pass, &werr}
	}
	warn := c.Warn
	if warn == nil {
		warn = pass
	}
	name := c.Name
	if name == "" {
		name = c.Role.String()
	}
	var buf []byte
	cr := NewChunkReader(r, '\n')
	for {
		chunk, err := cr.Next()
		if err != nil {
			return werr
		}
		buf = buf[:0]
		_ = Lines(chunk, '\n', func(line []byte) error {
			rep := ParseReport(line, c.ReporterPrefix)
			switch rep.Kind {
			case CounterReport:
				c.Counters.addBytes(rep.Group, rep.Name, rep.Amount)
				return nil
			case StatusReport:
				s := string(rep.Status)
				c.Counters.SetStatus(s)
				if c.OnStatus != nil {
					c.OnStatus(s)
				}
				return nil
			case BadReport:
				if warn != nil {
					if len(buf) > 0 && pass != nil {
						pass.Write(buf)
						buf = buf[:0]
					}
					fmt.Fprintf(warn, "%s: warning: %s stderr: %s\n", name, c.Role, rep.Problem)
				}
			}
			tail.add(line)
			buf = append(buf, line...)
			buf = append(buf, '\n')
			return nil
		})
		if len(buf) > 0 && pass != nil {
			pass.Write(buf)
		}
	}
}

// tail keeps the last n lines.
type tail struct {
	n    int
	ring []string
	next int
}

func newTail(n int) *tail { return &tail{n: n} }

const maxTailLine = 1000

func (t *tail) add(line []byte) {
	if len(line) > maxTailLine {
		line = append(line[:maxTailLine:maxTailLine], "..."...)
	}
	s := string(line)
	if len(t.ring) < t.n {
		t.ring = append(t.ring, s)
		return
	}
	t.ring[t.next] = s
	t.next = (t.next + 1) % t.n
}

func (t *tail) lines() []string {
	out := append([]string(nil), t.ring[t.next:]...)
	return append(out, t.ring[:t.next]...)
}

// spliceRange moves the bytes [start, end) of src into the pipe w (in
// blocking mode) with splice(2), without copying them through user space,
// each time the pipe has room for a good part of a batch (see roomWaiter:
// a blocked splice would wake for every page a mapper like mawk takes).
// It returns how many bytes went in, and whether the reader went away
// (EPIPE) before the end.
func spliceRange(w, src *os.File, start, end int64) (sent int64, epipe bool, err error) {
	wfd, sfd := int(w.Fd()), int(src.Fd())
	room := newRoomWaiter(w)
	off := start
	for off < end {
		room.wait(pipeSize)
		n, err := unix.Splice(sfd, &off, wfd, nil, int(min(int64(pipeSize), end-off)), unix.SPLICE_F_MOVE)
		room.wrote(int(max(n, 0)))
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EPIPE:
			return off - start, true, nil
		case err != nil:
			return off - start, false, err
		case n == 0:
			return off - start, false, shortFile(src, end)
		}
	}
	runtime.KeepAlive(w)
	runtime.KeepAlive(src)
	return off - start, false, nil
}

// errWriter is w keeping its first write error in *err; later writes are
// dropped.
type errWriter struct {
	w   io.Writer
	err *error
}

func (e errWriter) Write(p []byte) (int, error) {
	if *e.err != nil {
		return len(p), nil
	}
	if _, err := e.w.Write(p); err != nil {
		*e.err = err
	}
	return len(p), nil
}
