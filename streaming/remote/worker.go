package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
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
	// Log gets the direct shuffle listener's refusals and errors; nil
	// means they are dropped.
	Log io.Writer
}

// WorkerMain runs `mrrun worker [--scratch DIR]`: a worker serving the
// driver on stdin and stdout until stdin ends (the ssh session is over)
// or a signal comes. It returns the exit status.
func WorkerMain(args []string) int {
	o := WorkerOptions{Log: os.Stderr}
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
	growPipe(os.Stdin)
	growPipe(proto)
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
func Serve(ctx context.Context, in io.Reader, out io.Writer, o WorkerOptions) (err error) {
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
	defer func() {
		if rerr := os.RemoveAll(scratch); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove scratch directory: %w", rerr))
		}
	}()
	beat := o.Heartbeat
	if beat <= 0 {
		beat = time.Second
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	w := &worker{scratch: scratch, wire: newWire(out), log: logw, reqs: map[uint32]*wreq{}, work: map[string]string{}, maps: map[string]string{}}
	defer func() {
		if w.fetcher != nil {
			w.fetcher.Close()
		}
	}()
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
	// Frames are read into two buffers in turn: one is read into while
	// the other's frame is handled.
	frames := make(chan frame)
	free := make(chan []byte, 2)
	free <- nil
	free <- nil
	readErr := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(in, 1<<20)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				readErr <- context.Cause(ctx)
				return
			}
			fr, err := readFrame(r, &buf)
			if err != nil {
				readErr <- err
				return
			}
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
			err := w.handle(ctx, fr)
			free <- fr.data[:0]
			if err != nil {
				return err
			}
		}
	}
}

type worker struct {
	scratch string
	wire    *wire
	log     io.Writer
	wg      sync.WaitGroup

	mu    sync.Mutex
	reqs  map[uint32]*wreq
	work  map[string]string // work directory key → local directory
	maps  map[string]string // map output key → directory
	nmaps int               // map outputs kept so far
	// fetcher fetches from the other workers' direct shuffle listeners;
	// nil until the driver starts the direct shuffle.
	fetcher *Fetcher
	direct  resultMsg // the answer to the direct shuffle's start
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
	case msgFetch, msgDirect:
		if r != nil {
			return fmt.Errorf("protocol error: request %d twice", fr.id)
		}
		w.mu.Lock()
		w.reqs[fr.id] = &wreq{typ: fr.typ, task: append(json.RawMessage(nil), fr.data...)}
		w.mu.Unlock()
	case msgWork, msgMap, msgReduce, msgExpand, msgRead:
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
	case msgFile, msgData, msgDataZ, msgEnd:
		if r != nil && r.sink != nil {
			r.sink.frame(fr)
		}
	case msgStart:
		if r == nil || (r.sink == nil && r.typ != msgFetch && r.typ != msgDirect) {
			return fmt.Errorf("protocol error: start of unknown request %d", fr.id)
		}
		var err error
		if r.sink != nil {
			err = r.sink.close()
			r.sink = nil
		}
		if r.typ == msgDirect {
			w.mu.Lock()
			delete(w.reqs, fr.id)
			w.mu.Unlock()
			m := resultMsg{Err: "cancelled by the driver"}
			if !r.cancelled {
				m = w.startDirect(ctx, r.task)
			}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.wire.sendJSON(msgResult, fr.id, m)
			}()
			return nil
		}
		if r.typ == msgWork {
			w.mu.Lock()
			delete(w.reqs, fr.id)
			if err == nil && !r.cancelled {
				w.work[r.key] = r.dir
			}
			w.mu.Unlock()
			// Answered aside: this loop never waits for the driver to
			// read, which may be busy relaying to this worker.
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.result(fr.id, nil, "", err)
			}()
			return nil
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
			if r.typ == msgFetch {
				w.fetch(tctx, fr.id, r)
				return
			}
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

func (w *worker) result(id uint32, res *job.Result, key string, err error) error {
	m := resultMsg{Key: key}
	var lost *lostError
	if errors.As(err, &lost) {
		m.Lost, m.LostBad = lost.Maps, lost.Bad
	}
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
	res, keep, err := w.runTask(ctx, r, in, out, logPath, recvErr)
	key := ""
	switch {
	case err != nil:
	case keep:
		// A map output stays here; the driver gets its manifest.
		w.mu.Lock()
		key = MapOutputName(w.nmaps)
		w.nmaps++
		w.mu.Unlock()
		err = w.keep(key, out)
		if err == nil {
			err = w.wire.sendFile(id, shuffle.ManifestName, filepath.Join(w.mapDir(key), shuffle.ManifestName), nil)
		}
		if err != nil {
			w.drop(key)
			key = ""
		}
	default:
		err = w.sendDir(id, out)
	}
	w.sendLog(id, logPath)
	w.result(id, res, key, err)
}

