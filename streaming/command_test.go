package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

type runResult struct {
	out, stderr string
	st          Stats
	err         error
	counters    *Counters
}

func runCmd(t *testing.T, c *Command, in string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stderr = &errb
	if c.Counters == nil {
		c.Counters = NewCounters()
	}
	if c.Term == 0 {
		c.Term = '\n'
	}
	st, err := c.Run(context.Background(), strings.NewReader(in), func(b []byte) error {
		out.Write(b)
		return nil
	}, nil)
	return runResult{out.String(), errb.String(), st, err, c.Counters}
}

func TestCommandPassThrough(t *testing.T) {
	r := runCmd(t, &Command{Cmd: "cat"}, "a\tb\nc\nlast")
	if r.err != nil || r.out != "a\tb\nc\nlast\n" {
		t.Fatalf("out %q err %v", r.out, r.err)
	}
	if r.st.InRecords != 3 || r.st.OutRecords != 3 || r.st.InBytes != 11 || r.st.OutBytes != 11 {
		t.Errorf("stats %+v", r.st)
	}
}

func TestCommandEnvironment(t *testing.T) {
	c := &Command{
		Cmd: `env | grep -E '^(mapred|mapreduce|map_input|my_|MYVAR)' | sort`,
		Env: []string{"PATH=/usr/bin:/bin"},
		Task: Task{
			IsMap: true, Partition: 3, Attempt: 1,
			Input:  InputInfo{Name: "/data/in.txt", Start: 100, Length: 50, IsSplit: true},
			Conf:   []KV{{"my.key-1", "v1"}, {"mapreduce.job.reduces", "4"}},
			CmdEnv: []KV{{"MYVAR", "x y"}},
		},
	}
	r := runCmd(t, c, "")
	want := `MYVAR=x y
map_input_file=/data/in.txt
map_input_length=50
map_input_start=100
mapred_job_id=job_local_0001
mapred_reduce_tasks=4
mapred_task_id=attempt_local_0001_m_000003_1
mapred_task_is_map=true
mapred_task_partition=3
mapred_tip_id=task_local_0001_m_000003
mapreduce_job_id=job_local_0001
mapreduce_job_reduces=4
mapreduce_map_input_file=/data/in.txt
mapreduce_map_input_length=50
mapreduce_map_input_start=100
mapreduce_task_attempt_id=attempt_local_0001_m_000003_1
mapreduce_task_id=task_local_0001_m_000003
mapreduce_task_ismap=true
mapreduce_task_partition=3
my_key_1=v1
`
	if r.err != nil || r.out != want {
		t.Errorf("err %v, env:\n%s\nwant:\n%s", r.err, r.out, want)
	}
}

