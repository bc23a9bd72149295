package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// genInput writes a few files of pseudo-random words, one with a space
// and a quote in its name, one without a final newline.
func genInput(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	x := uint32(7)
	next := func() uint32 { x = x*1664525 + 1013904223; return x >> 8 }
	for f, name := range []string{"a.txt", "it's b.txt", "c $(d) `e`\nf.txt"} {
		var b bytes.Buffer
		for i := 0; i < 3000; i++ {
			for j := uint32(0); j < 1+next()%6; j++ {
				if j > 0 {
					b.WriteByte(' ')
				}
				for c := uint32(0); c < 1+next()%3; c++ {
					b.WriteByte(byte('a' + next()%6))
				}
			}
			b.WriteByte('\n')
		}
		if f == 2 {
			b.WriteString("last line without newline")
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// jobs are run locally and through a Runner; their outputs must match.
var jobs = []struct {
	name string
	o    job.Options
}{
	{"wordcount", job.Options{
		Mapper:         `awk '{for (i = 1; i <= NF; i++) print $i "\t1"}'`,
		Combiner:       "sum",
		Reducer:        "sum",
		NumReduceTasks: 3,
	}},
	// The mapper is a shipped script using map_input_file; the reducer a
	// command.
	{"index", job.Options{
		Mapper:         "index.sh",
		Reducer:        `awk -F '\t' '$1 != k {if (NR > 1) print k "\t" v; k = $1; v = ""} {v = v " " $2} END {print k "\t" v}'`,
		NumReduceTasks: 2,
		Files:          []string{"index.sh"},
	}},
	{"maponly", job.Options{
		Mapper:  "tr a-z A-Z",
		Reducer: "NONE",
	}},
	// A shipped mapper whose name needs quoting, run from the task's
	// working directory.
	{"oddname", job.Options{
		Mapper:         "./" + MustQuote(oddScript),
		Reducer:        "sum",
		NumReduceTasks: 2,
		Files:          []string{oddScript},
	}},
}

const oddScript = "my map $(x) `y` 'q'\n.sh"

const indexScript = `#!/bin/sh
exec awk -v f="${map_input_file##*/}" '{for (i = 1; i <= NF; i++) print $i "\t" f}'
`

func runJob(t *testing.T, in, out string, o job.Options, r job.Runner, parallel int) map[string]string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "index.sh")
	if err := os.WriteFile(script, []byte(indexScript), 0o755); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), oddScript)
	if err := os.WriteFile(odd, []byte("#!/bin/sh\nexec awk '{print $1 \"\\t1\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o.Files = append([]string(nil), o.Files...)
	for i, f := range o.Files {
		switch f {
		case "index.sh":
			o.Files[i] = script
		case oddScript:
			o.Files[i] = odd
		}
	}
	o.Inputs = []string{in}
	o.Output = out
	o.Conf = append(o.Conf, streaming.KV{Key: "mapreduce.input.fileinputformat.split.maxsize", Value: "12000"})
	o.Runner = r
	o.Parallel = parallel
	var stderr bytes.Buffer
	o.Stderr, o.Name, o.Progress = &stderr, "mrrun", job.ProgressOff
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := job.Run(ctx, &o); err != nil {
		t.Fatalf("job: %v\n%s", err, stderr.String())
	}
	parts := map[string]string{}
	es, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), "part-") {
			b, err := os.ReadFile(filepath.Join(out, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			parts[e.Name()] = string(b)
		}
	}
	if len(parts) == 0 {
		t.Fatalf("no part files in %s", out)
	}
	return parts
}

