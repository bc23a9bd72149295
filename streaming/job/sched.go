package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Speculative execution: once this share of a phase's tasks is done, a
// task whose attempt has run longer than specFactor times the median run
// time of the phase's finished tasks, and at least specMinRun, gets a
// backup attempt.
const (
	specDone   = 0.75
	specFactor = 2
	specMinRun = time.Second
)

// attemptFunc runs attempt a (id, stderr log) of a task. When its output
// is ready it calls win: true means it is the task's first attempt to
// finish and must commit its output; false that another attempt has won,
// and it must discard its output and return.
type attemptFunc func(ctx context.Context, a int, id, log string, win func() bool) error

// errLost is what an attempt that lost to another of its task returns.
var errLost = errors.New("killed: speculative attempt lost")

// sched runs the tasks of one phase on par workers. A worker takes a
// failed task's retry first, then the next new task; when there is none
// left and speculation is on, a backup attempt of a slow task. The
// first attempt of a task to finish wins; the others are cancelled (their
// commands killed) and their output discarded, so that the job's output
// and counters do not depend on speculation.
type sched struct {
	d       *driver
	isMap   bool
	max     int
	spec    bool
	attempt func(i int) attemptFunc

	mu      sync.Mutex
	tasks   []*taskState
	retry   []*taskState // tasks whose last live attempt failed
	next    int          // the next task never attempted
	done    int
	secs    []float64 // run times of this phase's winning attempts
	err     error     // the task that failed on every attempt
	changed chan struct{}
}

// taskState is a task's attempts in a sched.
type taskState struct {
	index    int
	tr       *TaskReport
	done     bool
	attempts int           // attempts in its report
	rerun    bool          // it had attempts before this phase
	failures int           // attempts failed (killed ones are not failures)
	live     []*attemptRun // running attempts not being killed
	backup   bool          // a backup attempt was launched
	start    time.Time     // the first attempt's start
}

// attemptRun is one running attempt.
type attemptRun struct {
	t      *taskState
	n      int
	id     string
	ar     *AttemptReport
	cancel context.CancelCauseFunc
	lostTo string // the attempt that won, if this one lost
}

