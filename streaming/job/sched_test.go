package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowJob is a word count whose mapper or reducer sleeps in the attempt
// named by slow (a suffix of mapreduce_task_attempt_id), after writing
// its shell's pid to pidFile.
func slowJob(in, out, slow, pidFile string, sleep int, reduces int) *Options {
	wait := fmt.Sprintf(`case $mapreduce_task_attempt_id in *%s) echo $$ >'%s'; sleep %d;; esac; `, slow, pidFile, sleep)
	o := &Options{Inputs: []string{in}, Output: out, Parallel: 3, NumReduceTasks: reduces, Quiet: true,
		Mapper:   wait + `exec awk '{for (i = 1; i <= NF; i++) print $i "\t1"}'`,
		Combiner: "sum", Reducer: wait + "exec cat",
		// A killed attempt is no failure: one attempt is allowed.
		Conf: confs("mapreduce.job.maps", "6", "mapreduce.map.maxattempts", "1", "mapreduce.reduce.maxattempts", "1")}
	if reduces == 0 {
		o.Reducer, o.Combiner = "NONE", ""
	}
	return o
}

// TestSpeculative runs jobs where one attempt of one task sleeps for a
// minute: a backup attempt finishes the task, the sleeping one is killed,
// and output and counters (but the job's own) are those of a job without
// the slow attempt.
func TestSpeculative(t *testing.T) {
	for _, c := range []struct {
		name    string
		slow    string // the slow attempt
		reduces int
		task    int // its index in Report.Tasks
	}{
		{"map", "_m_000002_0", 2, 2},
		{"reduce", "_r_000001_0", 4, -3}, // -3: the third from the end
		{"maponly", "_m_000000_0", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 3000)
			pidFile := filepath.Join(dir, "slow.pid")
			want := run(t, slowJob(in, filepath.Join(dir, "want"), "none", pidFile, 0, c.reduces))

			o := slowJob(in, filepath.Join(dir, "out"), c.slow, pidFile, 60, c.reduces)
			o.Speculative = SpeculativeOn
			if c.reduces == 4 {
				// Only the reduce phase's: a map task stalled for a
				// second on a loaded machine would get a backup too.
				o.Conf = append(o.Conf, confs("mapreduce.map.speculative", "false")...)
			}
			o.KeepTemp = true
			start := time.Now()
			rep := run(t, o)
			took := time.Since(start)
			if took > 30*time.Second {
				t.Errorf("the job took %v: it waited for the slow attempt", took)
			}
			if got, w := readParts(t, o.Output), readParts(t, filepath.Join(dir, "want")); !reflect.DeepEqual(got, w) {
				t.Errorf("output differs from the job's without a slow attempt")
			}
			if !reflect.DeepEqual(withoutJob(rep.Counters), withoutJob(want.Counters)) {
				t.Errorf("counters %v, want %v", rep.Counters, want.Counters)
			}
			kind, launched, killed := "map", LaunchedMapTasks, KilledMapTasks
			if c.reduces == 4 {
				kind, launched, killed = "reduce", LaunchedReduceTask, KilledReduceTasks
			}
			jc := rep.Counters[GroupJob]
			if jc[killed] != 1 || jc[launched] != want.Counters[GroupJob][launched]+1 ||
				jc[FailedMapTasks]+jc[FailedReduceTasks] != 0 {
				t.Errorf("job counters %v", jc)
			}

			// _job.json: the slow attempt was killed, the backup won.
			var onDisk Report
			b, err := os.ReadFile(filepath.Join(o.Output, JobName))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &onDisk); err != nil {
				t.Fatal(err)
			}
			i := c.task
			if i < 0 {
				i += len(onDisk.Tasks)
			}
			tr := onDisk.Tasks[i]
			if tr.Type != kind || len(tr.Attempts) != 2 || !strings.HasSuffix(tr.Attempts[0].ID, c.slow) ||
				!strings.Contains(tr.Attempts[0].Error, "speculative attempt lost") || tr.Attempts[0].Speculative ||
				!tr.Attempts[1].Speculative || tr.Attempts[1].Error != "" {
				t.Errorf("task %d in _job.json: %s", i, mustJSON(tr))
			}
			for j, tr := range onDisk.Tasks {
				if j != i && len(tr.Attempts) != 1 {
					t.Errorf("task %d in _job.json: %s", j, mustJSON(tr))
				}
			}

			// The slow command was killed; the attempt's directory is gone.
			b, err = os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
				t.Errorf("the slow command (pid %d) is still there: %v", pid, err)
			}
			es, err := os.ReadDir(filepath.Join(o.Output, TempDir))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				if strings.HasPrefix(e.Name(), "attempt_") {
					t.Errorf("%s/%s left", TempDir, e.Name())
				}
			}
		})
	}
}

