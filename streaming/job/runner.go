package job

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// Runner runs task attempts. [Local] runs them in this process; a runner
// for remote hosts runs them elsewhere and must leave the same files.
// Two attempts of a task may run at once (speculative execution), in
// different directories; a runner for several hosts should run a task's
// second attempt on another host than the first's. An attempt whose
// context is cancelled must stop its commands.
type Runner interface {
	// RunMap runs one attempt of a map task. On success t.Dir holds the
	// map output: the shuffle's part files and manifest, or for a
	// map-only job the file t.Output. A runner that keeps the part files
	// where the task ran leaves the manifest in t.Dir, and what it needs
	// to find them.
	RunMap(ctx context.Context, t *MapTask) (*Result, error)
	// RunReduce runs one attempt of a reduce task, writing t.Output. It
	// returns a *LostMapsError when map outputs it needs are out of
	// reach.
	RunReduce(ctx context.Context, t *ReduceTask) (*Result, error)
}

// MapTask is one attempt of a map task.
type MapTask struct {
	Spec    *Spec       `json:"spec"`
	Index   int         `json:"index"`
	Attempt int         `json:"attempt"`
	Split   split.Split `json:"split"`
	// Dir is the attempt's directory; Output (map-only jobs) the output
	// file in it; Log the file the commands' stderr goes to.
	Dir    string `json:"dir"`
	Output string `json:"output,omitempty"`
	Log    string `json:"log"`
	// Read, when set, is advanced by the input bytes as they are read.
	Read *atomic.Int64 `json:"-"`
	// Input, when set, is what the commands are told about their input
	// (map_input_file, …, failure reports) instead of Split: a remote
	// worker maps a copy of the split's records.
	Input *streaming.InputInfo `json:"input,omitempty"`
}

// ReduceTask is one attempt of a reduce task.
type ReduceTask struct {
	Spec      *Spec `json:"spec"`
	Partition int   `json:"partition"`
	Attempt   int   `json:"attempt"`
	// Maps are the map output directories, in map order.
	Maps   []string `json:"maps"`
	Output string   `json:"output"`
	Log    string   `json:"log"`
}

// Result is what a successful attempt reports.
type Result struct {
	Counters *streaming.Counters
	// Bytes is the input the attempt read (bytes of its split, or of
	// shuffle data).
	Bytes int64
	// Host names where the attempt ran, for the job's report; "" means
	// this process.
	Host string
}

// HostError is the error of an attempt that ran on Host. Runners that
// run tasks elsewhere return it, so that the job's report says where a
// failed attempt ran; its message is Err's.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// LostMapsError is the error of a reduce attempt that cannot read the
// outputs of map tasks Maps (indexes in ReduceTask.Maps): they were kept
// on hosts that are lost, Hosts[k] holding Maps[k], or, with Bad, they
// do not match their manifests. The job runs those map tasks again, then
// the reduce task, and does not count the attempt as failed.
type LostMapsError struct {
	Maps  []int
	Hosts []string
	Bad   bool
}

func (e *LostMapsError) Error() string {
	if e.Bad {
		return fmt.Sprintf("the outputs of %d map tasks do not match their manifests (on %s)", len(e.Maps), strings.Join(uniq(e.Hosts), ", "))
	}
	return fmt.Sprintf("the outputs of %d map tasks were lost with their hosts (%s)", len(e.Maps), strings.Join(uniq(e.Hosts), ", "))
}

// uniq returns s without repeated strings, in order.
func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Local runs tasks in this process, with the commands as its children.
type Local struct{}

var _ Runner = Local{}

// command returns a streaming.Command for the task's role.
func command(sp *Spec, role streaming.Role, cmd string, task streaming.Task, log io.Writer, cs *streaming.Counters) *streaming.Command {
	task.JobID = sp.JobID
	task.Conf = sp.Conf
	task.CmdEnv = sp.CmdEnv
	c := &streaming.Command{
		Role:             role,
		Cmd:              cmd,
		Task:             task,
		Term:             sp.Proto.Terminator(),
		Stderr:           log,
		Warn:             log,
		Name:             "mrrun",
		ReporterPrefix:   sp.ReporterPrefix,
		Counters:         cs,
		IgnoreExitStatus: sp.IgnoreExitStatus,
	}
	if sp.WorkDir != "" {
		c.Cmd = "cd " + streaming.ShellQuote(sp.WorkDir) + " || exit 1\n" + cmd
		c.Task.CmdEnv = append(append([]streaming.KV(nil), sp.CmdEnv...),
			streaming.KV{Key: "PATH", Value: sp.WorkDir + ":" + os.Getenv("PATH")})
	}
	return c
}