// mapDir returns the directory of map output key: the direct shuffle
// listener serves map output n as MapOutputName(n) below
// scratch/maps, which is the key the worker gives it.
func (w *worker) mapDir(key string) string { return filepath.Join(w.scratch, "maps", key) }

// startDirect starts the direct shuffle as m (a directMsg) asks: a
// listener on all interfaces serving the map outputs the worker keeps
// until ctx is done, and a Fetcher for the reduce tasks. It answers with
// the listener's address.
func (w *worker) startDirect(ctx context.Context, task json.RawMessage) resultMsg {
	var m directMsg
	if err := json.Unmarshal(task, &m); err != nil {
		return resultMsg{Err: "protocol error: " + err.Error()}
	}
	token, err := ParseToken(m.Token)
	if err != nil {
		return resultMsg{Err: err.Error()}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fetcher != nil {
		return w.direct
	}
	root := filepath.Join(w.scratch, "maps")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return resultMsg{Err: err.Error()}
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return resultMsg{Err: fmt.Sprintf("direct shuffle: %v", err)}
	}
	port := ln.Addr().(*net.TCPAddr).Port
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := ServeMapOutputs(ctx, ln, root, token, w.log); err != nil {
			fmt.Fprintf(w.log, "mrrun worker: %v\n", err)
		}
	}()
	w.fetcher = NewFetcher(token)
	w.direct = resultMsg{Addr: AdvertiseAddr(os.Getenv, port), Port: port}
	return w.direct
}

// directFetches is how many partitions a reduce task fetches at once.
const directFetches = 4

// badMap returns the index in maps of the map directory holding the
// partition err says does not match its manifest, or -1.
func badMap(err error, maps []string) int {
	var ve *shuffle.VerifyError
	if !errors.As(err, &ve) {
		return -1
	}
	dir := filepath.Dir(ve.File)
	for i, m := range maps {
		if dir == m || dir == filepath.Clean(m) {
			return i
		}
	}
	return -1
}

// lostError is a reduce task's failure to fetch the partitions of Maps
// (indexes in the task's maps) from the hosts that keep them: the hosts
// could not be reached, or the partitions were bad.
type lostError struct {
	Maps []int
	Bad  bool  // the partitions were read, and do not match their manifests
	Err  error // the first fetch's error
}

func (e *lostError) Error() string {
	return fmt.Sprintf("map outputs %v lost: %v", e.Maps, e.Err)
}

func (e *lostError) Unwrap() error { return e.Err }