func compareRunner(t *testing.T, r *Runner) {
	in := genInput(t)
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			want := runJob(t, in, filepath.Join(t.TempDir(), "local"), j.o, nil, 2)
			out := filepath.Join(t.TempDir(), "remote")
			o := j.o
			o.KeepTemp = true
			got := runJob(t, in, out, o, r, r.Slots())
			if o.NumReduceTasks > 0 {
				checkKept(t, out)
			}
			hosts := map[string]bool{}
			for _, h := range r.Hosts() {
				hosts[h.Login.Name()] = true
			}
			for _, tr := range readReport(t, out).Tasks {
				for _, a := range tr.Attempts {
					if !hosts[a.Host] {
						t.Errorf("_job.json: attempt %s ran on host %q", a.ID, a.Host)
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d part files, want %d", len(got), len(want))
			}
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s differs from the local job's (%d bytes, want %d)", name, len(got[name]), len(w))
				}
			}
			if j.name == "index" && !strings.Contains(sortedParts(got), "it's b.txt") {
				t.Errorf("the index does not name the input file \"it's b.txt\"")
			}
		})
	}
}

// TestRunnerLocalWorker runs jobs on a worker that is a child process
// (the ":" login): the protocol without ssh.
func TestRunnerLocalWorker(t *testing.T) {
	scratch := t.TempDir()
	ls, _ := ParseLogins("3/:")
	r, err := Dial(context.Background(), ls, HostOptions{Scratch: scratch}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	compareRunner(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checkScratchGone(t, scratch, r)
}

// TestRunnerLocalDirect runs the jobs on three workers that are child
// processes with direct shuffle: their listeners on the loopback
// address, no partition relayed by the driver.
func TestRunnerLocalDirect(t *testing.T) {
	scratch := t.TempDir()
	ls, _ := ParseLogins("1/:,1/:,1/:")
	r, err := Dial(context.Background(), ls, HostOptions{Scratch: scratch, Direct: true}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.Hosts() {
		if !h.Direct || !strings.HasPrefix(h.DirectAddr, "127.0.0.1:") {
			t.Fatalf("%s: direct shuffle %v at %q", h.Login.Name(), h.Direct, h.DirectAddr)
		}
	}
	compareRunner(t, r)
	if n := r.RelayedBytes(); n != 0 {
		t.Errorf("the driver relayed %d bytes of partitions", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checkScratchGone(t, scratch, r)
}

// checkScratchGone checks that r's workers, closed, left nothing in
// scratch; if they did, it says what and how each worker ended.
func checkScratchGone(t *testing.T, scratch string, r *Runner) {
	t.Helper()
	es, _ := os.ReadDir(scratch)
	if len(es) == 0 {
		return
	}
	filepath.WalkDir(scratch, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			t.Logf("left: %s", p)
		}
		return nil
	})
	for _, h := range r.Hosts() {
		t.Logf("%s: session %d, scratch %s, ended: %v, stderr: %q", h.Login.Name(), h.Hello.SID, h.Hello.Scratch, h.cmd.ProcessState, h.stderr.String())
	}
	t.Errorf("scratch not empty after Close: %v", es)
}

// TestRunnerLab runs the jobs on three lab hosts over ssh, with the
// partitions relayed by the driver and with direct shuffle (host to
// host: the driver relays none).
func TestRunnerLab(t *testing.T) {
	lab := sshlabtest.Start(t, 3)
	t.Run("relay", func(t *testing.T) { runnerLab(t, lab, false) })
	t.Run("direct", func(t *testing.T) { runnerLab(t, lab, true) })
}

func runnerLab(t *testing.T, lab *sshlabtest.Lab, direct bool) {
	ls, err := ParseLogins(strings.Join(lab.Hosts, ","))
	if err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}, Direct: direct}, &syncWriter{w: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if direct {
		for _, h := range r.Hosts() {
			if !h.Direct || h.DirectAddr == "" || strings.HasPrefix(h.DirectAddr, "127.") {
				t.Fatalf("%s: direct shuffle %v at %q", h.Login.Name(), h.Direct, h.DirectAddr)
			}
		}
	}
	// The first run copies the binary to the fresh hosts; the next
	// finds it there.
	for _, h := range r.Hosts() {
		if !h.Copied && !direct {
			t.Errorf("%s: binary not copied to a fresh host", h.Login.Name())
		}
	}
	compareRunner(t, r)
	for _, h := range r.Hosts() {
		if h.Done.Load() == 0 {
			t.Errorf("%s ran no task", h.Login.Name())
		}
	}
	if n := r.RelayedBytes(); direct && n != 0 || !direct && n == 0 {
		t.Errorf("the driver relayed %d bytes of partitions", n)
	}
	if warn.Len() > 0 {
		t.Errorf("warnings: %q", warn.String())
	}
	// The map outputs are in the workers' scratch directories (mode
	// 0700) until the workers end.
	for _, h := range lab.Hosts {
		out := lab.Run(t, h, "stat -c %a /tmp/mrpipe-worker-*; ls /tmp/mrpipe-worker-*/maps/*/ | grep -c '^part-' || true")
		if f := strings.Fields(out); len(f) != 2 || f[0] != "700" || f[1] == "0" {
			t.Errorf("%s: scratch mode and part files kept: %q", h, out)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range lab.Hosts {
		// No worker and no scratch directory remain.
		if out := lab.Run(t, h, "ls -A /tmp"); out != "" {
			t.Errorf("%s after Close: /tmp holds %q", h, out)
		}
		if ps, err := lab.Processes(h); err != nil || len(ps) != 0 {
			t.Errorf("%s after Close: processes %q, %v", h, ps, err)
		}
	}
}

// TestRunnerHostLost kills one host while it runs a task: its worker
// alone (kill -9), or every process of the host (worker and sshd), during
// the map phase and during the reduce phase. The job completes on the
// other hosts with the same output as in local mode, and _job.json shows
// the attempts lost with the host and the tasks that ran again.
func TestRunnerHostLost(t *testing.T) {
	t.Run("map/worker", func(t *testing.T) { hostLost(t, true, false, false) })
	t.Run("map/host", func(t *testing.T) { hostLost(t, true, true, false) })
	t.Run("reduce/host", func(t *testing.T) { hostLost(t, false, true, false) })
	t.Run("reduce/host/direct", func(t *testing.T) { hostLost(t, false, true, true) })
}

func hostLost(t *testing.T, inMap, wholeHost, direct bool) {
	lab := sshlabtest.Start(t, 3)
	ls, _ := ParseLogins(strings.Join(lab.Hosts, ","))
	var warn bytes.Buffer
	r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}, Direct: direct}, &syncWriter{w: &warn})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var victim *Host
	for _, h := range r.Hosts() {
		if h.Login.Host == "h2" {
			victim = h
		}
	}
	// On h2 only, the held command says it started and then waits
	// (until it is killed).
	lab.Run(t, "h2", "touch "+lab.Scratch+"/hold")
	hold := fmt.Sprintf(`if [ -e %[1]s/hold ]; then echo $$ >%[1]s/started; i=0; while [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; fi; cat`, lab.Scratch)
	// No backup attempt of the held task: it is the host's loss that
	// must make the task run again.
	o := job.Options{Mapper: "cat", Reducer: "cat", NumReduceTasks: 3, Speculative: job.SpeculativeOff}
	if inMap {
		o.Mapper = hold
	} else {
		o.Reducer = hold
	}
	in := genInput(t)
	want := runJob(t, in, filepath.Join(t.TempDir(), "local"), job.Options{Mapper: "cat", Reducer: "cat", NumReduceTasks: 3}, nil, 2)

	killed := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := lab.Command(ctx, "h2", "test -e "+lab.Scratch+"/started").Run()
			cancel()
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			var out []byte
			if wholeHost {
				// Every process in h2's network namespace: sshd, the
				// worker, the reducer.
				out, err = exec.Command("sh", "-c", "ip netns pids "+lab.Name+"-h2 | xargs -r kill -9 2>/dev/null; true").CombinedOutput()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				out, err = lab.Command(ctx, "h2", fmt.Sprintf("kill -9 %d", victim.Hello.PID)).CombinedOutput()
				cancel()
			}
			if err != nil {
				err = fmt.Errorf("kill: %v: %s", err, out)
			}
			killed <- err
			return
		}
		killed <- fmt.Errorf("the held command never started on h2")
	}()
	out := filepath.Join(t.TempDir(), "remote")
	got := runJob(t, in, out, o, r, r.Slots())
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	// Close waits for the cleanup of the lost host (when it can be
	// reached): the held command is killed, the scratch dir removed.
	r.Close()
	if !wholeHost {
		if out := lab.Run(t, "h2", "ls -A /tmp; p=$(cat "+lab.Scratch+"/started); s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null); if [ -n \"$s\" ] && [ \"$s\" != Z ]; then echo held command $p alive: $s; fi"); out != "" {
			t.Errorf("h2 after the cleanup: %q", out)
		}
	}
	if victim.Err() == nil {
		t.Error("h2 was not lost")
	}
	if n := r.RelayedBytes(); direct && n != 0 {
		t.Errorf("direct shuffle: the driver relayed %d bytes of partitions", n)
	}
	if w := warn.String(); strings.Count(w, "warning") != 1 || !strings.Contains(w, "h2: host lost") {
		t.Errorf("warnings: %q, want one about h2", w)
	}
	if len(got) != len(want) {
		t.Fatalf("%d part files, want %d", len(got), len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s differs from the local job's", name)
		}
	}
	// The map tasks that had finished on h2 ran again elsewhere, and the
	// report says so.
	rep := readReport(t, out)
	onH2, rerun, lost := 0, 0, 0
	for _, tr := range rep.Tasks {
		// The held attempts failed with h2, and their tasks ran again
		// elsewhere.
		phase := map[bool]string{true: "map", false: "reduce"}[inMap]
		if tr.Type == phase {
			for _, a := range tr.Attempts {
				if a.Host == "h2" && a.Error != "" {
					lost++
					if !strings.Contains(a.Error, "h2") {
						t.Errorf("%s attempt %s on h2 failed with %q, which does not name h2", tr.Type, a.ID, a.Error)
					}
				}
			}
		}
		if tr.Type != "map" {
			continue
		}
		var ok *job.AttemptReport
		for _, a := range tr.Attempts {
			if a.Error == "" {
				ok = a
			}
			if a.Reason != "" {
				rerun++
				if a.Reason != "output lost with host h2" || a.Host == "h2" {
					t.Errorf("map attempt %s on %s: reason %q", a.ID, a.Host, a.Reason)
				}
			}
		}
		if ok == nil {
			t.Errorf("%s: no successful attempt", tr.ID)
		} else if ok.Host == "h2" {
			t.Errorf("%s: its output is on the lost host h2", tr.ID)
		}
		for _, a := range tr.Attempts {
			if a.Host == "h2" && a.Error == "" {
				onH2++
			}
		}
	}
	if rerun != onH2 || (!inMap && onH2 == 0) {
		t.Errorf("%d map tasks finished on h2, %d ran again", onH2, rerun)
	}
	if lost == 0 {
		t.Errorf("_job.json shows no attempt lost with h2")
	}
}

