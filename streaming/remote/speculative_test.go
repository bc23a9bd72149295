package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestScheduleBackup: a task's second attempt (a backup) goes to another
// host than its running attempt's, waiting for one if need be, unless
// there is no other host.
func TestScheduleBackup(t *testing.T) {
	ctx := context.Background()
	r, hs, _ := fakeRunner("a", "b")
	hs[0].Login.Slots = 2
	first, _ := r.acquire(ctx, "m1")
	backup, _ := r.acquire(ctx, "m1")
	if backup == first {
		t.Fatalf("both attempts of m1 on %s", first.Login.Host)
	}
	r.release(backup, "m1", nil, ctx)

	// m1 runs on a; b is busy: the backup waits for b.
	if first != hs[0] {
		r.release(first, "m1", nil, ctx)
		first, _ = r.acquire(ctx, "m1")
		if first != hs[0] {
			t.Fatalf("m1 on %s, want a (free: a, b)", first.Login.Host)
		}
	}
	other, _ := r.acquire(ctx, "m2")
	if other != hs[1] {
		t.Fatalf("m2 on %s, want b", other.Login.Host)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if h, err := r.acquire(cctx, "m1"); err == nil {
		t.Fatalf("backup of m1 on %s, where m1 runs", h.Login.Host)
	}
	got := make(chan *Host, 1)
	go func() {
		h, _ := r.acquire(ctx, "m1")
		got <- h
	}()
	time.Sleep(50 * time.Millisecond)
	r.release(other, "m2", nil, ctx)
	if h := <-got; h != hs[1] {
		t.Errorf("backup of m1 on %v once b was free, want b", h)
	}

	// With one host, the backup runs there.
	r1, hs1, _ := fakeRunner("c")
	hs1[0].Login.Slots = 2
	r1.acquire(ctx, "r0")
	cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if h, err := r1.acquire(cctx, "r0"); h != hs1[0] || err != nil {
		t.Errorf("backup with one host: %v, %v", h, err)
	}
}

// TestSpeculativeLab runs a job on three lab hosts one of which is slow
// (its mapper sleeps for a minute): backup attempts on the other hosts
// finish the job in less than twice the time the job takes on those two
// hosts alone, with the output of local mode; the slow commands are
// killed and nothing is left on any host.
func TestSpeculativeLab(t *testing.T) {
	lab := sshlabtest.Start(t, 3)
	in := genInput(t)
	// Every mapper works for 0.3 s; on the slow host (a file in its
	// private scratch dir says it is slow) for a minute.
	mapper := fmt.Sprintf(`if [ -e %[1]s/slow ]; then echo $$ >%[1]s/pid.$$; sleep 60; fi; sleep 0.3; `+
		`exec awk '{for (i = 1; i <= NF; i++) print $i "\t1"}'`, lab.Scratch)
	o := job.Options{Mapper: mapper, Combiner: "sum", Reducer: "sum", NumReduceTasks: 3,
		Conf: []streaming.KV{{Key: "mapreduce.job.maps", Value: "24"}}}
	want := runJob(t, in, filepath.Join(t.TempDir(), "local"), o, nil, 2)

	dial := func(hosts ...string) *Runner {
		ls, err := ParseLogins("1/" + strings.Join(hosts, ",1/"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}}, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	timed := func(r *Runner, out string) (map[string]string, time.Duration) {
		start := time.Now()
		parts := runJob(t, in, out, o, r, r.Slots())
		return parts, time.Since(start)
	}

	r := dial("h1", "h3")
	_, base := timed(r, filepath.Join(t.TempDir(), "base"))
	r.Close()

	lab.Run(t, "h2", "touch "+lab.Scratch+"/slow")
	r = dial("h1", "h2", "h3")
	defer r.Close()
	out := filepath.Join(t.TempDir(), "slow")
	got, took := timed(r, out)
	t.Logf("on h1 and h3: %v; on h1, h3 and a slow h2: %v", base, took)
	// Far less than the slow host's minute: the job did not wait for it.
	// (Not a ratio to base: the machine's load may change between them.)
	if took >= base+30*time.Second {
		t.Errorf("with a slow host the job took %v, against %v without it", took, base)
	}
	if len(got) != len(want) {
		t.Fatalf("%d part files, want %d", len(got), len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s differs from the local job's", name)
		}
	}
	var rep job.Report
	b, err := os.ReadFile(filepath.Join(out, job.JobName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, tr := range rep.Tasks {
		for _, a := range tr.Attempts {
			if strings.Contains(a.Error, "speculative attempt lost") {
				lost++
			}
		}
	}
	if killed := rep.Counters[job.GroupJob][job.KilledMapTasks]; killed == 0 || int64(lost) != killed {
		t.Errorf("%d killed map tasks, %d attempts lost in _job.json", killed, lost)
	}

	// The slow mappers were killed when their backups won.
	alive := `for f in ` + lab.Scratch + `/pid.*; do [ -e "$f" ] || continue; p=$(cat "$f"); [ -n "$p" ] || continue; s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); if [ -n "$s" ] && [ "$s" != Z ]; then echo "mapper $p left: $s"; fi; done`
	for i := 0; ; i++ {
		out := lab.Run(t, "h2", alive)
		if out == "" {
			break
		}
		if i == 100 {
			t.Errorf("h2 after the job: %s", out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	lab.Run(t, "h2", "rm -f "+lab.Scratch+"/slow "+lab.Scratch+"/pid.*")
	r.Close()
	for _, h := range lab.Hosts {
		if out := lab.Run(t, h, "ls -A /tmp"); out != "" {
			t.Errorf("%s after Close: /tmp holds %q", h, out)
		}
		if ps, err := lab.Processes(h); err != nil || len(ps) != 0 {
			t.Errorf("%s after Close: processes %q, %v", h, ps, err)
		}
	}
}
