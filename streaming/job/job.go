package job

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// Names in the output directory.
const (
	TempDir     = "_temporary"
	SuccessName = "_SUCCESS"
	JobName     = "_job.json"
	LogsDir     = "_logs"
	journalName = "journal"
	lockName    = "lock"
)

// Job counters (Hadoop's "Job Counters" group, plus ours).
const (
	GroupJob           = "Job Counters"
	LaunchedMapTasks   = "Launched map tasks"
	LaunchedReduceTask = "Launched reduce tasks"
	FailedMapTasks     = "Failed map tasks"
	FailedReduceTasks  = "Failed reduce tasks"
	KilledMapTasks     = "Killed map tasks"
	KilledReduceTasks  = "Killed reduce tasks"
	ReusedMapTasks     = "Reused map tasks"
)

// TaskError is a task that failed on every attempt.
type TaskError struct {
	Task     string // task id
	Attempt  string // the last attempt's id
	Attempts int
	Err      error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task %s failed %d times; last attempt %s: %v", e.Task, e.Attempts, e.Attempt, e.Err)
}
func (e *TaskError) Unwrap() error { return e.Err }

// Report is what _job.json holds.
type Report struct {
	JobID       string                      `json:"job_id"`
	State       string                      `json:"state"` // succeeded, failed, killed
	Error       string                      `json:"error,omitempty"`
	Output      string                      `json:"output"`
	Inputs      []string                    `json:"inputs"`
	Mapper      string                      `json:"mapper,omitempty"`
	Combiner    string                      `json:"combiner,omitempty"`
	Reducer     string                      `json:"reducer,omitempty"`
	MapTasks    int                         `json:"map_tasks"`
	ReduceTasks int                         `json:"reduce_tasks"`
	Reused      int                         `json:"reused_map_tasks,omitempty"`
	Started     time.Time                   `json:"started"`
	Finished    time.Time                   `json:"finished"`
	Seconds     float64                     `json:"seconds"`
	Counters    map[string]map[string]int64 `json:"counters"`
	Tasks       []*TaskReport               `json:"tasks"`
}

// TaskReport describes one task and its attempts.
type TaskReport struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"` // map, reduce
	Input    string           `json:"input,omitempty"`
	Reused   bool             `json:"reused,omitempty"`
	Seconds  float64          `json:"seconds"`
	Attempts []*AttemptReport `json:"attempts"`
}

// AttemptReport describes one attempt.
type AttemptReport struct {
	ID string `json:"id"`
	// Host is where the attempt ran ("" in local mode).
	Host string `json:"host,omitempty"`
	// Reason says why a map task that had succeeded ran again.
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Error   string    `json:"error,omitempty"`
	Log     string    `json:"log,omitempty"`
	// Speculative marks a backup attempt of a slow task.
	Speculative bool `json:"speculative,omitempty"`
}

// driver is one run of a job.
type driver struct {
	o        *Options
	s        *settings
	runner   Runner
	out, tmp string
	splits   []split.Split
	files    []split.Input // the inputs' files, as planned
	counters *streaming.Counters
	report   *Report
	prog     progress
	mu       sync.Mutex // guards report.Tasks entries, journal
	journal  *os.File
	mapDone  []bool
	// readMap is the input of the finished map tasks; running holds the
	// counters of the running attempts (progress).
	readMap atomic.Int64
	running sync.Map // *atomic.Int64 -> struct{}
	msgs    io.Writer
	lock    *os.File
	// reusedEntries are the journal's finished map tasks (--resume).
	reusedEntries []journalEntry
	// maps are the map tasks' states for running them again when their
	// outputs are lost.
	maps []mapState
}

// mapState is what the driver keeps of a finished map task to run it
// again when its output is lost with its host.
type mapState struct {
	// mu is held while the task runs again; gen counts its runs, so that
	// several reduce tasks that lose the same output run it once.
	mu       sync.Mutex
	gen      atomic.Int64
	counters *streaming.Counters // guarded by driver.mu
}