// checkKept checks that the driver's map directories of a job run with
// KeepTemp hold a manifest and a location, and no part file: the part
// files stayed on the hosts.
func checkKept(t *testing.T, out string) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(out, job.TempDir, "map-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no map directories in %s/%s: %v", out, job.TempDir, err)
	}
	for _, d := range dirs {
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != LocationName+" manifest.json" {
			t.Errorf("%s holds %q, want the manifest and the location only", d, names)
		}
	}
}

func readReport(t *testing.T, out string) *job.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, job.JobName))
	if err != nil {
		t.Fatal(err)
	}
	var rep job.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func sortedParts(parts map[string]string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
	}
	return b.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRunnerLeavesNothing: after a failed job and after an interrupted
// one, no process of the job and no scratch file remain on any host.
func TestRunnerLeavesNothing(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	ls, _ := ParseLogins(strings.Join(lab.Hosts, ","))
	in := genInput(t)
	dial := func() *Runner {
		r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}}, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Mappers record their pids in the host's scratch dir (a file may be
	// empty: a mapper killed between the shell's open and its echo).
	check := func(when string) {
		t.Helper()
		for _, h := range lab.Hosts {
			if left := lab.Leftovers(t, h); len(left) != 0 {
				t.Errorf("%s after %s: %q", h, when, left)
			}
		}
	}

	r := dial()
	o := job.Options{Mapper: "echo $$ >" + lab.Scratch + "/pid.$$; exit 3", Reducer: "cat", NumReduceTasks: 2, Inputs: []string{in},
		Output: filepath.Join(t.TempDir(), "out"), Runner: r, Parallel: r.Slots(), Stderr: io.Discard, Name: "mrrun", Progress: job.ProgressOff}
	// (Its error names the last attempt's failure, here that no host was
	// left: both were excluded after three failed attempts each.)
	if _, err := job.Run(context.Background(), &o); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Errorf("failing job: %v, want a failed task", err)
	}
	r.Close()
	check("a failed job")
	for _, h := range lab.Hosts {
		lab.Run(t, h, "rm -f "+lab.Scratch+"/pid.*")
	}

	r = dial()
	ctx, cancel := context.WithCancel(context.Background())
	o.Mapper = "echo $$ >" + lab.Scratch + "/pid.$$; exec sleep 600"
	o.Output = filepath.Join(t.TempDir(), "out2")
	o.Runner, o.Parallel = r, r.Slots()
	done := make(chan error, 1)
	go func() {
		_, err := job.Run(ctx, &o)
		done <- err
	}()
	// Wait for a mapper on every host, then interrupt.
	for _, h := range lab.Hosts {
		for i := 0; ; i++ {
			if lab.Run(t, h, "ls "+lab.Scratch+" | grep -c '^pid' || true") != "0\n" {
				break
			}
			if i > 3000 {
				t.Fatalf("no mapper started on %s", h)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("interrupted job: no error")
	}
	r.Close()
	check("an interrupted job")
}

// BenchmarkRelayLab measures the relay through the driver: a map-only
// identity job and a one-reducer sort of the same input on one lab host,
// so every byte goes to the host and back over ssh, beside the same jobs
// in local mode.
func BenchmarkRelayLab(b *testing.B) {
	lab := sshlabtest.Start(b, 1)
	r, err := Dial(context.Background(), []Login{{Host: "h1"}}, HostOptions{SSH: SSH{Command: lab.SSH()}}, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	in := filepath.Join(b.TempDir(), "in")
	var buf bytes.Buffer
	for i := 0; buf.Len() < 64<<20; i++ {
		fmt.Fprintf(&buf, "key%07d\tvalue %d of the relay benchmark\n", (i*7919)%1000003, i)
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    job.Options
		r    job.Runner
	}{
		{"maponly/local", job.Options{Reducer: "NONE"}, nil},
		{"maponly/relay", job.Options{Reducer: "NONE"}, r},
		{"shuffle/local", job.Options{NumReduceTasks: 1}, nil},
		{"shuffle/relay", job.Options{NumReduceTasks: 1}, r},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			for i := 0; i < b.N; i++ {
				o := c.o
				o.Inputs, o.Output = []string{in}, filepath.Join(b.TempDir(), "out")
				o.Runner, o.Parallel, o.Stderr, o.Name, o.Progress = c.r, r.Slots(), io.Discard, "mrrun", job.ProgressOff
				if _, err := job.Run(context.Background(), &o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShuffleRelay measures the relay of a partition from the host
// that keeps it through the driver to another, as a reduce task there
// receives it, without the reduce: the bytes of a part file (hardly
// compressible records, so its size is what the records are) from a
// fetch request on one host into a request on the other. "pipes" has
// two workers that are child processes (the protocol's own cost),
// "lab/relay" two lab hosts over ssh.
// BenchmarkShuffleRelay relays one map output's part file from one
// host to another through the driver. "random" is 64 MiB of hardly
// compressible lines (the part file is as big as its data: the wire's
// worst case); "logs" is 64 MiB of web-log lines, which the map output
// keeps S2-compressed, as a job's shuffle does. MB/s counts the
// partition's data; wire-MB/s the part file's bytes.
func BenchmarkShuffleRelay(b *testing.B) {
	for _, kind := range []string{"random", "logs"} {
		b.Run("pipes/"+kind, func(b *testing.B) {
			ls, _ := ParseLogins("1/:,1/:")
			benchRelay(b, ls, HostOptions{Scratch: b.TempDir()}, kind)
		})
	}
	b.Run("lab", func(b *testing.B) {
		lab := sshlabtest.Start(b, 2)
		for _, kind := range []string{"random", "logs"} {
			b.Run("relay/"+kind, func(b *testing.B) {
				ls, _ := ParseLogins("h1,h2")
				benchRelay(b, ls, HostOptions{SSH: SSH{Command: lab.SSH()}}, kind)
			})
		}
	})
}

// benchInput returns about 64 MiB of lines: random printable bytes, or
// web-log lines made of a few hundred paths, addresses and agents.
func benchInput(kind string) []byte {
	var buf bytes.Buffer
	buf.Grow(64<<20 + 300)
	x := uint64(1)
	next := func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	agents := []string{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
		"curl/8.4.0", "Googlebot/2.1 (+http://www.google.com/bot.html)"}
	for buf.Len() < 64<<20 {
		if kind == "random" {
			for i := 0; i < 100; i++ {
				buf.WriteByte(byte(33 + next()%94))
			}
			buf.WriteByte('\n')
			continue
		}
		n := next()
		fmt.Fprintf(&buf, "10.%d.%d.%d - - [30/Nov/2026:%02d:%02d:%02d +0000] \"GET /shop/item/%d?ref=%d HTTP/1.1\" %d %d \"-\" \"%s\"\n",
			n%4, n>>8%256, n>>16%256, n>>24%24, n>>32%60, n>>40%60, n>>44%500, n>>52%20,
			[]int{200, 200, 200, 304, 404}[n>>57%5], 200+n>>20%40000, agents[n>>60%4])
	}
	return buf.Bytes()
}

func benchRelay(b *testing.B, ls []Login, ho HostOptions, kind string) {
	r, err := Dial(context.Background(), ls, ho, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	in := filepath.Join(b.TempDir(), "in")
	if err := os.WriteFile(in, benchInput(kind), 0o644); err != nil {
		b.Fatal(err)
	}
	// One map task keeps its output on a host; its part file is relayed
	// to the other.
	out := filepath.Join(b.TempDir(), "out")
	o := job.Options{Inputs: []string{in}, Output: out, NumReduceTasks: 1, Reducer: "cat >/dev/null", KeepTemp: true,
		Conf:   []streaming.KV{{Key: "mapreduce.input.fileinputformat.split.minsize", Value: "1000000000"}},
		Runner: r, Parallel: r.Slots(), Stderr: io.Discard, Name: "mrrun", Progress: job.ProgressOff}
	ctx := context.Background()
	if _, err := job.Run(ctx, &o); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(out, job.TempDir, "map-00000")
	loc, err := readLocation(dir)
	if err != nil || loc == nil {
		b.Fatalf("no location: %v", err)
	}
	src, dst := r.Hosts()[0], r.Hosts()[1]
	if src.Hello.Scratch != loc.Scratch {
		src, dst = dst, src
	}
	pt, err := shuffle.FindPart(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(pt.Info.Bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := dst.request(ctx, msgWork, workMsg{Key: fmt.Sprintf("bench%d", i)}, "", "", func(id uint32) error {
			return src.fetch(ctx, loc.Key, pt.Info.File, dst.wire, id, "part")
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(pt.Info.FileBytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "wire-MB/s")
}

// badOutputs runs the job on r, but before its first reduce task spoils
// every map output the workers keep below scratch, as a host that
// cannot serve them does: their manifests become garbage.
//
// With parts set it cuts the part files in half instead, as a disk that
// lost data does: their manifests no longer match them.
type badOutputs struct {
	*Runner
	scratch string
	parts   bool
	once    sync.Once
	spoiled int
}

func (b *badOutputs) RunReduce(ctx context.Context, t *job.ReduceTask) (*job.Result, error) {
	b.once.Do(func() {
		if b.parts {
			ps, _ := filepath.Glob(filepath.Join(b.scratch, "*", "maps", "*", "part-*"))
			for _, p := range ps {
				if fi, err := os.Stat(p); err == nil && fi.Size() > 1 && os.Truncate(p, fi.Size()/2) == nil {
					b.spoiled++
				}
			}
			return
		}
		ms, _ := filepath.Glob(filepath.Join(b.scratch, "*", "maps", "*", shuffle.ManifestName))
		for _, m := range ms {
			if os.WriteFile(m, []byte("spoiled"), 0o600) == nil {
				b.spoiled++
			}
		}
	})
	return b.Runner.RunReduce(ctx, t)
}

// TestRunnerDirectLost has reduce tasks fail to fetch partitions from
// the other worker: those map outputs are lost, the map tasks run again
// and the job completes with the output of local mode. (A partition
// read in place uses the driver's copy of the manifest, so only the
// fetched ones fail.)
func TestRunnerDirectLost(t *testing.T) { badOutputsJob(t, true, false) }

// TestRunnerCorruptParts cuts the map outputs the workers keep in half
// before the reduce phase, with the partitions relayed by the driver or
// read in place: the reducers' checks against the manifests find them
// bad, those map outputs are lost, the map tasks run again and the job
// completes with the output of local mode.
func TestRunnerCorruptParts(t *testing.T) { badOutputsJob(t, false, true) }

func badOutputsJob(t *testing.T, direct, parts bool) {
	scratch := t.TempDir()
	ls, _ := ParseLogins("1/:,1/:")
	r, err := Dial(context.Background(), ls, HostOptions{Scratch: scratch, Direct: direct}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := genInput(t)
	o := job.Options{Mapper: "cat", Reducer: "cat", NumReduceTasks: 3, Speculative: job.SpeculativeOff}
	want := runJob(t, in, filepath.Join(t.TempDir(), "local"), o, nil, 2)
	out := filepath.Join(t.TempDir(), "remote")
	b := &badOutputs{Runner: r, scratch: scratch, parts: parts}
	got := runJob(t, in, out, o, b, r.Slots())
	if b.spoiled == 0 {
		t.Fatal("no map output spoiled")
	}
	if len(got) != len(want) {
		t.Fatalf("%d part files, want %d", len(got), len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s differs from the local job's", name)
		}
	}
	rerun := 0
	for _, tr := range readReport(t, out).Tasks {
		for _, a := range tr.Attempts {
			if a.Reason != "" {
				rerun++
				if want := map[bool]string{false: "output lost with host local", true: "output bad on host local"}[parts]; a.Reason != want {
					t.Errorf("map attempt %s: reason %q", a.ID, a.Reason)
				}
			}
		}
	}
	t.Logf("%d map outputs spoiled, %d map attempts ran again", b.spoiled, rerun)
	if rerun == 0 {
		t.Error("no map task ran again")
	}
	if n := r.RelayedBytes(); direct && n != 0 {
		t.Errorf("the driver relayed %d bytes of partitions", n)
	} else if !direct && n == 0 {
		t.Errorf("the driver relayed no partition")
	}
}
