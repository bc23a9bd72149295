package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/split"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var errEPIPE = syscall.EPIPE

const (
	readSize  = 1 << 20   // input reads when streaming
	writeSize = 128 << 10 // buffer per output
	pipeSize  = 1 << 20   // pipe capacity asked for filter commands
)

// input is what is cut: a regular file (f, size, from base on) or a stream.
type input struct {
	name   string
	f      *os.File // regular, uncompressed: read by range
	base   int64
	size   int64
	stream io.Reader
	path   string // for MRPIPE_SPLIT; "" when the bytes are not a file's
	close  func()
}

func openInput(name string, needFile bool) (*input, error) {
	in := &input{name: name, close: func() {}}
	var f *os.File
	if name == "-" {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(name); err != nil {
			return nil, fmt.Errorf("cannot open '%s' for reading: %s", name, cliutil.Strerror(err))
		}
		in.close = func() { f.Close() }
	}
	fi, err := f.Stat()
	if err != nil {
		in.close()
		return nil, fmt.Errorf("%s: %s", name, cliutil.Strerror(err))
	}
	if fi.IsDir() {
		in.close()
		return nil, fmt.Errorf("%s: %s", name, cliutil.Strerror(syscall.EISDIR))
	}
	var src io.Reader = f
	if fi.Mode().IsRegular() {
		base, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			in.close()
			return nil, fmt.Errorf("%s: %s", name, cliutil.Strerror(err))
		}
		var magic [4]byte
		n, _ := f.ReadAt(magic[:], base)
		if codecOf(magic[:n]) == split.None {
			in.f, in.base, in.size = f, base, fi.Size()-base
			if name != "-" && base == 0 {
				in.path = name
			}
			return in, nil
		}
	} else {
		br := bufio.NewReaderSize(f, readSize)
		src = br
		magic, _ := br.Peek(4)
		if codecOf(magic) == split.None {
			if !needFile {
				in.stream = br
				return in, nil
			}
		}
	}
	// Compressed input is decoded as a stream.
	dec, closeDec, err := decoder(src)
	if err != nil {
		in.close()
		return nil, fmt.Errorf("%s: %s", name, err)
	}
	if dec == nil {
		dec = src
	}
	prev := in.close
	in.close = func() { closeDec(); prev() }
	if !needFile {
		in.stream = dec
		return in, nil
	}
	// -n needs the size: copy to an unlinked temporary file.
	label := name
	if name == "-" {
		label = "standard input"
	}
	tmp, err := os.CreateTemp("", "mrsplit-")
	if err != nil {
		in.close()
		return nil, &spoolError{fmt.Errorf("cannot copy %s to a temporary file: %s", label, cliutil.Strerror(err))}
	}
	os.Remove(tmp.Name())
	var werr error
	n, err := io.CopyBuffer(errWriter{tmp, &werr}, dec, make([]byte, readSize))
	if err != nil {
		tmp.Close()
		in.close()
		if werr != nil {
			// The temporary file, not the input, failed (a full
			// $TMPDIR): a failure of the run.
			return nil, &spoolError{fmt.Errorf("cannot copy %s to a temporary file: %s: %s", label, tmp.Name(), cliutil.Strerror(werr))}
		}
		return nil, fmt.Errorf("%s: %s", name, cliutil.Strerror(err))
	}
	prevClose := in.close
	in.close = func() { tmp.Close(); prevClose() }
	in.f, in.base, in.size = tmp, 0, n
	return in, nil
}

func codecOf(magic []byte) split.Codec {
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return split.Gzip
	case len(magic) >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		return split.Zstd
	}
	return split.None
}

// decoder returns a decoder of r when r starts with gzip or zstd magic
// bytes, or nil.
func decoder(r io.Reader) (io.Reader, func(), error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readSize)
	}
	magic, _ := br.Peek(4)
	switch codecOf(magic) {
	case split.Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case split.Zstd:
		zd, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zd, zd.Close, nil
	}
	return br, func() {}, nil
}

// output is one piece being written: a file, or a filter command's stdin.
type output struct {
	name string
	f    *os.File
	w    *bufio.Writer
	cmd  *exec.Cmd
	dead bool // the command closed its stdin: the rest is dropped
	err  error
}

func (o *output) Write(p []byte) (int, error) {
	if o.dead || o.err != nil {
		return len(p), o.err
	}
	if _, err := o.w.Write(p); err != nil {
		if o.cmd != nil && isEPIPE(err) {
			o.dead = true
			return len(p), nil
		}
		o.err = err
		return 0, err
	}
	return len(p), nil
}