// fetchDirect fetches the reduce task's partitions parts straight from
// the hosts that keep them into the task's map directories, a few at a
// time. Parts it could not fetch, or that were bad, make a *lostError.
func (w *worker) fetchDirect(ctx context.Context, t *job.ReduceTask, parts []directPart) error {
	w.mu.Lock()
	f := w.fetcher
	w.mu.Unlock()
	if f == nil {
		return errors.New("protocol error: direct shuffle not started")
	}
	for _, dp := range parts {
		if dp.Map < 0 || dp.Map >= len(t.Maps) {
			return fmt.Errorf("protocol error: map %d of %d", dp.Map, len(t.Maps))
		}
	}
	var (
		mu   sync.Mutex
		lost lostError
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, directFetches)
	for _, dp := range parts {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := f.Fetch(ctx, dp.Addr, dp.Output, t.Partition, t.Maps[dp.Map]); err != nil {
				mu.Lock()
				lost.Maps = append(lost.Maps, dp.Map)
				if lost.Err == nil {
					lost.Err = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if len(lost.Maps) > 0 {
		sort.Ints(lost.Maps)
		return &lost
	}
	return nil
}

// keep moves a map output into the worker's map outputs, as key.
func (w *worker) keep(key, dir string) error {
	if err := os.MkdirAll(filepath.Join(w.scratch, "maps"), 0o700); err != nil {
		return err
	}
	if err := os.Rename(dir, w.mapDir(key)); err != nil {
		return err
	}
	w.mu.Lock()
	w.maps[key] = w.mapDir(key)
	w.mu.Unlock()
	return nil
}

func (w *worker) drop(key string) {
	w.mu.Lock()
	delete(w.maps, key)
	w.mu.Unlock()
	os.RemoveAll(w.mapDir(key))
}

// mapFile returns the path of file of map output key, which must be a
// plain file name.
func (w *worker) mapFile(key, file string) (string, error) {
	w.mu.Lock()
	dir, ok := w.maps[key]
	w.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no map output %q here", key)
	}
	if file == "" || file != filepath.Base(file) || !filepath.IsLocal(file) {
		return "", fmt.Errorf("protocol error: file name %q", file)
	}
	return filepath.Join(dir, file), nil
}

// fetch sends a file of a map output the worker keeps.
func (w *worker) fetch(ctx context.Context, id uint32, r *wreq) {
	defer func() {
		w.mu.Lock()
		delete(w.reqs, id)
		w.mu.Unlock()
	}()
	err := ctx.Err()
	var m fetchMsg
	if err == nil {
		err = json.Unmarshal(r.task, &m)
	}
	var path string
	if err == nil {
		path, err = w.mapFile(m.Key, m.File)
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	if err == nil {
		err = w.wire.sendReader(id, m.File, 0o600, ctxReader{ctx, f}, nil)
		f.Close()
	}
	w.result(id, nil, "", err)
}

// runTask runs a received task. keep says its output is a map output to
// keep here.
func (w *worker) runTask(ctx context.Context, r *wreq, in, out, logPath string, recvErr error) (res *job.Result, keep bool, err error) {
	if recvErr != nil {
		return nil, false, fmt.Errorf("receiving the task's input: %w", recvErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, context.Cause(ctx)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, false, err
	}
	switch r.typ {
	case msgMap:
		var m mapMsg
		if err := json.Unmarshal(r.task, &m); err != nil {
			return nil, false, err
		}
		t := &m.MapTask
		if err := w.localSpec(t.Spec, r.dir); err != nil {
			return nil, false, err
		}
		if t.Input == nil {
			t.Input = &streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
		}
		if !m.SharedInput {
			input := filepath.Join(in, "input")
			fi, err := os.Stat(input)
			if err != nil {
				return nil, false, err
			}
			t.Split = split.Split{Path: input, Length: fi.Size()}
		}
		t.Dir = out
		if t.Output != "" {
			t.Output = filepath.Join(out, filepath.Base(t.Output))
		}
		t.Log = logPath
		res, err := job.Local{}.RunMap(ctx, t)
		return res, err == nil && t.Spec.Reduces > 0, err
	case msgReduce:
		m := reduceMsg{ReduceTask: new(job.ReduceTask)}
		if err := json.Unmarshal(r.task, &m); err != nil {
			return nil, false, err
		}
		t := m.ReduceTask
		if err := w.localSpec(t.Spec, r.dir); err != nil {
			return nil, false, err
		}
		for i := range t.Maps {
			t.Maps[i] = filepath.Join(in, "m"+strconv.Itoa(i))
		}
		// Partitions kept here are read where they are, beside the
		// manifest the driver sent.
		for _, lp := range m.Local {
			if lp.Map < 0 || lp.Map >= len(t.Maps) {
				return nil, false, fmt.Errorf("protocol error: map %d of %d", lp.Map, len(t.Maps))
			}
			src, err := w.mapFile(lp.Key, lp.File)
			if err != nil {
				return nil, false, err
			}
			if err := os.MkdirAll(t.Maps[lp.Map], 0o700); err != nil {
				return nil, false, err
			}
			if err := os.Symlink(src, filepath.Join(t.Maps[lp.Map], lp.File)); err != nil {
				return nil, false, err
			}
		}
		// The others' partitions come straight from their hosts.
		if len(m.Direct) > 0 {
			if err := w.fetchDirect(ctx, t, m.Direct); err != nil {
				return nil, false, err
			}
		}
		t.Output = filepath.Join(out, filepath.Base(t.Output))
		t.Log = logPath
		res, err := job.Local{}.RunReduce(ctx, t)
		if i := badMap(err, t.Maps); i >= 0 {
			// A partition that does not match its manifest (relayed, or
			// kept here) is a map output lost: the map task runs again,
			// rather than this reduce task until it fails for good.
			err = &lostError{Maps: []int{i}, Bad: true, Err: err}
		}
		return res, false, err
	case msgExpand:
		res, err := expandTask(r.task, out)
		return res, false, err
	case msgRead:
		res, err := readTask(ctx, r.task, out)
		return res, false, err
	}
	return nil, false, fmt.Errorf("protocol error: request type %q", r.typ)
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