// Run runs the job o describes. It returns the job's report (also written
// to OUT/_job.json once OUT exists) and an error: a *ConfigError when the
// job could not start (bad settings, missing input, OUT exists), a
// *TaskError when a task failed on every attempt, or the context's cause.
func Run(ctx context.Context, o *Options) (*Report, error) {
	if o.Name == "" {
		oc := *o
		oc.Name = "mrrun"
		o = &oc
	}
	s, err := resolve(o)
	if err != nil {
		return nil, err
	}
	d := &driver{o: o, s: s, runner: o.Runner, counters: streaming.NewCounters(), msgs: o.Stderr}
	if d.runner == nil {
		d.runner = Local{}
	}
	if d.msgs == nil {
		d.msgs = io.Discard
	}
	if err := d.planCtx(ctx); err != nil {
		return nil, err
	}
	if err := d.prepareOutput(); err != nil {
		return nil, err
	}
	d.report = &Report{
		JobID: s.spec.JobID, Output: o.Output, Inputs: s.inputs, Mapper: s.spec.Mapper,
		Combiner: s.spec.Combiner, Reducer: s.spec.Reducer, MapTasks: len(d.splits),
		ReduceTasks: s.spec.Reduces, Started: time.Now(),
	}
	if len(s.notRun) > 0 && !o.Quiet {
		d.warnf("warning: a map-only job (0 reduce tasks) does not run %s", strings.Join(s.notRun, " or "))
	}
	if len(s.ignored) > 0 && !o.Quiet {
		d.warnf("warning: -D properties exported to the tasks but not read by %s: %s", o.Name, strings.Join(s.ignored, ", "))
	}
	defer d.lock.Close()
	defer d.journal.Close()
	d.prog = newProgress(ctx, o)
	err = d.run(ctx)
	d.prog.stop()
	d.report.Finished = time.Now()
	d.report.Seconds = d.report.Finished.Sub(d.report.Started).Seconds()
	d.report.Counters = d.counters.Snapshot()
	if err != nil {
		d.report.State = "failed"
		if ctx.Err() != nil {
			d.report.State = "killed"
			err = context.Cause(ctx)
		}
		d.report.Error = err.Error()
		d.abort()
		return d.report, err
	}
	d.report.State = "succeeded"
	if err := d.commit(); err != nil {
		d.report.State = "failed"
		d.report.Error = err.Error()
		d.abort()
		return d.report, err
	}
	return d.report, nil
}

func (d *driver) warnf(format string, a ...any) {
	fmt.Fprintf(d.msgs, "%s: %s\n", d.o.Name, fmt.Sprintf(format, a...))
}

func (d *driver) verbosef(format string, a ...any) {
	if d.o.Verbose {
		d.prog.println(fmt.Sprintf("%s: %s", d.o.Name, fmt.Sprintf(format, a...)))
	}
}

// plan finds the input files and cuts them into splits.
func (d *driver) plan() error { return d.planCtx(context.Background()) }

// InputExpander is a Runner that resolves some inputs itself (files on
// other hosts): the driver plans the splits of the files ExpandInputs
// returns instead of those of split.Expand.
type InputExpander interface {
	ExpandInputs(ctx context.Context, inputs []string) ([]split.Input, error)
}

// planCtx is plan for a running job: a Runner that is an InputExpander
// resolves the inputs.
func (d *driver) planCtx(ctx context.Context) error {
	s := d.s
	expand := split.Expand
	if ie, ok := d.o.Runner.(InputExpander); ok {
		expand = func(in []string) ([]split.Input, error) { return ie.ExpandInputs(ctx, in) }
	}
	files, err := expand(s.inputs)
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("-input: %w", err)}
	}
	out, err := filepath.Abs(d.o.Output)
	if err != nil {
		return &ConfigError{Err: err}
	}
	d.out = out
	d.tmp = filepath.Join(out, TempDir)
	for _, f := range files {
		abs, err := filepath.Abs(f.Path)
		if err == nil && (abs == out || strings.HasPrefix(abs, out+string(filepath.Separator))) {
			return configErr("-input %s is inside -output %s", f.Path, d.o.Output)
		}
	}
	size := s.splitSizeOf(files)
	d.files = files
	d.splits, err = split.PlanFiles(files, split.Options{Size: size, MinSize: s.minSplit})
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("-input: %w", err)}
	}
	return nil
}