// outputs makes, finishes and waits for outputs.
type outputs struct {
	ctx     context.Context
	cfg     *config
	inStat  os.FileInfo
	running []*output // commands whose stdin is closed
	mu      sync.Mutex
	stdout  io.Writer
}

// create opens the output named name; desc is $MRPIPE_SPLIT or "".
func (os_ *outputs) create(name, desc string) (*output, error) {
	cfg := os_.cfg
	if cfg.filter == "" {
		if cfg.verbose {
			os_.say("creating file '%s'\n", name)
		}
		if os_.inStat != nil {
			if fi, err := os.Stat(name); err == nil && os.SameFile(fi, os_.inStat) {
				return nil, cliutil.Exit(1, fmt.Errorf("'%s' would overwrite input; aborting", name))
			}
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, cliutil.Exit(1, fmt.Errorf("%s: %s", name, cliutil.Strerror(err)))
		}
		return &output{name: name, f: f, w: bufio.NewWriterSize(f, writeSize)}, nil
	}
	if cfg.verbose {
		os_.say("executing with FILE=%s\n", name)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, cliutil.Exit(1, err)
	}
	if rc, err := pw.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
	}
	cmd := exec.CommandContext(os_.ctx, cfg.shell, "-c", cfg.filter)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "FILE="+name)
	if desc != "" {
		cmd.Env = append(cmd.Env, "MRPIPE_SPLIT="+desc)
	}
	if w, ok := os_.stdout.(*os.File); ok {
		cmd.Stdout = w
	} else {
		cmd.Stdout = os_.stdout
	}
	err = cmd.Start()
	pr.Close()
	if err != nil {
		pw.Close()
		return nil, cliutil.Exit(1, fmt.Errorf("with FILE=%s, cannot run command: %s: %v", name, cfg.filter, err))
	}
	return &output{name: name, f: pw, w: bufio.NewWriterSize(pw, writeSize), cmd: cmd}, nil
}

func (os_ *outputs) say(format string, a ...any) {
	os_.mu.Lock()
	fmt.Fprintf(os_.stdout, format, a...)
	os_.mu.Unlock()
}

// finish flushes and closes o. A command's stdin is closed and the
// command is left to run while the next one is fed: it is waited for
// once -j commands run, counting the next, so that no more than -j ever
// run at once and -j 1 runs them one after the other, as GNU split does.
func (os_ *outputs) finish(o *output) error {
	err := o.w.Flush()
	if o.dead || (o.cmd != nil && isEPIPE(err)) {
		err = nil
	}
	if o.err != nil && !o.dead {
		err = o.err
	}
	if cerr := o.f.Close(); err == nil && o.cmd == nil {
		err = cerr
	}
	if err != nil {
		if o.cmd != nil {
			o.cmd.Wait()
		}
		return cliutil.Exit(1, fmt.Errorf("%s: %s", o.name, cliutil.Strerror(err)))
	}
	if o.cmd == nil {
		return nil
	}
	os_.running = append(os_.running, o)
	for len(os_.running) >= os_.cfg.jobs {
		o := os_.running[0]
		os_.running = os_.running[1:]
		if err := os_.wait(o); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for o's command and reports its failure as GNU split does.
func (os_ *outputs) wait(o *output) error {
	err := o.cmd.Wait()
	if err == nil {
		return nil
	}
	if os_.ctx.Err() != nil {
		return os_.ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				if ws.Signal() == syscall.SIGPIPE {
					return nil
				}
				return cliutil.Exit(1, fmt.Errorf("with FILE=%s, signal %s from command: %s", o.name, signame(ws.Signal()), os_.cfg.filter))
			}
			return cliutil.Exit(1, fmt.Errorf("with FILE=%s, exit %d from command: %s", o.name, ws.ExitStatus(), os_.cfg.filter))
		}
	}
	return cliutil.Exit(1, fmt.Errorf("with FILE=%s, command failed: %s: %v", o.name, os_.cfg.filter, err))
}

// waitAll waits for every command left; the first failure is returned.
func (os_ *outputs) waitAll() error {
	var first error
	for _, o := range os_.running {
		if err := os_.wait(o); err != nil && first == nil {
			first = err
		}
	}
	os_.running = nil
	return first
}

func signame(s syscall.Signal) string {
	n := unix.SignalName(s)
	if len(n) > 3 && n[:3] == "SIG" {
		return n[3:]
	}
	return fmt.Sprint(int(s))
}

