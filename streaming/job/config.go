package job

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/extsort"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// Options is a job as given on the command line.
type Options struct {
	// Inputs are files, directories and glob patterns; each may be a
	// comma-separated list (commas inside {} belong to the pattern).
	Inputs []string
	// Output is the output directory.
	Output string
	// Mapper is the mapper command; "" passes records through.
	Mapper string
	// Combiner is a command or a built-in name; "" means none.
	Combiner string
	// Reducer is a command, a built-in name, "aggregate", "NONE" (a
	// map-only job) or "" (records pass through).
	Reducer string
	// NumReduceTasks is R; negative means not given (then
	// mapreduce.job.reduces, else 1).
	NumReduceTasks int
	// Partitioner is a Java class name; only KeyFieldBasedPartitioner
	// (short or full name) is known.
	Partitioner string
	// Conf holds the -D properties in order; CmdEnv the -cmdenv variables.
	Conf   []streaming.KV
	CmdEnv []streaming.KV
	// Files are shipped to the tasks' working directory (-file, -files).
	Files []string
	// LazyOutput creates no empty part files.
	LazyOutput bool
	// Parallel is the number of tasks run at once; 0 means the number of
	// CPUs.
	Parallel int
	// Resume reuses the finished map tasks of an earlier run that was
	// killed; Overwrite replaces an existing output directory; KeepTemp
	// keeps OUT/_temporary.
	Resume, Overwrite, KeepTemp bool
	// Verbose reports every task attempt; Quiet prints only errors.
	Verbose, Quiet bool
	// Progress shows progress on Stderr: bars on a terminal, a plain line
	// per phase change otherwise; Quiet or ProgressOff turn it off.
	Progress Progress
	// Stderr receives messages; Name prefixes them.
	Stderr io.Writer
	Name   string
	// Runner runs the tasks; nil means [Local]. Any other Runner (even one
	// wrapping Local) is taken to run them on other hosts: two map tasks
	// per slot rather than one, and speculative attempts (see
	// SpeculativeAuto).
	Runner Runner
	// Speculative says whether a slow task gets a backup attempt
	// (speculative execution). -D mapreduce.map.speculative and
	// mapreduce.reduce.speculative decide for each phase unless it is
	// SpeculativeOff.
	Speculative Speculation
}

// Speculation says when slow tasks get backup attempts.
type Speculation int

// Speculation modes.
const (
	// SpeculativeAuto is on with a Runner for other hosts, where a slow
	// task usually means a slow or overloaded host, and off with [Local],
	// where a backup attempt would compete for the same CPUs and disks.
	SpeculativeAuto Speculation = iota
	SpeculativeOn
	SpeculativeOff
)

// Progress says when progress is shown.
type Progress int

// Progress modes.
const (
	ProgressAuto Progress = iota // bars on a terminal, phase lines otherwise
	ProgressOn                   // the same (kept for --progress)
	ProgressOff
)

// Spec is everything a task needs to know about its job. It is a plain
// value, so that it can be sent to a remote worker.
type Spec struct {
	JobID    string `json:"job_id"`
	Mapper   string `json:"mapper,omitempty"`
	Combiner string `json:"combiner,omitempty"`
	Reducer  string `json:"reducer,omitempty"`
	// Reduces is R; 0 for a map-only job.
	Reduces int `json:"reduces"`
	// Proto cuts map output records into key and value; ReduceProto does
	// it for the reducer (as mrreduce does).
	Proto       streaming.Protocol `json:"proto"`
	ReduceProto streaming.Protocol `json:"reduce_proto"`
	// KeyPartitioner holds KeyFieldBasedPartitioner options ("" means
	// Hadoop's HashPartitioner); KeyFieldSep their field separator.
	KeyPartitioner string `json:"key_partitioner,omitempty"`
	KeyFieldSep    string `json:"key_field_sep,omitempty"`
	// Comparator holds KeyFieldBasedComparator options ("": key bytes).
	Comparator string `json:"comparator,omitempty"`
	// SortMemory is each map task's sort budget, PreCombineMemory that of
	// its built-in pre-combiner.
	SortMemory       int64 `json:"sort_memory"`
	PreCombineMemory int   `json:"precombine_memory"`
	// SortParallel is the number of goroutines each map task sorts with.
	SortParallel     int            `json:"sort_parallel,omitempty"`
	Conf             []streaming.KV `json:"conf,omitempty"`
	CmdEnv           []streaming.KV `json:"cmdenv,omitempty"`
	ReporterPrefix   string         `json:"reporter_prefix,omitempty"`
	IgnoreExitStatus bool           `json:"ignore_exit_status,omitempty"`
	MaxUniqueValues  int64          `json:"max_unique_values,omitempty"`
	// WorkDir is the tasks' working directory, holding the shipped
	// files ("": the current directory).
	WorkDir    string `json:"work_dir,omitempty"`
	LazyOutput bool   `json:"lazy_output,omitempty"`
}