// fingerprint identifies the job for --resume: its spec and its splits
// (with each file's size and modification time as planning saw them, on
// this machine or, for HOST:PATH inputs, on the host).
func (d *driver) fingerprint() string {
	h := sha256.New()
	json.NewEncoder(h).Encode(d.s.spec)
	files := make(map[string]split.Input, len(d.files))
	for _, f := range d.files {
		files[f.Path] = f
	}
	for _, sp := range d.splits {
		f := files[sp.Path]
		fmt.Fprintf(h, "%s\t%d\t%d\t%d\t%d\n", sp.Path, sp.Start, sp.Length, f.Size, f.ModTime)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type journalEntry struct {
	Job      string                      `json:"job,omitempty"`
	Map      *int                        `json:"map,omitempty"`
	Attempt  string                      `json:"attempt,omitempty"`
	Seconds  float64                     `json:"seconds,omitempty"`
	Counters map[string]map[string]int64 `json:"counters,omitempty"`
}

// prepareOutput creates OUT and OUT/_temporary (or, resuming, reads the
// journal there) and locks it.
// overwritable returns why --overwrite must not remove the directory
// out, or nil: it holds the current directory, or something a job did
// not write (a mistyped -output . or -output ~ would otherwise lose the
// user's files).
func overwritable(out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(abs, wd); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return errors.New("it holds the current directory; refusing to remove it")
		}
	}
	es, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range es {
		switch n := e.Name(); {
		case n == SuccessName, n == JobName, n == LogsDir, n == TempDir, strings.HasPrefix(n, "part-"),
			n == "."+JobName+".tmp": // a report a killed driver was writing
		default:
			return fmt.Errorf("it holds %q, which no job wrote; refusing to remove it", n)
		}
	}
	return nil
}

func (d *driver) prepareOutput() error {
	o := d.o
	fi, err := os.Stat(d.out)
	exists := err == nil
	if exists && !fi.IsDir() {
		return configErr("output %s exists and is not a directory", o.Output)
	}
	resuming := false
	if exists {
		_, jerr := os.Stat(filepath.Join(d.tmp, journalName))
		switch {
		case o.Resume && jerr == nil:
			resuming = true
		case o.Overwrite:
			if err := overwritable(d.out); err != nil {
				return &ConfigError{Err: fmt.Errorf("--overwrite: %s: %w", o.Output, err)}
			}
			if err := os.RemoveAll(d.out); err != nil {
				return &ConfigError{Err: fmt.Errorf("--overwrite: %w", err)}
			}
		case o.Resume && isEmptyDir(d.out):
		case o.Resume:
			return configErr("--resume: %s holds no unfinished job (%s/%s is missing)", o.Output, TempDir, journalName)
		default:
			return configErr("output directory %s already exists (--overwrite replaces it, --resume continues a killed job)", o.Output)
		}
	}
	// The output directory as any new directory (0777 less the umask);
	// the work in it private.
	if err := os.MkdirAll(d.out, 0o777); err != nil {
		return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
	}
	if err := os.MkdirAll(d.tmp, 0o700); err != nil {
		return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
	}
	lock, err := os.OpenFile(filepath.Join(d.tmp, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return configErr("output directory %s is in use by another job", o.Output)
	}
	// The lock is held while the driver runs (and by the kernel until the
	// process exits, if it dies).
	d.lock = lock
	d.mapDone = make([]bool, len(d.splits))
	d.maps = make([]mapState, len(d.splits))
	fp := d.fingerprint()
	var reused []journalEntry
	if resuming {
		reused, err = d.readJournal(fp)
		if err != nil {
			d.warnf("warning: --resume: %v; starting over", err)
			reused = nil
		}
	}
	if !resuming || reused == nil {
		if err := clearDir(d.tmp, lockName); err != nil {
			return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
		}
	}
	for _, sub := range []string{"logs", "commit"} {
		if err := os.MkdirAll(filepath.Join(d.tmp, sub), 0o700); err != nil {
			return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
		}
	}
	jf, err := os.OpenFile(filepath.Join(d.tmp, journalName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("-output: %w", err)}
	}
	d.journal = jf
	if reused == nil {
		if err := d.appendJournal(journalEntry{Job: fp}); err != nil {
			return err
		}
	}
	d.reusedEntries = reused
	if len(d.s.files) > 0 {
		dir := filepath.Join(d.tmp, "files")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return &ConfigError{Err: fmt.Errorf("-file: %w", err)}
		}
		for _, f := range d.s.files {
			if err := shipFile(f.Path, filepath.Join(dir, f.Name)); err != nil {
				return &ConfigError{Err: fmt.Errorf("-file: %w", err)}
			}
		}
		d.s.spec.WorkDir = dir
	}
	return nil
}