// spoolError is a failure to copy standard input to a temporary file:
// exit status 1, as for the outputs.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return e.err.Error() }

// errWriter is w keeping its write error in *err.
type errWriter struct {
	w   io.Writer
	err *error
}

func (e errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		*e.err = err
	}
	return n, err
}

func cut(c *cli.Context, cfg *config) error {
	needFile := cfg.mode == 'n' && cfg.chunks.kind != 'r'
	in, err := openInput(cfg.input, needFile)
	if err != nil {
		var se *spoolError
		if errors.As(err, &se) {
			return cliutil.Exit(1, err)
		}
		return cliutil.Exit(2, err)
	}
	defer in.close()
	outs := &outputs{ctx: c.Context, cfg: cfg, stdout: c.App.Writer}
	if in.f != nil {
		outs.inStat, _ = in.f.Stat()
	} else if cfg.input != "-" {
		outs.inStat, _ = os.Stat(cfg.input)
	}
	switch {
	case cfg.mode == 'n' && cfg.chunks.kind == 'r':
		err = roundRobin(c.Context, cfg, in, outs)
	case cfg.mode == 'n':
		err = byRanges(c.Context, cfg, in, outs)
	default:
		err = stream(c.Context, cfg, in, outs)
	}
	if werr := outs.waitAll(); err == nil {
		err = werr
	}
	if errors.Is(err, context.Canceled) {
		return cliutil.Silent(2)
	}
	if err != nil {
		var ee *cliutil.ExitError
		if !errors.As(err, &ee) {
			err = cliutil.Exit(1, err)
		}
	}
	return err
}

// piece is one chunk of -n N or -n l/N: its name and byte range.
type piece struct {
	name       string
	start, end int64 // resolved range, relative to the file
	desc       string
}