// runPhase runs the tasks todo (indices into trs, their reports) of a
// phase with the given attempt function. Attempt numbers go on from the
// attempts already in a task's report. The first task that fails max
// times cancels the others; runPhase returns its *TaskError when every
// attempt has returned.
func (d *driver) runPhase(ctx context.Context, isMap bool, todo []int, trs []*TaskReport,
	max int, spec bool, attempt func(i int) attemptFunc) error {
	s := &sched{d: d, isMap: isMap, max: max, spec: spec, attempt: attempt, changed: make(chan struct{})}
	d.mu.Lock()
	for _, i := range todo {
		n := len(trs[i].Attempts)
		s.tasks = append(s.tasks, &taskState{index: i, tr: trs[i], attempts: n, rerun: n > 0})
	}
	d.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w := 0; w < min(d.s.parallel, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.work(ctx); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return context.Cause(ctx)
}

func (s *sched) counterNames() (kind, launched, failed, killed string) {
	if s.isMap {
		return "map", LaunchedMapTasks, FailedMapTasks, KilledMapTasks
	}
	return "reduce", LaunchedReduceTask, FailedReduceTasks, KilledReduceTasks
}

// work runs attempts until every task is done, one has failed for good
// or ctx is done.
func (s *sched) work(ctx context.Context) error {
	for ctx.Err() == nil {
		r, wait, ch, stop := s.take(time.Now())
		if stop {
			return s.failed()
		}
		if r != nil {
			s.run(ctx, r)
			if err := s.failed(); err != nil {
				return err
			}
			continue
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-ch:
		case <-expired:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
	}
	return nil
}

// notifyLocked wakes the workers waiting for a change. s.mu is held.
func (s *sched) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *sched) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// take returns the next attempt to run, or how long to wait before
// looking again (0: until something changes) and changed, closed at the
// next change, or stop when the phase is over. changed is the channel of
// the moment take looked: one read after it returned could already be
// the next one, and a waiter on it would sleep through the change (the
// phase's last task ending, say) and forever.
func (s *sched) take(now time.Time) (r *attemptRun, wait time.Duration, changed <-chan struct{}, stop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, wait, stop = s.takeLocked(now)
	return r, wait, s.changed, stop
}

func (s *sched) takeLocked(now time.Time) (r *attemptRun, wait time.Duration, stop bool) {
	if s.err != nil || s.done == len(s.tasks) {
		return nil, 0, true
	}
	for len(s.retry) > 0 {
		t := s.retry[0]
		s.retry = s.retry[1:]
		if !t.done {
			return s.launch(t, false), 0, false
		}
	}
	for s.next < len(s.tasks) {
		t := s.tasks[s.next]
		s.next++
		if !t.done {
			return s.launch(t, false), 0, false
		}
	}
	if !s.spec || len(s.secs) == 0 || float64(s.done) < specDone*float64(len(s.tasks)) {
		return nil, 0, false
	}
	threshold := max(time.Duration(specFactor*median(s.secs)*float64(time.Second)), specMinRun)
	var slow *taskState
	var slowest time.Duration
	for _, t := range s.tasks {
		if t.done || t.backup || len(t.live) != 1 {
			continue
		}
		ran := now.Sub(t.live[0].ar.Started)
		if ran <= threshold {
			if w := threshold - ran + time.Millisecond; wait == 0 || w < wait {
				wait = w
			}
			continue
		}
		if slow == nil || ran > slowest {
			slow, slowest = t, ran
		}
	}
	if slow == nil {
		return nil, wait, false
	}
	slow.backup = true
	kind, _, _, _ := s.counterNames()
	s.d.verbosef("%s task %d: attempt %s has run %.1f s (median of finished tasks %.2f s); starting a backup attempt",
		kind, slow.index, slow.live[0].id, slowest.Seconds(), median(s.secs))
	return s.launch(slow, true), 0, false
}

// launch starts the bookkeeping of a new attempt of t. s.mu is held.
func (s *sched) launch(t *taskState, backup bool) *attemptRun {
	d := s.d
	n := t.attempts
	t.attempts++
	r := &attemptRun{t: t, n: n, id: attemptName(d.s.spec.JobID, s.isMap, t.index, n)}
	r.ar = &AttemptReport{ID: r.id, Started: time.Now(), Speculative: backup}
	if t.start.IsZero() {
		t.start = r.ar.Started
	}
	t.live = append(t.live, r)
	d.mu.Lock()
	t.tr.Attempts = append(t.tr.Attempts, r.ar)
	d.mu.Unlock()
	return r
}

// run runs attempt r and records how it ended.
func (s *sched) run(ctx context.Context, r *attemptRun) {
	d := s.d
	kind, launched, failed, killed := s.counterNames()
	t := r.t
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	r.cancel = cancel
	if r.lostTo != "" {
		cancel(errLost) // another attempt won before this one started
	}
	s.mu.Unlock()
	d.counters.Add(GroupJob, launched, 1)
	d.verbosef("%s task %d: attempt %s started", kind, t.index, r.id)
	log := filepath.Join(d.tmp, "logs", r.id+".log")
	err := s.attempt(t.index)(actx, r.n, r.id, log, func() bool { return s.win(r) })

	s.mu.Lock()
	defer func() {
		s.notifyLocked()
		s.mu.Unlock()
	}()
	if i := slices.Index(t.live, r); i >= 0 {
		t.live = slices.Delete(t.live, i, i+1)
	}
	d.mu.Lock()
	r.ar.Seconds = time.Since(r.ar.Started).Seconds()
	if fi, serr := os.Stat(log); serr == nil && fi.Size() > 0 {
		r.ar.Log = LogsDir + "/" + r.id + ".log"
	} else {
		os.Remove(log)
	}
	switch {
	case err == nil:
		t.done = true
		s.done++
		s.secs = append(s.secs, r.ar.Seconds)
		t.tr.Seconds = time.Since(t.start).Seconds()
		d.mu.Unlock()
		d.verbosef("%s task %d: attempt %s succeeded in %.2f s", kind, t.index, r.id, r.ar.Seconds)
		if !t.rerun {
			d.prog.taskDone() // a task run again was counted done before
		}
		return
	case r.lostTo != "":
		r.ar.Error = fmt.Sprintf("%v (%s finished first)", errLost, r.lostTo)
		d.mu.Unlock()
		d.counters.Add(GroupJob, killed, 1)
		d.verbosef("%s task %d: attempt %s killed: %s finished first", kind, t.index, r.id, r.lostTo)
		return
	case ctx.Err() != nil:
		r.ar.Error = "killed"
		d.mu.Unlock()
		return
	}
	r.ar.Error = err.Error()
	d.mu.Unlock()
	d.counters.Add(GroupJob, failed, 1)
	t.failures++
	var next string
	switch {
	case len(t.live) > 0:
		next = t.live[0].id + " goes on"
	case t.failures >= s.max:
		if s.err == nil {
			s.err = &TaskError{Task: t.tr.ID, Attempt: r.id, Attempts: t.failures, Err: err}
		}
		return
	default:
		next = "retrying"
		s.retry = append(s.retry, t)
	}
	if !d.o.Quiet {
		d.prog.println(fmt.Sprintf("%s: %s task %d: attempt %s failed (%s); %s",
			d.o.Name, kind, t.index, r.id, firstLine(err.Error()), next))
	}
}

// win makes r its task's winning attempt, unless another won first: the
// task's other attempts are cancelled.
func (s *sched) win(r *attemptRun) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.lostTo != "" || r.t.done {
		return false
	}
	for _, o := range r.t.live {
		if o != r {
			o.lostTo = r.id
			if o.cancel != nil {
				o.cancel(errLost)
			}
		}
	}
	r.t.live = []*attemptRun{r}
	return true
}

// median returns the median of xs (not empty); it sorts xs.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