// userCmd restores the user's command in a failure report.
func userCmd(err error, cmd string) error {
	var ce *streaming.CommandError
	if errors.As(err, &ce) {
		ce.Cmd = cmd
	}
	return err
}

// mapInput is a split's reader that counts what it reads for progress
// and lets the mapper read the file directly when it can
// (streaming.DirectInput).
type mapInput struct {
	*split.Reader
	path string
	term byte
	read *atomic.Int64
}

func (m *mapInput) Read(p []byte) (int, error) {
	n, err := m.Reader.Read(p)
	if m.read != nil && n > 0 {
		m.read.Add(int64(n))
	}
	return n, err
}

// DirectRange implements streaming.DirectInput: the split's records may be
// read straight from an uncompressed file when they end in a terminator.
func (m *mapInput) DirectRange() (string, int64, int64, bool) {
	if m.Codec() != split.None {
		return "", 0, 0, false
	}
	start, end := m.Range()
	fi, err := os.Stat(m.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < end {
		return "", 0, 0, false
	}
	if end > start {
		f, err := os.Open(m.path)
		if err != nil {
			return "", 0, 0, false
		}
		defer f.Close()
		var last [1]byte
		if _, err := f.ReadAt(last[:], end-1); err != nil || last[0] != m.term {
			return "", 0, 0, false
		}
	}
	return m.path, start, end, true
}

// lazyFile creates its file on the first write (or at Close unless lazy).
type lazyFile struct {
	path string
	lazy bool
	f    *os.File
	w    *bufio.Writer
	n    int64
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil {
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	l.n += int64(len(p))
	return l.w.Write(p)
}

func (l *lazyFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 256<<10)
	return nil
}

func (l *lazyFile) Close() error {
	if l.f == nil {
		if l.lazy {
			return nil
		}
		if err := l.open(); err != nil {
			return err
		}
	}
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l *lazyFile) abort() {
	if l.f != nil {
		l.f.Close()
	}
}

// openLog returns an attempt's stderr log, which is opened for appending
// when first written to: most commands write nothing on stderr, and a file
// created and removed for each task costs the file system more than the
// task's own work when there are many small ones. Without a path the log
// is nil (the command's stderr lines go nowhere but the report) and
// closing is a no-op.
func openLog(path string) (log io.Writer, closeLog func(), err error) {
	if path == "" {
		return nil, func() {}, nil
	}
	l := &appendLog{path: path}
	return l, l.close, nil
}

// appendLog is a file opened for appending on the first write. The
// commands of an attempt (mapper, combiner) may write at once.
type appendLog struct {
	path   string
	mu     sync.Mutex
	f      *os.File
	closed bool
}

func (l *appendLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *appendLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// RunMap runs a map task attempt in this process.
func (Local) RunMap(ctx context.Context, t *MapTask) (*Result, error) {
	sp := t.Spec
	cs := streaming.NewCounters()
	term := sp.Proto.Terminator()
	r, err := split.OpenDelim(t.Split, term)
	if err != nil {
		return nil, &streaming.InputError{Err: fmt.Errorf("cannot read: %w", err)}
	}
	defer r.Close()
	in := &mapInput{Reader: r, path: t.Split.Path, term: term, read: t.Read}
	log, closeLog, err := openLog(t.Log)
	if err != nil {
		return nil, err
	}
	defer closeLog()
	info := streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
	if t.Input != nil {
		info = *t.Input
	}
	task := streaming.Task{IsMap: true, Partition: t.Index, Attempt: t.Attempt, Input: info}

	var write func([]byte) error
	var finish func() error
	var abort func()
	if sp.Reduces == 0 {
		out := &lazyFile{path: t.Output, lazy: sp.LazyOutput}
		write = func(b []byte) error { _, err := out.Write(b); return err }
		finish = func() error {
			if err := out.Close(); err != nil {
				return err
			}
			cs.Add(streaming.GroupOutput, streaming.BytesWritten, out.n)
			return nil
		}
		abort = out.abort
	} else {
		opts, builtin, err := shuffleOptions(sp, task, log, cs)
		if err != nil {
			return nil, err
		}
		w, err := shuffle.Create(ctx, t.Dir, opts)
		if err != nil {
			return nil, err
		}
		write = func(b []byte) error { _, err := w.Write(b); return err }
		var pre *streaming.PreCombiner
		if builtin != nil {
			pre = streaming.NewPreCombiner(builtin, sp.PreCombineMemory, write)
			write = pre.Write
		}
		finish = func() error {
			if pre != nil {
				if !pre.Flushed() {
					w.SkipCombine()
				}
				err := pre.Flush()
				pre.Release()
				cs.Add(streaming.GroupFramework, streaming.CombineInputRecords, pre.In)
				cs.Add(streaming.GroupFramework, streaming.CombineOutputRecords, pre.Out)
				if err != nil {
					w.Abort()
					return err
				}
			}
			m, err := w.Close()
			if err != nil {
				return err
			}
			cs.Add(streaming.GroupFramework, streaming.SpilledRecords, m.Stats.OutputRecords)
			cs.Add(streaming.GroupFramework, "Map output materialized bytes", m.Stats.FileBytes)
			return nil
		}
		abort = w.Abort
	}

	if sp.Mapper == "" {
		err = identityMap(ctx, in, term, write, cs)
	} else {
		mc := command(sp, streaming.Mapper, sp.Mapper, task, log, cs)
		err = userCmd(streaming.RunMapper(ctx, mc, in, write), sp.Mapper)
	}
	if err == nil {
		err = finish()
	} else {
		abort()
	}
	if err != nil {
		return nil, err
	}
	return &Result{Counters: cs, Bytes: r.Bytes()}, nil
}

// identityMap passes the split's records through.
func identityMap(ctx context.Context, in io.Reader, term byte, write func([]byte) error, cs *streaming.Counters) error {
	cr := streaming.NewChunkReader(in, term)
	var recs, n int64
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		chunk, err := cr.Next()
		if len(chunk) > 0 {
			recs += countTerm(chunk, term)
			n += int64(len(chunk))
			if werr := write(chunk); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return &streaming.InputError{Err: err}
		}
	}
	cs.Add(streaming.GroupFramework, streaming.MapInputRecords, recs)
	cs.Add(streaming.GroupFramework, streaming.MapOutputRecords, recs)
	cs.Add(streaming.GroupFramework, streaming.MapOutputBytes, n)
	cs.Add(streaming.GroupInput, streaming.BytesRead, n)
	return nil
}

func countTerm(b []byte, term byte) int64 {
	return int64(bytes.Count(b, []byte{term}))
}

// shuffleOptions returns the map side's shuffle options, as mrmap -R sets
// them, and the built-in combiner if the combiner is one.
func shuffleOptions(sp *Spec, task streaming.Task, log io.Writer, cs *streaming.Counters) (shuffle.Options, *streaming.Builtin, error) {
	o := shuffle.Options{
		Partitions: sp.Reduces,
		Key:        sp.Proto.Key,
		Sort:       true,
		Comparator: sp.Comparator,
		Memory:     sp.SortMemory,
		Parallel:   sp.SortParallel,
	}
	if sp.KeyPartitioner != "" {
		p, err := shuffle.NewKeyFieldPartitioner(sp.Reduces, sp.KeyPartitioner, sp.KeyFieldSep[0])
		if err != nil {
			return o, nil, err
		}
		o.Partitioner = p
	}
	var builtin *streaming.Builtin
	switch {
	case sp.Combiner == "":
	case streaming.IsBuiltin(sp.Combiner):
		b, err := streaming.NewBuiltin(sp.Combiner, sp.Proto, streaming.BuiltinOptions{}, true)
		if err != nil {
			return o, nil, err
		}
		o.Combine = streaming.BuiltinCombiner(b, cs)
		builtin = b
	default:
		o.Combine = userCombiner(command(sp, streaming.Combiner, sp.Combiner, task, log, cs), sp.Combiner, sp.Proto)
	}
	return o, builtin, nil
}

func userCombiner(c *streaming.Command, cmd string, proto streaming.Protocol) shuffle.CombineFunc {
	f := streaming.CommandCombiner(c, proto)
	return func(ctx context.Context, p int, sorted io.Reader, out io.Writer) error {
		return userCmd(f(ctx, p, sorted, out), cmd)
	}
}

// RunReduce runs a reduce task attempt in this process.
func (Local) RunReduce(ctx context.Context, t *ReduceTask) (*Result, error) {
	sp := t.Spec
	cs := streaming.NewCounters()
	log, closeLog, err := openLog(t.Log)
	if err != nil {
		return nil, err
	}
	defer closeLog()
	parts := make([]*shuffle.Part, 0, len(t.Maps))
	var shuffled int64
	for _, d := range t.Maps {
		pt, err := shuffle.FindPart(d, t.Partition)
		if err != nil {
			return nil, err
		}
		if pt.Info != nil {
			shuffled += pt.Info.FileBytes
		}
		parts = append(parts, pt)
	}
	cs.Add(streaming.GroupFramework, "Reduce shuffle bytes", shuffled)
	cs.Add(streaming.GroupFramework, "Shuffled Maps", int64(len(parts)))

	out := &lazyFile{path: t.Output, lazy: sp.LazyOutput}
	write := func(b []byte) error { _, err := out.Write(b); return err }

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pr, pw := io.Pipe()
	mergeDone := make(chan error, 1)
	var mst shuffle.MergeStats
	go func() {
		var err error
		// Runs of a merge in batches go beside the output, in the
		// attempt's directory, removed with it.
		mst, err = shuffle.Merge(ctx, parts, pw, shuffle.MergeOptions{Memory: sp.SortMemory, TempDirs: []string{filepath.Dir(t.Output)}})
		pw.CloseWithError(err)
		mergeDone <- err
	}()

	task := streaming.Task{Partition: t.Partition, Attempt: t.Attempt,
		Input: streaming.InputInfo{Name: fmt.Sprintf("partition %d of %d map outputs", t.Partition, len(t.Maps))}}
	switch {
	case sp.Reducer == "":
		err = identityReduce(pr, write, sp.ReduceProto, cs)
	case streaming.IsBuiltin(sp.Reducer):
		var b *streaming.Builtin
		b, err = streaming.NewBuiltin(sp.Reducer, sp.ReduceProto, streaming.BuiltinOptions{MaxUniqueValues: sp.MaxUniqueValues}, false)
		if err == nil {
			b.Input = task.Input
			err = streaming.RunBuiltin(ctx, b, pr, write, cs)
		}
	default:
		rc := command(sp, streaming.Reducer, sp.Reducer, task, log, cs)
		err = userCmd(streaming.RunReducer(ctx, rc, sp.ReduceProto, pr, write), sp.Reducer)
	}
	// Stop the merge if the reducer stopped first, and wait for it.
	pr.CloseWithError(errReduceDone)
	if err != nil {
		cancel(err)
	}
	merr := <-mergeDone
	if err == nil && merr != nil && !errors.Is(merr, errReduceDone) {
		err = merr
	}
	if err == nil {
		err = out.Close()
	} else {
		out.abort()
	}
	if err != nil {
		return nil, err
	}
	cs.Add(streaming.GroupFramework, "Merged Map outputs", int64(mst.Parts))
	return &Result{Counters: cs, Bytes: shuffled}, nil
}

var errReduceDone = errors.New("reducer finished")

// identityReduce copies the merged records and counts them as a reducer.
func identityReduce(in io.Reader, write func([]byte) error, proto streaming.Protocol, cs *streaming.Counters) error {
	cr := streaming.NewChunkReader(in, proto.Terminator())
	var recs, n int64
	for {
		chunk, err := cr.Next()
		if len(chunk) > 0 {
			recs += countTerm(chunk, proto.Terminator())
			n += int64(len(chunk))
			if werr := write(chunk); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	cs.Add(streaming.GroupFramework, streaming.ReduceInputRecords, recs)
	cs.Add(streaming.GroupFramework, streaming.ReduceOutputRecords, recs)
	cs.Add(streaming.GroupOutput, streaming.BytesWritten, n)
	return nil
}

// attemptName is Hadoop's attempt id without the "attempt_" prefix.
func attemptName(jobID string, isMap bool, task, attempt int) string {
	t := streaming.Task{JobID: jobID, IsMap: isMap, Partition: task, Attempt: attempt}
	_, a := t.IDs()
	return a
}