func TestCommandReporter(t *testing.T) {
	c := &Command{Cmd: `
		echo reporter:counter:G,c,2 >&2
		echo reporter:counter:G,c,3 >&2
		echo reporter:counter:H,d,-1 >&2
		echo reporter:status:half way >&2
		echo plain one >&2
		echo reporter:counter:G,c >&2
		echo plain two >&2
		cat`, Name: "mrmap"}
	var statuses []string
	c.OnStatus = func(s string) { statuses = append(statuses, s) }
	r := runCmd(t, c, "x\n")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.counters.Get("G", "c") != 5 || r.counters.Get("H", "d") != -1 {
		t.Errorf("counters %v", r.counters.Snapshot())
	}
	if r.counters.Status() != "half way" || len(statuses) != 1 {
		t.Errorf("status %q %v", r.counters.Status(), statuses)
	}
	want := "plain one\nmrmap: warning: mapper stderr: cannot parse counter line (want GROUP,NAME,AMOUNT)\nreporter:counter:G,c\nplain two\n"
	if r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

func TestCommandFailures(t *testing.T) {
	big := strings.Repeat("0123456789\n", 400000) // more than any pipe holds
	tests := []struct {
		name, cmd, in string
		status        int
		signal        syscall.Signal
		early         bool
		msg           []string
	}{
		{name: "exit", cmd: "cat >/dev/null; echo bad thing >&2; exit 3", in: "a\nb\n", status: 3,
			msg: []string{"mapper 'cat >/dev/null; echo bad thing >&2; exit 3' exited with status 3 (input: in.txt:0+4; last record fed: 2)", "last 1 stderr line(s):\n    bad thing"}},
		{name: "signal", cmd: "cat >/dev/null; kill -9 $$", in: "a\n", status: -1, signal: syscall.SIGKILL,
			msg: []string{"was killed by signal SIGKILL (9)", "no stderr output"}},
		{name: "early", cmd: "head -1", in: big, early: true,
			msg: []string{"mapper 'head -1' exited before reading all its input (input: in.txt:0+4; last record fed: "}},
		// echo may exit before anything is fed (the feed then fails) or
		// after (the records stay in the pipe): early either way.
		{name: "early-small", cmd: "echo x", in: "a\nb\n", early: true,
			msg: []string{"mapper 'echo x' exited before reading all its input (input: in.txt:0+4; last record fed: "}},
		// read takes the first line a byte at a time, so both records
		// were fed and the second is left in the pipe.
		{name: "early-read", cmd: "read line; echo x", in: "a\nb\n", early: true,
			msg: []string{"mapper 'read line; echo x' exited before reading all its input (input: in.txt:0+4; last record fed: 2)"}},
		{name: "early-nonzero", cmd: "head -1; exit 4", in: big, status: 4, early: true,
			msg: []string{"exited with status 4 before reading all its input"}},
		{name: "tail", cmd: "for i in $(seq 1 30); do echo line $i >&2; done; exit 1", status: 1,
			msg: []string{"last 20 stderr line(s):\n    line 11\n", "    line 30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Command{Cmd: tt.cmd, Task: Task{Input: InputInfo{Name: "in.txt", Length: 4, IsSplit: true}}}
			r := runCmd(t, c, tt.in)
			var ce *CommandError
			if !errors.As(r.err, &ce) {
				t.Fatalf("error %v, want a CommandError", r.err)
			}
			if ce.ExitStatus != tt.status || ce.Signal != tt.signal || ce.EarlyExit != tt.early {
				t.Errorf("got %+v", ce)
			}
			for _, m := range tt.msg {
				if !strings.Contains(ce.Error(), m) {
					t.Errorf("report\n%s\nlacks %q", ce.Error(), m)
				}
			}
			if strings.Contains(ce.Error(), "line 10\n") {
				t.Errorf("report has more than 20 lines:\n%s", ce.Error())
			}
		})
	}
}

func TestCommandIgnoreExitStatus(t *testing.T) {
	r := runCmd(t, &Command{Cmd: "cat; exit 3", IgnoreExitStatus: true}, "a\n")
	if r.err != nil || r.out != "a\n" {
		t.Errorf("out %q err %v", r.out, r.err)
	}
}

func TestCommandCancelKillsGroup(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Command{Cmd: "sleep 60 & sleep 60; wait", Term: '\n', Counters: NewCounters()}
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, strings.NewReader(""), func([]byte) error { return nil }, nil)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	stop := errors.New("stopped")
	cancel(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Errorf("error %v, want the cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestCommandOutputError(t *testing.T) {
	c := &Command{Cmd: "yes", Term: '\n', Counters: NewCounters()}
	bad := errors.New("disk full")
	_, err := c.Run(context.Background(), strings.NewReader(""), func([]byte) error { return bad }, nil)
	if !errors.Is(err, bad) {
		t.Errorf("error %v", err)
	}
}

func TestCommandInputError(t *testing.T) {
	c := &Command{Cmd: "cat", Term: '\n', Counters: NewCounters(), Task: Task{Input: InputInfo{Name: "x"}}}
	_, err := c.Run(context.Background(), iotest.ErrReader(errors.New("boom")), func([]byte) error { return nil }, nil)
	var ie *InputError
	if !errors.As(err, &ie) || err.Error() != "reading x: boom" {
		t.Errorf("error %v", err)
	}
}

func TestRunReducerGroups(t *testing.T) {
	// Many records so that batches split groups.
	var in strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&in, "key%05d\t%d\n", i/3, i)
	}
	c := &Command{Cmd: "awk -F'\t' '$1 != k {n++; k = $1} END {print n}'", Term: '\n'}
	var out bytes.Buffer
	err := RunReducer(context.Background(), c, Protocol{}, strings.NewReader(in.String()), func(b []byte) error {
		out.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "33334\n" {
		t.Errorf("reducer saw %q groups", out.String())
	}
	if g := c.Counters.Get(GroupFramework, ReduceInputGroups); g != 33334 {
		t.Errorf("Reduce input groups = %d", g)
	}
	if n := c.Counters.Get(GroupFramework, ReduceInputRecords); n != 100000 {
		t.Errorf("Reduce input records = %d", n)
	}
	if n := c.Counters.Get(GroupFramework, ReduceOutputRecords); n != 1 {
		t.Errorf("Reduce output records = %d", n)
	}
}

func TestCountersJSON(t *testing.T) {
	c := NewCounters()
	c.Add(GroupFramework, MapInputRecords, 3)
	c.Add("G", "n", -2)
	c.SetStatus("ok")
	var b bytes.Buffer
	if err := c.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"counters\": {\n    \"G\": {\n      \"n\": -2\n    },\n    \"Map-Reduce Framework\": {\n      \"Map input records\": 3\n    }\n  },\n  \"status\": \"ok\"\n}\n"
	if b.String() != want {
		t.Errorf("JSON:\n%s", b.String())
	}
	c2, err := ReadJSON(&b)
	if err != nil || c2.Get("G", "n") != -2 || c2.Status() != "ok" {
		t.Errorf("read back: %v %v", c2.Snapshot(), err)
	}
	b.Reset()
	c.WriteSummary(&b)
	if b.String() != "\tMap-Reduce Framework\n\t\tMap input records=3\n\tG\n\t\tn=-2\n\tStatus: ok\n" {
		t.Errorf("summary:\n%s", b.String())
	}
}

// directFile is a DirectInput over a whole file.
type directFile struct {
	*os.File
	path string
	size int64
}

func (d directFile) DirectRange() (string, int64, int64, bool) { return d.path, 0, d.size, true }

func TestCommandDirectInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	data := strings.Repeat("a line\n", 1000)
	if err := os.WriteFile(path, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
	run := func(cmd string) (string, Stats, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out bytes.Buffer
		c := &Command{Cmd: cmd, Term: '\n', Task: Task{Input: InputInfo{Name: "in.txt"}}}
		st, err := c.Run(context.Background(), directFile{f, path, int64(len(data))}, func(b []byte) error {
			out.Write(b)
			return nil
		}, nil)
		return out.String(), st, err
	}
	// The command's stdin is the file itself.
	out, st, err := run(`[ -f /proc/self/fd/0 ] && readlink /proc/self/fd/0 | grep -q 'in.txt$' && echo direct; cat >/dev/null`)
	if err != nil || out != "direct\n" || st.InRecords != 1000 || st.InBytes != int64(len(data)) {
		t.Errorf("out %q stats %+v err %v", out, st, err)
	}
	// Reading part of it is caught by the offset, however small the file.
	_, _, err = run(`read x; read y`)
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.EarlyExit || ce.LastRecord != 2 {
		t.Errorf("error %v", err)
	}
}

// TestCommandCancelBlockedInput: a run whose input blocks in Read still
// returns when cancelled.
func TestCommandCancelBlockedInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Command{Cmd: "cat", Term: '\n', Counters: NewCounters()}
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, pr, func([]byte) error { return nil }, nil)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// rangeFile is a DirectInput over part of a file.
type rangeFile struct {
	io.Reader
	path       string
	start, end int64
}

func (d rangeFile) DirectRange() (string, int64, int64, bool) { return d.path, d.start, d.end, true }

// TestCommandSplicedInput: a range that ends before the end of its file
// goes through the stdin pipe, and is counted exactly.
func TestCommandSplicedInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	line := "0123456789abcdef\n"
	data := strings.Repeat(line, 200000) // larger than the pipe
	if err := os.WriteFile(path, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
	start, end := int64(3*len(line)), int64(150000*len(line))
	run := func(cmd string) (string, Stats, error) {
		var out bytes.Buffer
		c := &Command{Cmd: cmd, Term: '\n', Task: Task{Input: InputInfo{Name: "in.txt"}}}
		in := rangeFile{iotest.ErrReader(errors.New("read instead of spliced")), path, start, end}
		st, err := c.Run(context.Background(), in, func(b []byte) error {
			out.Write(b)
			return nil
		}, nil)
		return out.String(), st, err
	}
	out, st, err := run(`[ -p /proc/self/fd/0 ] && echo pipe; wc -c`)
	if err != nil || out != fmt.Sprintf("pipe\n%d\n", end-start) || st.InRecords != 149997 || st.InBytes != end-start {
		t.Errorf("out %q stats %+v err %v", out, st, err)
	}
	_, _, err = run(`read x; read y`)
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.EarlyExit || ce.LastRecord < 2 || ce.LastRecord >= 149997 {
		t.Errorf("error %v", err)
	}
}

func TestNapFor(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		missing int
		total   int64
		elapsed time.Duration
		want    time.Duration
	}{
		{256 << 10, 38 << 20, time.Second, 4 * ms},           // mawk's 38 MiB/s: 6.6 ms, capped
		{64 << 10, 32 << 20, time.Second, time.Second / 512}, // 64 KiB at 32 MiB/s
		{256 << 10, 2 << 30, time.Second, ms},                // a fast producer: the shortest nap
		{256 << 10, 1 << 20, time.Hour, 4 * ms},              // a slow one: the longest
		{256 << 10, 0, 0, 4 * ms},                            // nothing seen yet
		{1, 1 << 20, time.Second, ms},                        // almost there
	} {
		if got := napFor(tc.missing, tc.total, tc.elapsed); got != tc.want {
			t.Errorf("napFor(%d, %d, %v) = %v, want %v", tc.missing, tc.total, tc.elapsed, got, tc.want)
		}
	}
}