// Defaults.
const (
	DefaultAttempts = 4
	// DefaultMemory is the memory all running map tasks share for sorting
	// and pre-combining, unless mapreduce.task.io.sort.mb says otherwise.
	DefaultMemory = 320 << 20
)

// knownKeys are the -D properties mrrun itself reads (the others are only
// exported to the tasks).
var knownKeys = map[string]bool{
	"stream.num.map.output.key.fields":                 true,
	"stream.map.output.field.separator":                true,
	"stream.reduce.input.field.separator":              true,
	"stream.stderr.reporter.prefix":                    true,
	"stream.non.zero.exit.is.failure":                  true,
	"mapreduce.job.reduces":                            true,
	"mapreduce.job.maps":                               true,
	"mapreduce.job.name":                               true,
	"mapreduce.partition.keypartitioner.options":       true,
	"mapreduce.partition.keycomparator.options":        true,
	"mapreduce.job.output.key.comparator.class":        true,
	"mapreduce.job.partitioner.class":                  true,
	"mapreduce.map.output.key.field.separator":         true,
	"mapreduce.map.maxattempts":                        true,
	"mapreduce.reduce.maxattempts":                     true,
	"mapreduce.map.speculative":                        true,
	"mapreduce.reduce.speculative":                     true,
	"mapreduce.task.io.sort.mb":                        true,
	"mapreduce.input.fileinputformat.split.minsize":    true,
	"mapreduce.input.fileinputformat.split.maxsize":    true,
	"aggregate.max.num.unique.values":                  true,
	"mapreduce.aggregate.max.num.unique.values":        true,
	"mapreduce.fileoutputcommitter.marksuccessfuljobs": true,
}

// settings are the job-wide values resolved from Options.
type settings struct {
	spec           Spec
	inputs         []string
	mapAttempts    int
	reduceAttempts int
	parallel       int
	splitSize      int64
	minSplit       int64
	mapsHint       int
	remote         bool // the tasks run on other hosts
	markSuccess    bool
	ignored        []string  // -D keys mrrun does not read
	notRun         []string  // a map-only job's -reducer and -combiner
	files          []shipped // -file, -files
	// mapSpeculative and reduceSpeculative turn on speculative execution
	// in each phase.
	mapSpeculative, reduceSpeculative bool
}

// shipped is a file shipped to the tasks' working directory: Path
// (absolute) appears there as Name.
type shipped struct{ Path, Name string }

// ConfigError is a job that cannot run as given (exit status 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// IsConfigError reports whether err is a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

func confValue(conf []streaming.KV, key string) (string, bool) {
	t := streaming.Task{Conf: conf}
	return t.ConfValue(key)
}