// byRanges cuts -n N, K/N, l/N, l/K/N: each chunk is a byte range of the
// file, written by copying that range (copy_file_range, splice).
func byRanges(ctx context.Context, cfg *config, in *input, outs *outputs) error {
	n := int(cfg.chunks.n)
	rng := func(k int) (int64, int64, error) {
		s, e := split.Chunk(k, n, in.size)
		s, e = s+in.base, e+in.base
		if cfg.chunks.kind == 'l' {
			return split.Bounds(in.f, in.base+in.size, s, e, cfg.delim)
		}
		return s, e, nil
	}
	if cfg.chunks.k > 0 {
		s, e, err := rng(int(cfg.chunks.k - 1))
		if err != nil {
			return fmt.Errorf("%s: %s", in.name, cliutil.Strerror(err))
		}
		if cfg.stdoutF != nil {
			_, err = split.SendRange(cfg.stdoutF, in.f, s, e)
		} else {
			_, err = io.Copy(cfg.stdout, io.NewSectionReader(in.f, s, e-s))
		}
		if err != nil && isEPIPE(err) {
			return cliutil.Silent(1)
		}
		return err
	}
	var pieces []piece
	for k := 0; k < n; k++ {
		s, e, err := rng(k)
		if err != nil {
			return fmt.Errorf("%s: %s", in.name, cliutil.Strerror(err))
		}
		if cfg.elide && s == e {
			continue
		}
		name, err := cfg.names.next()
		if err != nil {
			return cliutil.Exit(1, err)
		}
		p := piece{name: name, start: s, end: e}
		if in.path != "" {
			ns, ne := split.Chunk(k, n, in.size)
			p.desc = split.Split{Path: in.path, Start: ns, Length: ne - ns}.String()
		}
		pieces = append(pieces, p)
	}
	if cfg.filter == "" {
		for _, p := range pieces {
			if err := ctx.Err(); err != nil {
				return err
			}
			o, err := outs.create(p.name, "")
			if err != nil {
				return err
			}
			if _, err := in.f.Seek(p.start, io.SeekStart); err != nil {
				o.f.Close()
				return err
			}
			// Through io.LimitedReader, os.File.ReadFrom can use
			// copy_file_range.
			_, err = io.Copy(o.f, &io.LimitedReader{R: in.f, N: p.end - p.start})
			if cerr := o.f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return cliutil.Exit(1, fmt.Errorf("%s: %s", p.name, cliutil.Strerror(err)))
			}
		}
		return nil
	}
	// With a filter, up to -j pieces are fed at once, each from its own
	// range. As many commands more are started ahead, in order, so that
	// their start-up (a shell, the command) overlaps the others' work: when
	// the -j fed pieces end together, each next piece has its command
	// waiting.
	type started struct {
		i   int
		o   *output
		err error
	}
	ready := make(chan started, max(cfg.jobs-1, 0))
	quit := make(chan struct{})
	go func() {
		defer close(ready)
		for i, p := range pieces {
			o, err := outs.create(p.name, p.desc)
			select {
			case ready <- started{i, o, err}:
			case <-quit:
				if o != nil {
					o.f.Close()
					o.cmd.Wait()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     = make([]error, len(pieces))
		quitOnce sync.Once
	)
	work := func() {
		defer wg.Done()
		for st := range ready {
			p, o, err := pieces[st.i], st.o, st.err
			if err == nil {
				_, err = split.SendRange(o.f, in.f, p.start, p.end)
				if err != nil && isEPIPE(err) {
					err = nil
				}
				o.f.Close()
				if werr := outs.wait(o); err == nil {
					err = werr
				} else if err != nil {
					err = cliutil.Exit(1, fmt.Errorf("with FILE=%s: %s", p.name, cliutil.Strerror(err)))
				}
			}
			if err != nil {
				mu.Lock()
				errs[st.i] = err
				mu.Unlock()
				quitOnce.Do(func() { close(quit) })
				for st := range ready { // stop the others
					if st.o != nil {
						st.o.f.Close()
						st.o.cmd.Wait()
					}
				}
				return
			}
		}
	}
	jobs := min(cfg.jobs, len(pieces))
	wg.Add(jobs)
	for j := 0; j < jobs; j++ {
		go work()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// stream cuts -l, -b and -C from a stream of the input.
func stream(ctx context.Context, cfg *config, in *input, outs *outputs) error {
	var r io.Reader = in.stream
	if r == nil {
		r = in.f
	}
	buf := make([]byte, readSize)
	var cur *output
	var used int64 // records (-l) or bytes (-b, -C) in cur
	newOut := func() error {
		name, err := cfg.names.next()
		if err != nil {
			return cliutil.Exit(1, err)
		}
		cur, err = outs.create(name, "")
		used = 0
		return err
	}
	closeOut := func() error {
		if cur == nil {
			return nil
		}
		o := cur
		cur = nil
		return outs.finish(o)
	}
	write := func(p []byte) error {
		if cur == nil {
			if err := newOut(); err != nil {
				return err
			}
		}
		if _, err := cur.Write(p); err != nil {
			return cliutil.Exit(1, fmt.Errorf("%s: %s", cur.name, cliutil.Strerror(err)))
		}
		return nil
	}
	n := cfg.count
	// rotate makes sure cur has room: -l and -b pieces are full at n.
	rotate := func() error {
		if cur != nil && used == n {
			if err := closeOut(); err != nil {
				return err
			}
		}
		if cur == nil {
			return newOut()
		}
		return nil
	}
	var hold []byte // -C: the start of a record not yet known to fit
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, rerr := r.Read(buf)
		data := buf[:m]
		switch cfg.mode {
		case 'b':
			for len(data) > 0 {
				if err := rotate(); err != nil {
					return err
				}
				k := min(int64(len(data)), n-used)
				if err := write(data[:k]); err != nil {
					return err
				}
				used += k
				data = data[k:]
			}
		case 'l':
			for len(data) > 0 {
				if err := rotate(); err != nil {
					return err
				}
				// Up to the end of the n-used'th record in data.
				k := 0
				for used < n {
					i := bytes.IndexByte(data[k:], cfg.delim)
					if i < 0 {
						k = len(data)
						break
					}
					k += i + 1
					used++
				}
				if err := write(data[:k]); err != nil {
					return err
				}
				data = data[k:]
			}
		case 'C':
			var err error
			if hold, err = lineBytes(data, hold, rerr == io.EOF, n, cfg.delim, &cur, &used, write, closeOut); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return cliutil.Exit(2, fmt.Errorf("%s: read error: %s", in.name, cliutil.Strerror(rerr)))
		}
	}
	return closeOut()
}

// lineBytes cuts data for -C n: each piece holds as many whole records as
// fit in n bytes; a record longer than n bytes is broken into n-byte
// pieces when it starts a piece. hold is a record start kept from earlier
// data; what is kept now is returned.
func lineBytes(data, hold []byte, eof bool, n int64, delim byte, cur **output, used *int64, write func([]byte) error, closeOut func() error) ([]byte, error) {
	for len(data) > 0 || (eof && len(hold) > 0) {
		// The next record, or as much of it as there is.
		var rec []byte
		complete := false
		if i := bytes.IndexByte(data, delim); i >= 0 {
			rec, data, complete = data[:i+1], data[i+1:], true
		} else {
			rec, data = data, nil
			complete = eof
		}
		pend := rec
		if len(hold) > 0 {
			hold = append(hold, rec...)
			pend = hold
		}
		for {
			room := n - *used
			fits := int64(len(pend)) <= room
			if fits && complete && *used > 0 && int64(len(pend)) == room && pend[len(pend)-1] != delim {
				// GNU split ends a piece at its last record when the
				// input ends exactly at the piece's size.
				fits = false
			}
			if fits {
				if !complete {
					// Wait for the rest of the record, keeping it.
					if len(hold) == 0 || &pend[0] != &hold[0] {
						hold = append(hold[:0], pend...)
					}
					break
				}
				if len(pend) > 0 {
					if err := write(pend); err != nil {
						return hold, err
					}
					*used += int64(len(pend))
				}
				hold = hold[:0]
				break
			}
			if *cur != nil && *used > 0 {
				if err := closeOut(); err != nil {
					return hold, err
				}
				*used = 0
				continue
			}
			// A record longer than a piece: n bytes of it make one.
			if err := write(pend[:n]); err != nil {
				return hold, err
			}
			*used = n
			pend = pend[n:]
			if err := closeOut(); err != nil {
				return hold, err
			}
			*used = 0
			if len(pend) == 0 {
				hold = hold[:0]
				break
			}
		}
	}
	return hold, nil
}

// roundRobin cuts -n r/N and r/K/N: record i goes to piece i mod N.
func roundRobin(ctx context.Context, cfg *config, in *input, outs *outputs) error {
	var r io.Reader = in.stream
	if r == nil {
		r = in.f
	}
	n := int(cfg.chunks.n)
	k := int(cfg.chunks.k) - 1
	var single *bufio.Writer
	if k >= 0 {
		single = bufio.NewWriterSize(cfg.stdout, writeSize)
	}
	outsList := make([]*output, n)
	open := func(i int) error {
		name, err := cfg.names.next()
		if err != nil {
			return cliutil.Exit(1, err)
		}
		outsList[i], err = outs.create(name, "")
		return err
	}
	if k < 0 && !cfg.elide {
		for i := 0; i < n; i++ {
			if err := open(i); err != nil {
				return err
			}
		}
	}
	// With -e, pieces are opened as their first record comes; the
	// names stay consecutive, in order of first records, as GNU's.
	buf := make([]byte, readSize)
	i := 0
	var fail error
	emit := func(p []byte) error {
		if k >= 0 {
			if i == k {
				if _, err := single.Write(p); err != nil {
					return err
				}
			}
			return nil
		}
		if outsList[i] == nil {
			if err := open(i); err != nil {
				return err
			}
		}
		o := outsList[i]
		if _, err := o.Write(p); err != nil {
			return cliutil.Exit(1, fmt.Errorf("%s: %s", o.name, cliutil.Strerror(err)))
		}
		if cfg.unbuf {
			if err := o.w.Flush(); err != nil && !(o.cmd != nil && isEPIPE(err)) {
				return cliutil.Exit(1, fmt.Errorf("%s: %s", o.name, cliutil.Strerror(err)))
			}
		}
		return nil
	}
	for fail == nil {
		if err := ctx.Err(); err != nil {
			fail = err
			break
		}
		m, rerr := r.Read(buf)
		data := buf[:m]
		for len(data) > 0 && fail == nil {
			j := bytes.IndexByte(data, cfg.delim)
			if j < 0 {
				fail = emit(data)
				break
			}
			fail = emit(data[:j+1])
			data = data[j+1:]
			i++
			if i == n {
				i = 0
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && fail == nil {
			fail = cliutil.Exit(2, fmt.Errorf("%s: read error: %s", in.name, cliutil.Strerror(rerr)))
		}
	}
	if single != nil {
		if err := single.Flush(); err != nil && fail == nil {
			if isEPIPE(err) {
				return cliutil.Silent(1)
			}
			fail = err
		}
	}
	saved := outs.cfg.jobs
	outs.cfg.jobs = n // all are running already
	for _, o := range outsList {
		if o == nil {
			continue
		}
		if err := outs.finish(o); err != nil && fail == nil {
			fail = err
		}
	}
	outs.cfg.jobs = saved
	return fail
}