// shipFile copies a shipped file into the tasks' working directory, with
// its permissions, as Hadoop gives tasks copies of their files.
func shipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func isEmptyDir(dir string) bool {
	es, err := os.ReadDir(dir)
	return err == nil && len(es) == 0
}

// clearDir removes everything in dir but keep.
func clearDir(dir, keep string) error {
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Name() == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// readJournal returns the map tasks the journal records as finished, if
// it belongs to the job with fingerprint fp.
func (d *driver) readJournal(fp string) ([]journalEntry, error) {
	f, err := os.Open(filepath.Join(d.tmp, journalName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []journalEntry
	first := true
	for sc.Scan() {
		var e journalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			break // a torn last line
		}
		if first {
			if e.Job != fp {
				return nil, errors.New("the journal is of another job (different arguments or inputs, or splits planned otherwise by another version)")
			}
			first = false
			continue
		}
		if e.Map == nil || *e.Map < 0 || *e.Map >= len(d.splits) {
			continue
		}
		if !d.mapOutputOK(*e.Map) {
			continue
		}
		out = append(out, e)
	}
	if first {
		return nil, errors.New("the journal is empty")
	}
	if out == nil {
		out = []journalEntry{}
	}
	return out, nil
}

func (d *driver) mapDir(i int) string {
	return filepath.Join(d.tmp, fmt.Sprintf("map-%05d", i))
}

// mapOutputOK checks that map task i's committed output is there.
func (d *driver) mapOutputOK(i int) bool {
	if d.s.spec.Reduces == 0 {
		_, err := os.Stat(d.mapDir(i))
		return err == nil
	}
	m, err := shuffle.ReadManifest(d.mapDir(i))
	if err != nil {
		return false
	}
	// A remote runner keeps part files on the hosts, which are gone.
	for _, pi := range m.Partitions {
		if _, err := os.Stat(filepath.Join(d.mapDir(i), pi.File)); err != nil {
			return false
		}
	}
	return true
}

func (d *driver) appendJournal(e journalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.journal.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return d.journal.Sync()
}

// run runs the map tasks, then the reduce tasks.
func (d *driver) run(ctx context.Context) error {
	sp := &d.s.spec
	nmaps := len(d.splits)
	tasks := make([]*TaskReport, nmaps)
	var total int64
	for i, s := range d.splits {
		t := &streaming.Task{JobID: sp.JobID, IsMap: true, Partition: i}
		id, _ := t.IDs()
		tasks[i] = &TaskReport{ID: id, Type: "map",
			Input: streaming.InputInfo{Name: s.Path, Start: s.Start, Length: s.Length, IsSplit: true}.String()}
		total += s.Length
	}
	reused := 0
	for _, e := range d.reusedEntries {
		i := *e.Map
		if d.mapDone[i] {
			continue
		}
		d.mapDone[i] = true
		reused++
		tasks[i].Reused = true
		tasks[i].Seconds = e.Seconds
		tasks[i].Attempts = []*AttemptReport{{ID: e.Attempt, Seconds: e.Seconds}}
		d.maps[i].counters = countersFrom(e.Counters)
		d.counters.Merge(d.maps[i].counters)
		d.readMap.Add(d.splits[i].Length)
	}
	d.report.Reused = reused
	if reused > 0 {
		d.counters.Add(GroupJob, ReusedMapTasks, int64(reused))
	}
	d.report.Tasks = tasks

	d.prog.phase("map", nmaps, total, d.mapBytes, reused)
	d.verbosef("map: %d tasks over %d input files (%d reused)", nmaps, countFiles(d.splits), reused)
	var todo []int
	for i, done := range d.mapDone {
		if !done {
			todo = append(todo, i)
		}
	}
	err := d.runPhase(ctx, true, todo, tasks, d.s.mapAttempts, d.s.mapSpeculative, d.runMap)
	if err != nil {
		return err
	}
	if sp.Reduces == 0 {
		return nil
	}
	maps := make([]string, nmaps)
	for i := range maps {
		maps[i] = d.mapDir(i)
	}
	rtasks := make([]*TaskReport, sp.Reduces)
	for p := range rtasks {
		t := &streaming.Task{JobID: sp.JobID, Partition: p}
		id, _ := t.IDs()
		rtasks[p] = &TaskReport{ID: id, Type: "reduce"}
	}
	d.mu.Lock()
	d.report.Tasks = append(d.report.Tasks, rtasks...)
	d.mu.Unlock()
	d.prog.phase("reduce", sp.Reduces, 0, nil, 0)
	d.verbosef("reduce: %d tasks", sp.Reduces)
	todo = make([]int, sp.Reduces)
	for p := range todo {
		todo[p] = p
	}
	return d.runPhase(ctx, false, todo, rtasks, d.s.reduceAttempts, d.s.reduceSpeculative, func(p int) attemptFunc {
		return d.runReduce(p, maps)
	})
}

// mapBytes returns the input the map tasks have read so far.
func (d *driver) mapBytes() int64 {
	n := d.readMap.Load()
	d.running.Range(func(k, _ any) bool {
		n += k.(*atomic.Int64).Load()
		return true
	})
	return n
}

func countFiles(splits []split.Split) int {
	n := 0
	for i, s := range splits {
		if i == 0 || splits[i-1].Path != s.Path {
			n++
		}
	}
	return n
}

func countersFrom(m map[string]map[string]int64) *streaming.Counters {
	c := streaming.NewCounters()
	for g, names := range m {
		for n, v := range names {
			c.Add(g, n, v)
		}
	}
	return c
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// runMap returns the attempt function of map task i: it maps into the
// attempt's directory, which the winning attempt renames to the task's
// map output directory.
func (d *driver) runMap(i int) attemptFunc {
	sp := &d.s.spec
	return func(ctx context.Context, a int, id, log string, win func() bool) error {
		start := time.Now()
		dir := filepath.Join(d.tmp, id)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		read := new(atomic.Int64)
		d.running.Store(read, struct{}{})
		defer d.running.Delete(read)
		t := &MapTask{Spec: sp, Index: i, Attempt: a, Split: d.splits[i], Dir: dir, Log: log, Read: read}
		if sp.Reduces == 0 {
			t.Output = filepath.Join(dir, shuffle.PartName(i))
		}
		res, err := d.runner.RunMap(ctx, t)
		d.attemptHost(true, i, id, res, err)
		if err == nil && !win() {
			err = errLost
		}
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		final := d.mapDir(i)
		os.RemoveAll(final)
		if err := os.Rename(dir, final); err != nil {
			return err
		}
		d.counters.Merge(res.Counters)
		d.mu.Lock()
		d.maps[i].counters = res.Counters
		d.mu.Unlock()
		// Progress counts the split once, however it was read.
		d.readMap.Add(d.splits[i].Length)
		ix := i
		return d.appendJournal(journalEntry{Map: &ix, Attempt: id, Seconds: time.Since(start).Seconds(),
			Counters: res.Counters.Snapshot()})
	}
}

// runReduce returns the attempt function of reduce task p: it writes its
// part file in the attempt's directory; the winning attempt moves it to
// commit/. An attempt that lost map outputs with their host runs those
// map tasks again and starts over.
func (d *driver) runReduce(p int, maps []string) attemptFunc {
	sp := &d.s.spec
	return func(ctx context.Context, a int, id, log string, win func() bool) error {
		dir := filepath.Join(d.tmp, id)
		name := shuffle.PartName(p)
		t := &ReduceTask{Spec: sp, Partition: p, Attempt: a, Maps: maps, Output: filepath.Join(dir, name), Log: log}
		for rounds := 1; ; rounds++ {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			gens := d.mapGens()
			res, err := d.runner.RunReduce(ctx, t)
			d.attemptHost(false, p, id, res, err)
			var lost *LostMapsError
			if err != nil && ctx.Err() == nil && errors.As(err, &lost) && rounds <= maxLostRounds {
				// Not a failure of the attempt: the map tasks run again
				// and the attempt starts over.
				if err := d.rerunMaps(ctx, lost, gens); err != nil {
					os.RemoveAll(dir)
					return err
				}
				continue
			}
			if err != nil && ctx.Err() == nil && d.mapsMoved(gens) && rounds <= maxLostRounds {
				continue // map outputs it read were being replaced
			}
			if err == nil && !win() {
				err = errLost
			}
			if err == nil {
				if _, serr := os.Stat(t.Output); serr == nil {
					err = os.Rename(t.Output, filepath.Join(d.tmp, "commit", name))
				}
			}
			os.RemoveAll(dir)
			if err != nil {
				return err
			}
			d.counters.Merge(res.Counters)
			return nil
		}
	}
}

// maxLostRounds bounds how many times a reduce attempt starts over
// because map outputs were lost: each time takes a host lost.
const maxLostRounds = 20

// attemptHost records in the report where attempt id of map or reduce
// task i ran, as its result or error says.
func (d *driver) attemptHost(isMap bool, i int, id string, res *Result, err error) {
	host := ""
	var he *HostError
	switch {
	case res != nil:
		host = res.Host
	case errors.As(err, &he):
		host = he.Host
	}
	if host == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !isMap {
		i += len(d.splits)
	}
	if i >= len(d.report.Tasks) {
		return
	}
	for _, ar := range d.report.Tasks[i].Attempts {
		if ar.ID == id {
			ar.Host = host
		}
	}
}

// mapGens returns how many times each map task has run again.
func (d *driver) mapGens() []int64 {
	g := make([]int64, len(d.maps))
	for i := range d.maps {
		g[i] = d.maps[i].gen.Load()
	}
	return g
}

// mapsMoved reports whether a map task ran again since gens.
func (d *driver) mapsMoved(gens []int64) bool {
	for i, g := range gens {
		if d.maps[i].gen.Load() != g {
			return true
		}
	}
	return false
}

// rerunMaps runs again the map tasks whose outputs lost reports lost,
// unless they ran again since gens (another reduce task lost them too).
func (d *driver) rerunMaps(ctx context.Context, lost *LostMapsError, gens []int64) error {
	reasons := map[int]string{}
	var idx []int
	for k, i := range lost.Maps {
		if i < 0 || i >= len(d.maps) {
			return fmt.Errorf("lost output of map task %d of %d", i, len(d.maps))
		}
		if _, ok := reasons[i]; !ok {
			idx = append(idx, i)
		}
		reasons[i] = "output lost"
		if lost.Bad {
			reasons[i] = "output bad"
		}
		if k < len(lost.Hosts) && lost.Hosts[k] != "" {
			reasons[i] += map[bool]string{false: " with host ", true: " on host "}[lost.Bad] + lost.Hosts[k]
		}
	}
	if len(idx) == 0 {
		return errors.New("a reduce attempt lost no map output")
	}
	// Locked in index order, so that reduce tasks that lost overlapping
	// sets wait for each other without deadlock.
	slices.Sort(idx)
	for _, i := range idx {
		d.maps[i].mu.Lock()
		defer d.maps[i].mu.Unlock()
	}
	var todo []int
	for _, i := range idx {
		if d.maps[i].gen.Load() == gens[i] {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	d.mu.Lock()
	trs := d.report.Tasks[:len(d.splits)]
	first := map[int]int{}
	var old []*streaming.Counters
	for _, i := range todo {
		first[i] = len(trs[i].Attempts)
		old = append(old, d.maps[i].counters)
		d.maps[i].counters = nil
	}
	d.mu.Unlock()
	// The job's counters and progress count each task's last run.
	neg := streaming.NewCounters()
	for k, i := range todo {
		if !d.o.Quiet {
			d.prog.println(fmt.Sprintf("%s: map task %d: %s; running it again", d.o.Name, i, reasons[i]))
		}
		if old[k] != nil {
			for g, names := range old[k].Snapshot() {
				for n, v := range names {
					neg.Add(g, n, -v)
				}
			}
		}
		d.readMap.Add(-d.splits[i].Length)
	}
	d.counters.Merge(neg)
	err := d.runPhase(ctx, true, todo, trs, d.s.mapAttempts, false, d.runMap)
	d.mu.Lock()
	for _, i := range todo {
		if first[i] < len(trs[i].Attempts) {
			trs[i].Attempts[first[i]].Reason = reasons[i]
		}
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	for _, i := range todo {
		d.maps[i].gen.Add(1)
	}
	return nil
}

// commit moves the output files into OUT and writes _job.json, _logs and
// _SUCCESS.
func (d *driver) commit() error {
	var files [][2]string
	if d.s.spec.Reduces == 0 {
		for i := range d.splits {
			name := shuffle.PartName(i)
			src := filepath.Join(d.mapDir(i), name)
			if _, err := os.Stat(src); err == nil {
				files = append(files, [2]string{src, name})
			}
		}
	} else {
		es, err := os.ReadDir(filepath.Join(d.tmp, "commit"))
		if err != nil {
			return err
		}
		for _, e := range es {
			files = append(files, [2]string{filepath.Join(d.tmp, "commit", e.Name()), e.Name()})
		}
	}
	for _, f := range files {
		if err := os.Rename(f[0], filepath.Join(d.out, f[1])); err != nil {
			d.removeParts()
			return fmt.Errorf("commit: %w", err)
		}
	}
	if err := d.writeReport(); err != nil {
		d.removeParts()
		return err
	}
	if d.s.markSuccess {
		if err := os.WriteFile(filepath.Join(d.out, SuccessName), nil, 0o666); err != nil {
			d.removeParts()
			return fmt.Errorf("commit: %w", err)
		}
	}
	if !d.o.KeepTemp {
		os.RemoveAll(d.tmp)
	}
	return nil
}

// writeReport moves the task logs to OUT/_logs and writes OUT/_job.json.
func (d *driver) writeReport() error {
	logs := filepath.Join(d.out, LogsDir)
	os.RemoveAll(logs)
	if err := os.MkdirAll(logs, 0o777); err != nil {
		return err
	}
	src := filepath.Join(d.tmp, "logs")
	if es, err := os.ReadDir(src); err == nil {
		for _, e := range es {
			if d.o.KeepTemp {
				copyFile(filepath.Join(src, e.Name()), filepath.Join(logs, e.Name()))
			} else {
				os.Rename(filepath.Join(src, e.Name()), filepath.Join(logs, e.Name()))
			}
		}
	}
	d.mu.Lock()
	b, err := json.MarshalIndent(d.report, "", "  ")
	d.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.out, "."+JobName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o666); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", JobName, err)
	}
	return os.Rename(tmp, filepath.Join(d.out, JobName))
}

func copyFile(src, dst string) {
	b, err := os.ReadFile(src)
	if err == nil {
		os.WriteFile(dst, b, 0o666)
	}
}

// removeParts removes part files from OUT (a failed commit).
func (d *driver) removeParts() {
	es, _ := os.ReadDir(d.out)
	for _, e := range es {
		if strings.HasPrefix(e.Name(), "part-") {
			os.Remove(filepath.Join(d.out, e.Name()))
		}
	}
}

// abort leaves OUT without part files: the report and logs are written,
// the temporary data removed (unless kept).
func (d *driver) abort() {
	d.removeParts()
	os.Remove(filepath.Join(d.out, SuccessName))
	if err := d.writeReport(); err != nil {
		d.warnf("warning: %v", err)
	}
	if !d.o.KeepTemp {
		os.RemoveAll(d.tmp)
	}
}