// resolve checks o and resolves it into settings.
func resolve(o *Options) (*settings, error) {
	s := &settings{markSuccess: true, mapAttempts: DefaultAttempts, reduceAttempts: DefaultAttempts}
	sp := &s.spec
	sp.JobID = "job_local_0001"
	sp.Conf, sp.CmdEnv = o.Conf, o.CmdEnv
	for _, in := range o.Inputs {
		for _, p := range SplitList(in) {
			if p != "" {
				s.inputs = append(s.inputs, p)
			}
		}
	}
	if len(s.inputs) == 0 {
		return nil, configErr("missing -input")
	}
	if o.Output == "" {
		return nil, configErr("missing -output")
	}
	get := func(k string) (string, bool) { return confValue(o.Conf, k) }
	num := func(k string, lo int64) (int64, bool, error) {
		v, ok := get(k)
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo {
			return 0, false, configErr("-D %s: invalid number '%s'", k, v)
		}
		return n, true, nil
	}

	// Records and keys, as mrmap and mrreduce read them.
	if v, ok := get("stream.map.output.field.separator"); ok {
		sep, err := streaming.ParseSeparator(v)
		if err != nil {
			return nil, configErr("-D stream.map.output.field.separator: %v", err)
		}
		sp.Proto.Key.Separator = sep
	}
	if v, ok := get("stream.num.map.output.key.fields"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, configErr("-D stream.num.map.output.key.fields: invalid number of key fields '%s'", v)
		}
		sp.Proto.Key.Fields = n
	}
	if err := sp.Proto.Validate(); err != nil {
		return nil, configErr("%v", err)
	}
	sp.ReduceProto = sp.Proto
	if _, ok := get("stream.map.output.field.separator"); !ok {
		if v, ok := get("stream.reduce.input.field.separator"); ok {
			sep, err := streaming.ParseSeparator(v)
			if err != nil {
				return nil, configErr("-D stream.reduce.input.field.separator: %v", err)
			}
			sp.ReduceProto.Key.Separator = sep
		}
	}
	sp.ReporterPrefix, _ = get("stream.stderr.reporter.prefix")
	if v, ok := get("stream.non.zero.exit.is.failure"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, configErr("-D stream.non.zero.exit.is.failure: invalid boolean '%s'", v)
		}
		sp.IgnoreExitStatus = !b
	}
	for _, k := range []string{"aggregate.max.num.unique.values", "mapreduce.aggregate.max.num.unique.values"} {
		n, ok, err := num(k, 1)
		if err != nil {
			return nil, err
		}
		if ok {
			sp.MaxUniqueValues = n
		}
	}
	if v, ok := get("mapreduce.fileoutputcommitter.marksuccessfuljobs"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, configErr("-D mapreduce.fileoutputcommitter.marksuccessfuljobs: invalid boolean '%s'", v)
		}
		s.markSuccess = b
	}

	// Tasks.
	r := int64(1)
	if n, ok, err := num("mapreduce.job.reduces", 0); err != nil {
		return nil, err
	} else if ok {
		r = n
	}
	if o.NumReduceTasks >= 0 {
		r = int64(o.NumReduceTasks)
	}
	if r > shuffle.MaxPartitions {
		return nil, configErr("too many reduce tasks %d (at most %d)", r, shuffle.MaxPartitions)
	}
	sp.Mapper = strings.TrimSpace(o.Mapper)
	sp.Combiner = strings.TrimSpace(o.Combiner)
	sp.Reducer = strings.TrimSpace(o.Reducer)
	if strings.EqualFold(sp.Reducer, "aggregate") {
		sp.Reducer = "aggregate"
		if sp.Combiner == "" {
			sp.Combiner = "aggregate"
		}
	}
	if sp.Reducer == "NONE" {
		r = 0
	}
	sp.Reduces = int(r)
	if r == 0 {
		if sp.Reducer != "" && sp.Reducer != "NONE" {
			s.notRun = append(s.notRun, "-reducer "+streaming.ShellQuote(sp.Reducer))
		}
		if c := strings.TrimSpace(o.Combiner); c != "" {
			s.notRun = append(s.notRun, "-combiner "+streaming.ShellQuote(c))
		}
		sp.Reducer, sp.Combiner = "", ""
	}
	if sp.Combiner != "" && streaming.IsBuiltin(sp.Combiner) {
		if _, err := streaming.NewBuiltin(sp.Combiner, sp.Proto, streaming.BuiltinOptions{}, true); err != nil {
			return nil, configErr("-combiner: %v", err)
		}
	}
	if sp.Reducer != "" && streaming.IsBuiltin(sp.Reducer) {
		if _, err := streaming.NewBuiltin(sp.Reducer, sp.ReduceProto, streaming.BuiltinOptions{}, false); err != nil {
			return nil, configErr("-reducer: %v", err)
		}
	}

	// Partitioner and comparator.
	part := o.Partitioner
	if part == "" {
		part, _ = get("mapreduce.job.partitioner.class")
	}
	switch part {
	case "":
	case "KeyFieldBasedPartitioner", "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner",
		"org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedPartitioner":
		opts, _ := get("mapreduce.partition.keypartitioner.options")
		if strings.TrimSpace(opts) == "" {
			opts = "-k1"
		}
		sp.KeyPartitioner = opts
	case "HashPartitioner", "org.apache.hadoop.mapred.lib.HashPartitioner",
		"org.apache.hadoop.mapreduce.lib.partition.HashPartitioner":
	default:
		return nil, configErr("-partitioner: unknown class '%s' (known: KeyFieldBasedPartitioner, HashPartitioner)", part)
	}
	sp.KeyFieldSep = string(sp.Proto.Key.Sep())
	if v, ok := get("mapreduce.map.output.key.field.separator"); ok {
		sep, err := streaming.ParseSeparator(v)
		if err != nil {
			return nil, configErr("-D mapreduce.map.output.key.field.separator: %v", err)
		}
		sp.KeyFieldSep = sep
	}
	if sp.KeyPartitioner != "" && r > 0 {
		if _, err := shuffle.NewKeyFieldPartitioner(int(r), sp.KeyPartitioner, sp.KeyFieldSep[0]); err != nil {
			return nil, configErr("-D mapreduce.partition.keypartitioner.options: %v", err)
		}
	}
	if v, ok := get("mapreduce.job.output.key.comparator.class"); ok {
		switch v {
		case "KeyFieldBasedComparator", "org.apache.hadoop.mapred.lib.KeyFieldBasedComparator",
			"org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedComparator":
		default:
			return nil, configErr("-D mapreduce.job.output.key.comparator.class: unknown class '%s' (known: KeyFieldBasedComparator)", v)
		}
	}
	if v, ok := get("mapreduce.partition.keycomparator.options"); ok && strings.TrimSpace(v) != "" {
		if _, err := shuffle.ComparatorKeys(v, sp.Proto.Key.N()); err != nil {
			return nil, configErr("-D mapreduce.partition.keycomparator.options: %v", err)
		}
		sp.Comparator = v
	}

	// Resources.
	s.parallel = o.Parallel
	if s.parallel <= 0 {
		s.parallel = defaultParallel()
	}
	if n, ok, err := num("mapreduce.map.maxattempts", 1); err != nil {
		return nil, err
	} else if ok {
		s.mapAttempts = int(min(n, 1000))
	}
	if n, ok, err := num("mapreduce.reduce.maxattempts", 1); err != nil {
		return nil, err
	} else if ok {
		s.reduceAttempts = int(min(n, 1000))
	}
	switch o.Runner.(type) {
	case nil, Local, *Local:
	default:
		s.remote = true
	}
	spec := o.Speculative == SpeculativeOn
	if o.Speculative == SpeculativeAuto {
		spec = s.remote
	}
	s.mapSpeculative, s.reduceSpeculative = spec, spec
	for _, p := range []struct {
		key string
		on  *bool
	}{{"mapreduce.map.speculative", &s.mapSpeculative}, {"mapreduce.reduce.speculative", &s.reduceSpeculative}} {
		v, ok := get(p.key)
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, configErr("-D %s: invalid boolean '%s'", p.key, v)
		}
		*p.on = b && o.Speculative != SpeculativeOff
	}
	sp.SortMemory = max(DefaultMemory/int64(s.parallel)*4/5, extsort.MinMemory)
	if n, ok, err := num("mapreduce.task.io.sort.mb", 1); err != nil {
		return nil, err
	} else if ok {
		sp.SortMemory = n << 20
	}
	sp.SortParallel = max(1, runtime.NumCPU()/s.parallel)
	sp.PreCombineMemory = int(min(int64(streaming.DefaultPreCombineMemory), max(sp.SortMemory/4, 1<<20)))
	if n, ok, err := num("mapreduce.input.fileinputformat.split.maxsize", 1); err != nil {
		return nil, err
	} else if ok {
		s.splitSize = n
	}
	if n, ok, err := num("mapreduce.input.fileinputformat.split.minsize", 0); err != nil {
		return nil, err
	} else if ok {
		s.minSplit = n
	}
	if n, ok, err := num("mapreduce.job.maps", 1); err != nil {
		return nil, err
	} else if ok {
		s.mapsHint = int(min(n, 1<<20))
	}
	sp.LazyOutput = o.LazyOutput

	for _, kv := range o.Conf {
		if !knownKeys[streaming.CurrentName(kv.Key)] && !contains(s.ignored, kv.Key) {
			s.ignored = append(s.ignored, kv.Key)
		}
	}
	sort.Strings(s.ignored)

	for _, f := range o.Files {
		for _, p := range SplitList(f) {
			if p == "" {
				continue
			}
			p, name, _ := strings.Cut(p, "#")
			if name == "" {
				name = filepath.Base(p)
			}
			if strings.Contains(name, "/") || name == "." || name == ".." {
				return nil, configErr("-files: invalid link name '%s'", name)
			}
			fi, err := os.Stat(p)
			if err != nil {
				return nil, configErr("-file: %s: %w", p, unwrapPath(err))
			}
			if fi.IsDir() {
				return nil, configErr("-file: %s: is a directory", p)
			}
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, configErr("-file: %s: %w", p, err)
			}
			s.files = append(s.files, shipped{Path: abs, Name: name})
		}
	}
	if len(s.files) > 0 {
		sp.Mapper = unqualify(sp.Mapper, o.Files, s.files)
		sp.Combiner = unqualify(sp.Combiner, o.Files, s.files)
		sp.Reducer = unqualify(sp.Reducer, o.Files, s.files)
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unqualify rewrites a command whose program is one of the shipped files
// to the file's bare name, found in the working directory, as Hadoop does.
func unqualify(cmd string, given []string, files []shipped) string {
	prog, rest, _ := strings.Cut(cmd, " ")
	i := 0
	for _, f := range given {
		for _, p := range SplitList(f) {
			if p == "" {
				continue
			}
			p, _, _ = strings.Cut(p, "#")
			name := files[i].Name
			i++
			if prog == p && strings.Contains(prog, "/") {
				return strings.TrimSpace("./" + name + " " + rest)
			}
		}
	}
	return cmd
}

// SplitList splits a comma-separated list of paths as Hadoop does: commas
// inside {} belong to a glob pattern.
func SplitList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func defaultParallel() int { return runtime.NumCPU() }

// The split size mrrun picks by itself: about one map task per slot on
// this machine, and two per slot on other hosts, no bigger than these.
const (
	maxAutoSplit       = 512 << 20
	maxAutoSplitRemote = 256 << 20
)

// splitSizeFor returns the split size for total bytes of input. The
// -D split.maxsize, split.minsize and job.maps settings decide when
// given. Otherwise it is about total / slots, between split.DefaultSize
// and maxAutoSplit. Every task more costs a mapper start and, worse,
// another copy of its distinct keys to sort, write, merge and combine
// again: the top-URLs job over 1 GiB on 2 cores spent 1.05 CPU s of its
// own (besides the mappers') in 16 tasks of 64 MiB, 0.69 s in 4 of 256
// MiB and 0.61 s in 2 of 512 MiB, in 1.9, 1.6 and 1.65 s (medians of 4
// alternating runs, 2026-12-01). Here the slots share the CPUs, and a
// slot that falls behind (another process taking a core) slows its task
// and the others' alike. On other hosts a slot can fall behind alone,
// or its host die, so there are two tasks per slot, no bigger than
// maxAutoSplitRemote, for the others to take over the rest (with
// speculative attempts). Capping the size keeps a retried task cheap and
// a big input's tasks the same size whatever its total.
func (s *settings) splitSizeFor(total int64) int64 {
	if s.remote {
		return s.autoSplitSize(total, 2, maxAutoSplitRemote)
	}
	return s.autoSplitSize(total, 1, maxAutoSplit)
}

// splitSizeOf returns the split size for files: splitSizeFor their total,
// unless cutting them at that size, each file on its own, would give
// more splits than slots and not a multiple of them (several files, or
// short last splits). Then some slots would run alone at the end, and it
// is the size for two tasks per slot, which evens them out: 3 files of
// 300 MiB on 2 slots make 3 tasks of 300 MiB (600 MiB on the busier
// slot) at one per slot, 6 of 225 and 75 MiB (525 MiB) at two.
func (s *settings) splitSizeOf(files []split.Input) int64 {
	var total int64
	for _, f := range files {
		total += f.Size
	}
	size := s.splitSizeFor(total)
	if s.remote || s.splitSize > 0 {
		return size
	}
	var n int64
	for _, f := range files {
		n += max(1, (f.Size+size-1)/size)
	}
	if slots := int64(max(s.parallel, 1)); n > slots && n%slots != 0 {
		return s.autoSplitSize(total, 2, maxAutoSplit)
	}
	return size
}

// autoSplitSize is splitSizeFor with perSlot tasks per slot, no bigger
// than maxSize unless the settings say so.
func (s *settings) autoSplitSize(total, perSlot, maxSize int64) int64 {
	size := int64(split.DefaultSize)
	if s.splitSize > 0 {
		size = s.splitSize
	} else if tasks := perSlot * int64(max(s.parallel, 1)); total > tasks*size {
		size = min((total+tasks-1)/tasks, maxSize)
	}
	if s.mapsHint > 0 && total > 0 {
		size = min(size, max(1, (total+int64(s.mapsHint)-1)/int64(s.mapsHint)))
	}
	return max(size, s.minSplit, 1)
}