// TestRoomWaiter checks roomWaiter's promises on a real pipe: no wait
// when the pipe has room; a wait bounded by about coalesceWait when the
// reader takes nothing; and, with a reader draining the pipe steadily,
// room for the batch on return, after about one look at the pipe per
// batch (it sleeps first for as long as the room should take).
func TestRoomWaiter(t *testing.T) {
	r, w, err := blockingPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	const capacity = 64 << 10
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, capacity); err != nil {
		t.Skip("F_SETPIPE_SZ:", err)
	}
	room := newRoomWaiter(w)
	room.wait(capacity)
	if room.looks != 1 {
		t.Errorf("empty pipe: %d looks, want 1 and no wait", room.looks)
	}

	full := make([]byte, capacity)
	n, _ := w.Write(full)
	room.wrote(n)
	start := time.Now()
	room.wait(capacity)
	if d := time.Since(start); d < coalesceWait/2 || d > time.Second {
		t.Errorf("full pipe nobody reads: waited %v, want about %v", d, coalesceWait)
	}

	// A reader that was fast (1 GiB a second) and stops: the naps asked
	// for are short, but they take longer than asked, and the wait is
	// bounded by the time that passed, not by the naps' sum. (The runtime
	// rounds a short nap up to about a millisecond when the process is
	// idle, giving a few looks, but not when another goroutine is busy,
	// as a garbage collection's may be: then there are more looks, as
	// short as asked, within the same time. Many looks that also took
	// long are the naps' sum bounding the wait.)
	fast := *room
	fast.written, fast.fill, fast.start, fast.looks = 1<<30, capacity, time.Now().Add(-time.Second), 0
	start = time.Now()
	fast.wait(capacity)
	if d := time.Since(start); fast.looks > 8 && d > 2*coalesceWait || d > time.Second {
		t.Errorf("full pipe, reader gone after a fast start: %d looks in %v", fast.looks, d)
	}

	// A reader taking 4 KiB at a time, as mawk does, and doing a little
	// work with each.
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
			for i := range 20000 {
				buf[i%len(buf)]++
			}
		}
	}()
	room.looks = 0
	const batches = 100
	short := 0
	for range batches {
		room.wait(capacity)
		if fill := pipeFill(w); capacity-fill < capacity/2 {
			short++ // the bounded wait ran out (a loaded machine)
		}
		n, err := w.Write(full[:capacity/2])
		if err != nil {
			t.Fatal(err)
		}
		room.wrote(n)
	}
	w.Close()
	<-done
	if short > batches/2 { // the reader starved on a loaded machine
		t.Errorf("%d of %d waits returned without room", short, batches)
	}
	t.Logf("%d looks, %d short", room.looks, short)
	if room.looks > 3*batches {
		t.Errorf("%d looks at the pipe for %d batches", room.looks, batches)
	}
}