// TestNotSpeculative: with speculation off the job waits for the slow
// attempt, whatever -D says.
func TestNotSpeculative(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 3000)
	o := slowJob(in, filepath.Join(dir, "out"), "_m_000001_0", filepath.Join(dir, "slow.pid"), 3, 2)
	o.Speculative = SpeculativeOff
	o.Conf = append(o.Conf, confs("mapreduce.map.speculative", "true")...)
	start := time.Now()
	rep := run(t, o)
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("the job took %v, less than the slow attempt", took)
	}
	if n := rep.Counters[GroupJob][KilledMapTasks]; n != 0 || len(rep.Tasks[1].Attempts) != 1 {
		t.Errorf("%d killed map tasks, %d attempts of map task 1", n, len(rep.Tasks[1].Attempts))
	}
}

// TestResolveSpeculative: speculation is on by default only with a
// runner for other hosts; -D properties decide for each phase, and
// SpeculativeOff wins.
func TestResolveSpeculative(t *testing.T) {
	type hosts struct{ Local } // another Runner
	for _, c := range []struct {
		runner      Runner
		mode        Speculation
		conf        []string
		maps, reduc bool
	}{
		{nil, SpeculativeAuto, nil, false, false},
		{Local{}, SpeculativeAuto, nil, false, false},
		{hosts{}, SpeculativeAuto, nil, true, true},
		{nil, SpeculativeOn, nil, true, true},
		{hosts{}, SpeculativeOff, nil, false, false},
		{nil, SpeculativeAuto, []string{"mapreduce.map.speculative", "true"}, true, false},
		{hosts{}, SpeculativeAuto, []string{"mapreduce.reduce.speculative", "false"}, true, false},
		{hosts{}, SpeculativeOff, []string{"mapreduce.map.speculative", "true", "mapreduce.reduce.speculative", "true"}, false, false},
	} {
		o := &Options{Inputs: []string{"in"}, Output: "out", NumReduceTasks: -1, Runner: c.runner,
			Speculative: c.mode, Conf: confs(c.conf...)}
		s, err := resolve(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, other := c.runner.(hosts); s.remote != other {
			t.Errorf("%T: remote %v", c.runner, s.remote)
		}
		if s.mapSpeculative != c.maps || s.reduceSpeculative != c.reduc || len(s.ignored) != 0 {
			t.Errorf("%T %d %q: map %v reduce %v (ignored %q), want %v %v", c.runner, c.mode, c.conf,
				s.mapSpeculative, s.reduceSpeculative, s.ignored, c.maps, c.reduc)
		}
	}
	o := &Options{Inputs: []string{"in"}, Output: "out", NumReduceTasks: -1, Conf: confs("mapreduce.map.speculative", "often")}
	if _, err := resolve(o); !IsConfigError(err) {
		t.Errorf("-D mapreduce.map.speculative=often: %v, want a ConfigError", err)
	}
}

// withoutJob returns counters without the job's own group.
func withoutJob(cs map[string]map[string]int64) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for g, m := range cs {
		if g != GroupJob {
			out[g] = m
		}
	}
	return out
}

func mustJSON(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return b.String()
}

// TestSpeculativeBackupFails: a backup attempt that fails while the slow
// attempt goes on is a failed attempt, but neither is the task retried
// nor does the job fail (one attempt is allowed) while another attempt
// runs.
func TestSpeculativeBackupFails(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 3000)
	o := slowJob(in, filepath.Join(dir, "out"), "_m_000001_0", filepath.Join(dir, "slow.pid"), 3, 1)
	o.Mapper = `case $mapreduce_task_attempt_id in *_m_000001_0) sleep 3;; *_m_000001_1) exit 7;; esac; exec cat`
	o.Combiner, o.Reducer = "", "cat"
	o.Speculative = SpeculativeOn
	want := run(t, &Options{Inputs: []string{in}, Output: filepath.Join(dir, "want"), Mapper: "cat", Reducer: "cat", NumReduceTasks: 1, Quiet: true})
	rep := run(t, o)
	if got, w := readParts(t, o.Output), readParts(t, want.Output); !reflect.DeepEqual(got, w) {
		t.Errorf("output differs from the job's without a slow attempt")
	}
	tr := rep.Tasks[1]
	jc := rep.Counters[GroupJob]
	if len(tr.Attempts) != 2 || tr.Attempts[0].Error != "" || !strings.Contains(tr.Attempts[1].Error, "7") ||
		jc[FailedMapTasks] != 1 || jc[KilledMapTasks] != 0 {
		t.Errorf("map task 1: %s; job counters %v", mustJSON(tr), jc)
	}
}

