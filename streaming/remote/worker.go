package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
)

// WorkerOptions configure a worker.
type WorkerOptions struct {
	// Scratch is the directory the worker makes its own scratch
	// directory in; "" means the system's temporary directory.
	Scratch string
	// Heartbeat is the time between heartbeats; 0 means a second.
	Heartbeat time.Duration
}

// WorkerMain runs `mrrun worker [--scratch DIR]`: a worker serving the
// driver on stdin and stdout until stdin ends (the ssh session is over)
// or a signal comes. It returns the exit status.
func WorkerMain(args []string) int {
	var o WorkerOptions
	for len(args) > 0 {
		switch {
		case args[0] == "--scratch" && len(args) > 1:
			o.Scratch, args = args[1], args[2:]
		default:
			fmt.Fprintf(os.Stderr, "mrrun worker: unknown argument %q (the worker is started by mrrun -hosts)\n", args[0])
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// Only the protocol goes to stdout: anything else printed goes to
	// stderr, which the driver reports.
	proto := os.Stdout
	os.Stdout = os.Stderr
	if err := Serve(ctx, os.Stdin, proto, o); err != nil {
		fmt.Fprintf(os.Stderr, "mrrun worker: %v\n", err)
		return 1
	}
	return 0
}

// Serve runs a worker: it makes a scratch directory (mode 0700), says
// hello, sends heartbeats and runs the tasks the driver sends on in,
// answering on out. It returns when in ends or ctx is done, after
// stopping its tasks and removing its scratch directory.
func Serve(ctx context.Context, in io.Reader, out io.Writer, o WorkerOptions) error {
	base := o.Scratch
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(base, "mrpipe-worker-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	beat := o.Heartbeat
	if beat <= 0 {
		beat = time.Second
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &worker{scratch: scratch, wire: newWire(out), reqs: map[uint32]*wreq{}, work: map[string]string{}}
	defer w.wg.Wait()
	defer cancel(errors.New("worker stopping"))
	if err := w.wire.sendJSON(msgHello, 0, helloMsg{Version: protoVersion, PID: os.Getpid(), SID: getsid(), CPUs: runtime.NumCPU(), Scratch: scratch}); err != nil {
		return err
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.wire.send(msgBeat, 0, nil); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	frames := make(chan frame)
	readErr := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(in, 1<<20)
		var buf []byte
		for {
			fr, err := readFrame(r, &buf)
			if err != nil {
				readErr <- err
				return
			}
			fr.data = append([]byte(nil), fr.data...)
			select {
			case frames <- fr:
			case <-ctx.Done():
				readErr <- context.Cause(ctx)
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if err == io.EOF {
				return nil // the driver is done
			}
			return err
		case fr := <-frames:
			if err := w.handle(ctx, fr); err != nil {
				return err
			}
		}
	}
}

type worker struct {
	scratch string
	wire    *wire
	wg      sync.WaitGroup

	mu   sync.Mutex
	reqs map[uint32]*wreq
	work map[string]string // work directory key → local directory
}

// wreq is a request being received or run.
type wreq struct {
	typ    byte
	dir    string
	sink   *sink
	task   json.RawMessage
	key    string
	cancel context.CancelCauseFunc
	// cancelled says the driver cancelled the request before it started.
	cancelled bool
}

func (w *worker) handle(ctx context.Context, fr frame) error {
	w.mu.Lock()
	r := w.reqs[fr.id]
	w.mu.Unlock()
	switch fr.typ {
	case msgWork, msgMap, msgReduce:
		if r != nil {
			return fmt.Errorf("protocol error: request %d twice", fr.id)
		}
		dir := filepath.Join(w.scratch, "t"+strconv.FormatUint(uint64(fr.id), 10))
		r = &wreq{typ: fr.typ, dir: dir, task: append(json.RawMessage(nil), fr.data...)}
		in := filepath.Join(dir, "in")
		if fr.typ == msgWork {
			var m workMsg
			if err := json.Unmarshal(fr.data, &m); err != nil {
				return err
			}
			r.key = m.Key
			in = filepath.Join(w.scratch, "work"+strconv.FormatUint(uint64(fr.id), 10))
			r.dir = in
		}
		if err := os.MkdirAll(in, 0o700); err != nil {
			return err
		}
		r.sink = &sink{dir: in}
		w.mu.Lock()
		w.reqs[fr.id] = r
		w.mu.Unlock()
	case msgFile, msgData, msgEnd:
		if r != nil && r.sink != nil {
			r.sink.frame(fr)
		}
	case msgStart:
		if r == nil || r.sink == nil {
			return fmt.Errorf("protocol error: start of unknown request %d", fr.id)
		}
		err := r.sink.close()
		r.sink = nil
		if r.typ == msgWork {
			w.mu.Lock()
			delete(w.reqs, fr.id)
			if err == nil {
				w.work[r.key] = r.dir
			}
			w.mu.Unlock()
			return w.result(fr.id, nil, 0, err)
		}
		tctx, cancel := context.WithCancelCause(ctx)
		r.cancel = cancel
		if r.cancelled {
			cancel(errors.New("cancelled by the driver"))
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer cancel(nil)
			w.run(tctx, fr.id, r, err)
		}()
	case msgCancel:
		if r != nil && r.cancel != nil {
			r.cancel(errors.New("cancelled by the driver"))
		} else if r != nil {
			r.cancelled = true
		}
	default:
		return fmt.Errorf("protocol error: frame type %q", fr.typ)
	}
	return nil
}

func (w *worker) result(id uint32, res *job.Result, n int64, err error) error {
	m := resultMsg{Bytes: n}
	if res != nil {
		var b bytes.Buffer
		if res.Counters != nil {
			if err := res.Counters.WriteJSON(&b); err != nil {
				return err
			}
			m.Counters = b.Bytes()
		}
		m.Bytes = res.Bytes
	}
	if err != nil {
		m.Err = err.Error()
		if m.Err == "" {
			m.Err = "failed"
		}
	}
	return w.wire.sendJSON(msgResult, id, m)
}

// run runs a received task and sends its output files, log and result.
func (w *worker) run(ctx context.Context, id uint32, r *wreq, recvErr error) {
	defer func() {
		w.mu.Lock()
		delete(w.reqs, id)
		w.mu.Unlock()
		os.RemoveAll(r.dir)
	}()
	in, out, logPath := filepath.Join(r.dir, "in"), filepath.Join(r.dir, "out"), filepath.Join(r.dir, "log")
	res, err := w.runTask(ctx, r, in, out, logPath, recvErr)
	if err == nil {
		err = w.sendDir(id, out)
	}
	w.sendLog(id, logPath)
	w.result(id, res, 0, err)
}

func (w *worker) runTask(ctx context.Context, r *wreq, in, out, logPath string, recvErr error) (*job.Result, error) {
	if recvErr != nil {
		return nil, fmt.Errorf("receiving the task's input: %w", recvErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	switch r.typ {
	case msgMap:
		var t job.MapTask
		if err := json.Unmarshal(r.task, &t); err != nil {
			return nil, err
		}
		if err := w.localSpec(t.Spec, r.dir); err != nil {
			return nil, err
		}
		input := filepath.Join(in, "input")
		fi, err := os.Stat(input)
		if err != nil {
			return nil, err
		}
		if t.Input == nil {
			t.Input = &streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
		}
		t.Split = split.Split{Path: input, Length: fi.Size()}
		t.Dir = out
		if t.Output != "" {
			t.Output = filepath.Join(out, filepath.Base(t.Output))
		}
		t.Log = logPath
		return job.Local{}.RunMap(ctx, &t)
	case msgReduce:
		var t job.ReduceTask
		if err := json.Unmarshal(r.task, &t); err != nil {
			return nil, err
		}
		if err := w.localSpec(t.Spec, r.dir); err != nil {
			return nil, err
		}
		for i := range t.Maps {
			t.Maps[i] = filepath.Join(in, "m"+strconv.Itoa(i))
		}
		t.Output = filepath.Join(out, filepath.Base(t.Output))
		t.Log = logPath
		return job.Local{}.RunReduce(ctx, &t)
	}
	return nil, fmt.Errorf("protocol error: request type %q", r.typ)
}

// localSpec gives the task a working directory of its own in its
// request directory, holding (links to) the job's shipped files, as
// Hadoop does; it goes when the task is over.
func (w *worker) localSpec(sp *job.Spec, reqDir string) error {
	if sp == nil {
		return errors.New("protocol error: task without a spec")
	}
	work := filepath.Join(reqDir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	if sp.WorkDir != "" {
		w.mu.Lock()
		dir, ok := w.work[sp.WorkDir]
		w.mu.Unlock()
		if !ok {
			return fmt.Errorf("protocol error: work directory %s was not sent", sp.WorkDir)
		}
		es, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(work, e.Name())); err != nil {
				return err
			}
		}
	}
	sp.WorkDir = work
	return nil
}

// sendDir sends the regular files of dir, in name order.
func (w *worker) sendDir(id uint32, dir string) error {
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		if err := w.wire.sendFile(id, e.Name(), filepath.Join(dir, e.Name()), nil); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) sendLog(id uint32, path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, chunkSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if w.wire.send(msgLog, id, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// getsid returns the worker's session id, or 0.
func getsid() int {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(sid)
}
