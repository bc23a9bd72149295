package job

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// genText writes n lines of pseudo-random words to path.
func genText(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	x := uint32(12345)
	next := func() uint32 { x = x*1664525 + 1013904223; return x >> 8 }
	for i := 0; i < n; i++ {
		k := 1 + next()%9
		for j := uint32(0); j < k; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			m := 1 + next()%3
			for c := uint32(0); c < m; c++ {
				b.WriteByte(byte('a' + next()%7))
			}
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readParts returns the part files of dir by name.
func readParts(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), "part-") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m[e.Name()] = string(b)
		}
	}
	return m
}

func sortedLines(parts map[string]string) string {
	var lines []string
	for _, p := range parts {
		lines = append(lines, strings.SplitAfter(p, "\n")...)
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func run(t *testing.T, o *Options) *Report {
	t.Helper()
	var stderr bytes.Buffer
	o.Stderr, o.Name = &stderr, "mrrun"
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	return rep
}

// TestMatrix runs the same jobs with M x R x -j settings: for each R the
// part files are identical whatever M and -j, and all R agree on the
// records.
func TestMatrix(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 20000)
	jobs := []struct{ name, mapper, combiner, reducer string }{
		{"wordcount", `awk '{for (i = 1; i <= NF; i++) print $i "\t1"}'`, "sum", "sum"},
		// values reach the reducer in input order, whatever the splits
		{"stable", `awk '{print $1 "\t" $0}'`, "", "cat"},
		{"collect", `awk '{print $NF "\t" $1}'`, "collect", "collect"},
	}
	for _, jb := range jobs {
		all := map[int]map[string]string{}
		var union string
		for _, r := range []int{1, 2, 5} {
			var first map[string]string
			var firstName string
			for _, m := range []int{1, 3, 7} {
				for _, j := range []int{1, 2, 4} {
					name := fmt.Sprintf("%s-m%d-r%d-j%d", jb.name, m, r, j)
					out := filepath.Join(dir, name)
					rep := run(t, &Options{
						Inputs: []string{in}, Output: out, Mapper: jb.mapper, Combiner: jb.combiner,
						Reducer: jb.reducer, NumReduceTasks: r, Parallel: j, Quiet: true,
						Conf: confs("mapreduce.job.maps", fmt.Sprint(m)),
					})
					if rep.MapTasks < m || rep.MapTasks > m+1 {
						t.Errorf("%s: %d map tasks, want about %d", name, rep.MapTasks, m)
					}
					parts := readParts(t, out)
					if len(parts) != r {
						t.Fatalf("%s: %d part files, want %d", name, len(parts), r)
					}
					if first == nil {
						first, firstName = parts, name
						continue
					}
					if !reflect.DeepEqual(parts, first) {
						t.Errorf("%s differs from %s", name, firstName)
					}
				}
			}
			all[r] = first
			if r == 1 {
				union = sortedLines(first)
			} else if sortedLines(first) != union {
				t.Errorf("%s: R=%d holds other records than R=1", jb.name, r)
			}
		}
	}
}

func confs(kv ...string) []streaming.KV {
	var out []streaming.KV
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, streaming.KV{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestMapOnlyAndLazyOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 3000)
	out := filepath.Join(dir, "out")
	rep := run(t, &Options{Inputs: []string{in}, Output: out, Mapper: "tr a-z A-Z", Reducer: "NONE",
		NumReduceTasks: -1, Quiet: true, Conf: confs("mapreduce.job.maps", "3")})
	if rep.ReduceTasks != 0 || rep.MapTasks != 3 {
		t.Fatalf("%d map tasks, %d reduce tasks; want 3, 0", rep.MapTasks, rep.ReduceTasks)
	}
	parts := readParts(t, out)
	want, _ := os.ReadFile(in)
	got := parts["part-00000"] + parts["part-00001"] + parts["part-00002"]
	if got != strings.ToUpper(string(want)) {
		t.Errorf("map-only output is not the upper-cased input, in order")
	}
	// -lazyOutput: a map task with no output makes no file
	out2 := filepath.Join(dir, "lazy")
	run(t, &Options{Inputs: []string{in}, Output: out2, Mapper: `if test "$mapreduce_task_partition" = 1; then cat >/dev/null; else cat; fi`,
		Reducer: "NONE", NumReduceTasks: -1, Quiet: true, LazyOutput: true,
		Conf: confs("mapreduce.job.maps", "3")})
	parts = readParts(t, out2)
	if _, ok := parts["part-00001"]; ok || len(parts) != 2 {
		t.Errorf("lazy output: parts %v, want part-00000 and part-00002", keys(parts))
	}
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func TestAggregate(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("a 1\nb 2\na 3\nc 4\nb 5\n"), 0o644)
	out := filepath.Join(dir, "out")
	rep := run(t, &Options{Inputs: []string{in}, Output: out, NumReduceTasks: -1, Quiet: true,
		Mapper:  `awk '{print "LongValueSum:" $1 "\t" $2; print "LongValueMax:max\t" $2; print "UniqValueCount:keys\t" $1}'`,
		Reducer: "Aggregate", Conf: confs("mapreduce.job.maps", "2")})
	got := readParts(t, out)["part-00000"]
	want := "max\t5\na\t4\nb\t7\nc\t4\nkeys\t3\n" // sorted by TYPE:ID
	if got != want {
		t.Errorf("aggregate output %q, want %q", got, want)
	}
	if rep.Counters["Map-Reduce Framework"]["Combine output records"] == 0 {
		t.Errorf("aggregate ran no combiner: %v", rep.Counters)
	}
}

func TestReportAndKeepTemp(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 2000)
	out := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	rep, err := Run(context.Background(), &Options{Inputs: []string{in}, Output: out, NumReduceTasks: 2,
		Mapper: "cat", KeepTemp: true, Progress: ProgressOn, Verbose: true, Stderr: &stderr, Name: "mrrun",
		Conf: confs("mapreduce.job.maps", "2", "my.own.key", "1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"mrrun: warning: -D properties exported to the tasks but not read by mrrun: my.own.key\n",
		"mrrun: map: 2 tasks, ", "mrrun: map: 2/2 tasks done in ", "mrrun: reduce: 2 tasks\n",
		"mrrun: reduce: 2/2 tasks done in ", "attempt attempt_local_0001_r_000001_0 succeeded",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.ContainsAny(stderr.String(), "\r\x1b") {
		t.Errorf("control characters in non-terminal progress: %q", stderr.String())
	}
	var onDisk Report
	b, err := os.ReadFile(filepath.Join(out, JobName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.State != "succeeded" || len(onDisk.Tasks) != 4 || onDisk.Tasks[3].ID != "task_local_0001_r_000001" ||
		len(onDisk.Tasks[0].Attempts) != 1 || onDisk.Counters["Job Counters"]["Launched map tasks"] != 2 {
		t.Errorf("_job.json: %s", b)
	}
	if rep.State != "succeeded" {
		t.Errorf("state %q", rep.State)
	}
	for _, f := range []string{"_temporary/map-00000/manifest.json", "_temporary/journal", "_SUCCESS"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("--keep-temp: %v", err)
		}
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"a":                {"a"},
		"a,b":              {"a", "b"},
		"x/{a,b}*.txt,c":   {"x/{a,b}*.txt", "c"},
		"a,,b":             {"a", "", "b"},
		"{a,{b,c}},d,e{,}": {"{a,{b,c}}", "d", "e{,}"},
	} {
		if got := SplitList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	base := func() *Options {
		return &Options{Inputs: []string{"in"}, Output: "out", NumReduceTasks: -1, Parallel: 2}
	}
	o := base()
	o.Conf = confs("mapreduce.job.reduces", "3", "stream.num.map.output.key.fields", "2",
		"stream.map.output.field.separator", ".", "mapreduce.task.io.sort.mb", "10",
		"mapreduce.map.maxattempts", "2", "mapreduce.reduce.maxattempts", "7",
		"mapreduce.partition.keycomparator.options", "-k2,2nr", "x.y", "1")
	o.Partitioner = "KeyFieldBasedPartitioner"
	s, err := resolve(o)
	if err != nil {
		t.Fatal(err)
	}
	sp := s.spec
	if sp.Reduces != 3 || sp.Proto.Key.Fields != 2 || sp.Proto.Key.Separator != "." || sp.SortMemory != 10<<20 ||
		s.mapAttempts != 2 || s.reduceAttempts != 7 || sp.Comparator != "-k2,2nr" || sp.KeyPartitioner != "-k1" ||
		sp.KeyFieldSep != "." || !reflect.DeepEqual(s.ignored, []string{"x.y"}) {
		t.Errorf("resolved %+v %+v", s, sp)
	}
	o.NumReduceTasks = 5 // -numReduceTasks wins over -D mapreduce.job.reduces
	if s, _ := resolve(o); s.spec.Reduces != 5 {
		t.Errorf("R = %d, want 5", s.spec.Reduces)
	}
	o = base()
	o.Reducer = "NONE"
	o.Combiner = "sum"
	if s, _ := resolve(o); s.spec.Reduces != 0 || s.spec.Combiner != "" {
		t.Errorf("NONE: R = %d, combiner %q", s.spec.Reduces, s.spec.Combiner)
	}
	for _, bad := range [][]string{
		{"mapreduce.job.reduces", "-1"}, {"mapreduce.task.io.sort.mb", "0"},
		{"stream.non.zero.exit.is.failure", "maybe"}, {"mapreduce.partition.keycomparator.options", "-k0"},
		{"mapreduce.job.output.key.comparator.class", "Foo"},
	} {
		o := base()
		o.Conf = confs(bad...)
		if _, err := resolve(o); !IsConfigError(err) {
			t.Errorf("-D %s=%s: error %v, want a ConfigError", bad[0], bad[1], err)
		}
	}
}

// TestFingerprint checks what makes --resume see another job: a split's
// file changing size or modification time, wherever the file is (the
// sizes and times come from planning, which asks the host for HOST:PATH
// inputs).
func TestFingerprint(t *testing.T) {
	files := []split.Input{{Path: "a.txt", Size: 100, ModTime: 1}, {Path: "h1:/data/b", Size: 50, ModTime: 2}}
	fp := func(files []split.Input) string {
		splits, err := split.PlanFiles(files, split.Options{Size: 40})
		if err != nil {
			t.Fatal(err)
		}
		d := &driver{s: &settings{}, files: files, splits: splits}
		return d.fingerprint()
	}
	base := fp(files)
	if fp(slices.Clone(files)) != base {
		t.Fatal("the same inputs give another fingerprint")
	}
	for i, change := range []func(f []split.Input){
		func(f []split.Input) { f[1].ModTime++ },
		func(f []split.Input) { f[0].ModTime++ },
		func(f []split.Input) { f[1].Size++ },
		func(f []split.Input) { f[0].Path = "c.txt" },
	} {
		f := slices.Clone(files)
		change(f)
		if fp(f) == base {
			t.Errorf("change %d: same fingerprint", i)
		}
	}
}

func TestSplitSizeFor(t *testing.T) {
	const M = 1 << 20
	for _, tc := range []struct {
		name  string
		s     settings
		total int64
		want  int64
	}{
		{"small input", settings{parallel: 2}, 10 * M, 64 * M},
		{"empty input", settings{parallel: 2}, 0, 64 * M},
		{"one per slot", settings{parallel: 2}, 1024 * M, 512 * M},
		{"just above the default", settings{parallel: 2}, 130 * M, 65 * M},
		{"capped", settings{parallel: 2}, 4096 * M, 512 * M},
		{"many slots", settings{parallel: 6}, 1024 * M, (1024*M + 5) / 6},
		{"at least the default", settings{parallel: 16}, 1024 * M, 64 * M},
		{"remote: two per slot", settings{parallel: 2, remote: true}, 1024 * M, 256 * M},
		{"remote: capped", settings{parallel: 2, remote: true}, 4096 * M, 256 * M},
		{"remote: many slots", settings{parallel: 6, remote: true}, 1024 * M, (1024*M + 11) / 12},
		{"remote: at least the default", settings{parallel: 8, remote: true}, 1024 * M, 64 * M},
		{"maxsize decides", settings{parallel: 2, splitSize: 32 * M}, 1024 * M, 32 * M},
		{"minsize raises", settings{parallel: 2, minSplit: 768 * M}, 1024 * M, 768 * M},
		{"remote: minsize raises", settings{parallel: 2, remote: true, minSplit: 300 * M}, 1024 * M, 300 * M},
		{"remote: maps hint lowers", settings{parallel: 2, remote: true, mapsHint: 10}, 1024 * M, (1024*M + 9) / 10},
		{"maps hint lowers", settings{parallel: 2, mapsHint: 10}, 1024 * M, (1024*M + 9) / 10},
	} {
		if got := tc.s.splitSizeFor(tc.total); got != tc.want {
			t.Errorf("%s: splitSizeFor(%d) = %d, want %d", tc.name, tc.total, got, tc.want)
		}
	}
}

// TestSplitSizeOf: one task per slot, unless the files cut one by one
// would leave some slots alone at the end; then two per slot.
func TestSplitSizeOf(t *testing.T) {
	const M = 1 << 20
	files := func(sizes ...int64) []split.Input {
		var f []split.Input
		for i, n := range sizes {
			f = append(f, split.Input{Path: fmt.Sprint(i), Size: n})
		}
		return f
	}
	for _, tc := range []struct {
		name  string
		s     settings
		files []split.Input
		want  int64
	}{
		{"one file", settings{parallel: 2}, files(1024 * M), 512 * M},
		{"as many splits as slots", settings{parallel: 2}, files(300*M, 300*M), 300 * M},
		{"three files on two slots", settings{parallel: 2}, files(300*M, 300*M, 300*M), 225 * M},
		{"a short last split", settings{parallel: 2}, files(1000*M, 100*M), 275 * M},
		{"four splits on two slots", settings{parallel: 2}, files(700*M, 700*M), 512 * M},
		{"small files", settings{parallel: 2}, files(M, M, M), 64 * M},
		{"maxsize decides", settings{parallel: 2, splitSize: 100 * M}, files(300*M, 300*M, 300*M), 100 * M},
		{"remote", settings{parallel: 2, remote: true}, files(300*M, 300*M, 300*M), 225 * M},
		{"remote, one file", settings{parallel: 2, remote: true}, files(1024 * M), 256 * M},
	} {
		if got := tc.s.splitSizeOf(tc.files); got != tc.want {
			t.Errorf("%s: splitSizeOf = %d MiB, want %d MiB", tc.name, got/M, tc.want/M)
		}
	}
}

// TestOverwritable: --overwrite removes a job's output, never the current
// directory or one above it, nor a directory holding other files.
func TestOverwritable(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, n := range []string{"part-00000", SuccessName, JobName, LogsDir, TempDir} {
		if err := os.MkdirAll(filepath.Join(out, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := overwritable(out); err != nil {
		t.Errorf("a job's output: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	if err := overwritable(empty); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(out, "notes.txt"), nil, 0o644)
	if err := overwritable(out); err == nil || !strings.Contains(err.Error(), `"notes.txt"`) {
		t.Errorf("a directory with notes.txt: %v", err)
	}
	os.Remove(filepath.Join(out, "notes.txt"))
	// The current directory, and the directories above it.
	t.Chdir(filepath.Join(out, LogsDir))
	for _, d := range []string{".", "..", out, dir} {
		if err := overwritable(d); err == nil || !strings.Contains(err.Error(), "current directory") {
			t.Errorf("overwritable(%q) from %s: %v", d, filepath.Join(out, LogsDir), err)
		}
	}
	// A sibling whose name starts like the current directory's is fine.
	sib := filepath.Join(out, LogsDir+"x")
	os.Mkdir(sib, 0o755)
	t.Chdir(filepath.Join(out, LogsDir))
	if err := overwritable(filepath.Join("..", LogsDir+"x")); err != nil {
		t.Errorf("a sibling: %v", err)
	}
}