// TestSpeculativeThresholds: take starts a backup attempt only once 75%
// of the phase's tasks are done, and only of a task that has run longer
// than twice the median run time of the finished ones, and longer than
// specMinRun.
func TestSpeculativeThresholds(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	newSched := func(n, done int, median float64) *sched {
		d := &driver{o: &Options{}, s: &settings{spec: Spec{JobID: "job_spec"}}, report: &Report{}}
		s := &sched{d: d, isMap: true, spec: true, next: n, done: done}
		for i := range n {
			ts := &taskState{index: i, tr: &TaskReport{}, done: i < done, attempts: 1}
			if ts.done {
				s.secs = append(s.secs, median)
			} else {
				ts.live = []*attemptRun{{t: ts, ar: &AttemptReport{Started: start}}}
			}
			s.tasks = append(s.tasks, ts)
		}
		return s
	}
	for _, c := range []struct {
		name    string
		n, done int
		median  float64
		ran     time.Duration
		backup  bool
		wait    time.Duration // when no backup
	}{
		{"62% done, very slow", 8, 5, 2, time.Hour, false, 0},
		{"75% done, exactly 2x median", 8, 6, 2, 4 * time.Second, false, time.Millisecond},
		{"75% done, just past 2x median", 8, 6, 2, 4*time.Second + time.Millisecond, true, 0},
		{"74% done, just past 2x median", 100, 74, 2, 5 * time.Second, false, 0},
		{"past 2x median, under the minimum run", 8, 6, 0.1, 500 * time.Millisecond, false, 501 * time.Millisecond},
		{"past the minimum run", 8, 6, 0.1, time.Second + time.Millisecond, true, 0},
	} {
		s := newSched(c.n, c.done, c.median)
		r, wait, _, stop := s.take(start.Add(c.ran))
		if stop {
			t.Errorf("%s: stop", c.name)
			continue
		}
		if got := r != nil; got != c.backup {
			t.Errorf("%s: backup attempt %v, want %v", c.name, got, c.backup)
			continue
		}
		if r != nil {
			if !r.ar.Speculative || r.t.done || !r.t.backup || len(r.t.live) != 2 {
				t.Errorf("%s: attempt %+v of task %d is not a backup", c.name, r.ar, r.t.index)
			}
			// One backup per task: the next look finds nothing to back up.
			if r2, _, _, _ := s.take(start.Add(c.ran)); r2 != nil && r2.t == r.t {
				t.Errorf("%s: a second backup of task %d", c.name, r.t.index)
			}
		} else if wait != c.wait {
			t.Errorf("%s: wait %v, want %v", c.name, wait, c.wait)
		}
	}
}

// TestTakeChanged: the channel take returns to wait on is the one of the
// moment it looked, so a change right after take (another worker ending
// the phase's last task) wakes the waiter. A worker that read the channel
// after take could get the next one and sleep through the change: a
// remote job's reduce phase once hung that way, one task done and the
// other worker waiting forever.
func TestTakeChanged(t *testing.T) {
	d := &driver{o: &Options{}, s: &settings{spec: Spec{JobID: "job_take"}}, report: &Report{}}
	s := &sched{d: d, isMap: false, next: 2, done: 1, changed: make(chan struct{})}
	for i := range 2 {
		ts := &taskState{index: i, tr: &TaskReport{}, done: i == 0, attempts: 1}
		if !ts.done {
			ts.live = []*attemptRun{{t: ts, ar: &AttemptReport{Started: time.Now()}}}
		}
		s.tasks = append(s.tasks, ts)
	}
	r, wait, changed, stop := s.take(time.Now())
	if r != nil || wait != 0 || stop {
		t.Fatalf("take = %v, %v, stop %v; want nothing to run, wait for a change", r, wait, stop)
	}
	// Another worker ends the last task.
	s.mu.Lock()
	s.tasks[1].done, s.tasks[1].live = true, nil
	s.done++
	s.notifyLocked()
	s.mu.Unlock()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the change after take did not close the channel take returned")
	}
	if _, _, _, stop := s.take(time.Now()); !stop {
		t.Error("take after the last task: not stop")
	}
	// And work returns, rather than waiting.
	done := make(chan error, 1)
	go func() { done <- s.work(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("work did not return after the phase's last task")
	}
}

// TestAppendLog: an attempt's log file is created by the first write, not
// before (a task with nothing on stderr creates no file), appended to, and
// refuses writes once closed.
func TestAppendLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	log, closeLog, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("log exists before any write: %v", err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(log, "line from %d\n", i)
			}
		}()
	}
	wg.Wait()
	closeLog()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 400 {
		t.Errorf("%d lines in the log, want 400", n)
	}
	if _, err := log.Write([]byte("late\n")); err == nil {
		t.Error("a write after close succeeded")
	}
	closeLog()
}
