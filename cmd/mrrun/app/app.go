// Package app is mrrun's command line: Hadoop Streaming's flags, wiring to
// package streaming/job, messages and exit statuses. It is a package of
// its own so that tests can run mrrun in-process (testscript).
package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
	"github.com/mrpipe/mrpipe/streaming/remote"
	"github.com/urfave/cli/v2"
)

const description = `Run a MapReduce job the way Hadoop Streaming does, on this machine: the
inputs are cut into splits on record boundaries (64 MiB, or up to 512 MiB
for about one per task slot, two with -hosts; a small or compressed file
is one split), a
map task per split runs the
mapper (with sh -c) over the split's records and partitions, sorts and
combines its output into R partitions; reduce task p merges partition p
of every map output and runs the reducer over it, writing OUT/part-0000p.
Tasks run -j at a time. Options take one dash or two (-input, --input).

  mrrun -input IN... -output OUT -mapper CMD [-combiner CMD] [-reducer CMD]
        [-numReduceTasks R] [-D KEY=VALUE]... [-cmdenv NAME=VALUE]...

-mapper, -combiner and -reducer are commands, or for the combiner and
reducer built-ins: sum count min max mean uniq collect first last (see
mrreduce --help), or aggregate (Hadoop's ValueAggregator types; it is
then also the combiner). -reducer NONE makes a map-only job (part-NNNNN
per map task); a missing -mapper or -reducer passes records through.
-input may repeat and hold comma-separated lists, directories (their
files, not recursively) and glob patterns; names starting with _ or .
are skipped, so a job can read a previous job's OUT.

-D properties read by mrrun (all are also exported to the commands, with
bytes outside [0-9A-Za-z] as '_'; a warning lists the others):
  stream.num.map.output.key.fields, stream.map.output.field.separator,
  stream.reduce.input.field.separator, stream.stderr.reporter.prefix,
  stream.non.zero.exit.is.failure, mapreduce.job.reduces,
  mapreduce.job.maps (a hint: at least that many splits),
  mapreduce.partition.keypartitioner.options (with -partitioner
  KeyFieldBasedPartitioner), mapreduce.partition.keycomparator.options,
  mapreduce.map.output.key.field.separator, mapreduce.map.maxattempts and
  mapreduce.reduce.maxattempts (default 4), mapreduce.task.io.sort.mb,
  mapreduce.input.fileinputformat.split.minsize and .maxsize,
  aggregate.max.num.unique.values, mapreduce.map.speculative and
  mapreduce.reduce.speculative (backup attempts of slow tasks: on by
  default with -hosts, off on this machine; --no-speculative: never).
  Hadoop's old names are read too (mapred.reduce.tasks, io.sort.mb,
  mapred.text.key.partitioner.options, ...), and exported under both.

Output: OUT/part-NNNNN, _SUCCESS, _job.json (counters, every task's
attempts and timings) and _logs/ (the commands' stderr, per attempt).
The job works in OUT/_temporary; part files appear only when every task
has succeeded. A task attempt that fails is retried; when a task has
failed on every attempt the job fails with the last attempt's report
(command, status, split, record number, stderr tail) and OUT holds no
part files. An existing OUT is refused unless --overwrite (which refuses
an OUT holding files no job wrote, or the current directory). When mrrun
itself was killed (kill -9), the same command with --resume reuses the
finished map tasks. SIGINT and SIGTERM stop the commands and remove the
temporary data.

The output depends only on the input, the commands and R: not on the
number of splits or -j. --explain prints the job as a bash script of
mrsplit, mrmap, mrmerge and mrreduce that writes the same part files;
--hadoop prints it as a Hadoop Streaming command line (mapred streaming;
built-in reducers other than aggregate become awk programs, commands that
need a shell run in sh -c).

Exit status: 0 on success, 1 when the job failed, 2 on bad usage,
unreadable input or an existing OUT, 130/143 when interrupted.

Examples:
  mrrun -input access.log -output top -mapper "mawk '{print \$7\"\t1\"}'" \
        -combiner sum -reducer sum -numReduceTasks 2
  mrrun -input 'books/*.txt' -output idx -mapper ./index.sh -file ./index.sh \
        -reducer collect -D stream.num.map.output.key.fields=1
  mrrun -input idx -output idx2 -mapper cat -reducer NONE`

// unsupported are Hadoop Streaming options mrrun does not implement.
var unsupported = []string{"inputformat", "outputformat", "io", "inputreader", "mapdebug",
	"reducedebug", "conf", "fs", "jt", "libjars", "archives", "cacheFile", "cacheArchive"}

// New returns mrrun's cli.App.
func New() *cli.App {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "input", KeepSpace: true, Usage: "read `PATH` (file, directory, glob; comma lists allowed; repeatable; with -hosts, HOST:PATH is on that host)"},
		&cli.StringFlag{Name: "output", Usage: "write the job's output to the directory `OUT`"},
		&cli.StringFlag{Name: "mapper", Usage: "run `CMD` (sh -c) as the mapper"},
		&cli.StringFlag{Name: "combiner", Usage: "run `CMD` or a built-in as the combiner"},
		&cli.StringFlag{Name: "reducer", Usage: "run `CMD`, a built-in, aggregate, or NONE (map-only) as the reducer"},
		&cli.StringFlag{Name: "numReduceTasks", Usage: "run `R` reduce tasks (0: map-only)", DefaultText: "1"},
		&cli.StringFlag{Name: "partitioner", Usage: "partition by `CLASS` (KeyFieldBasedPartitioner)"},
		&cli.StringSliceFlag{Name: "D", Aliases: []string{"jobconf"}, KeepSpace: true, Usage: "set job property `KEY=VALUE`"},
		&cli.StringSliceFlag{Name: "cmdenv", KeepSpace: true, Usage: "export `NAME=VALUE` to the commands"},
		&cli.StringSliceFlag{Name: "file", KeepSpace: true, Usage: "ship `FILE` to the tasks' working directory"},
		&cli.StringSliceFlag{Name: "files", KeepSpace: true, Usage: "ship the comma-separated `FILES`"},
		&cli.BoolFlag{Name: "lazyOutput", Usage: "create no empty part files"},
		&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "run `N` tasks at once", DefaultText: "number of CPUs"},
		&cli.BoolFlag{Name: "explain", Usage: "print the job as a shell script of mrsplit, mrmap, mrmerge, mrreduce and exit"},
		&cli.BoolFlag{Name: "hadoop", Usage: "print the job as a Hadoop Streaming command line (mapred streaming) and exit"},
		&cli.BoolFlag{Name: "resume", Usage: "continue a job whose driver was killed, reusing its finished map tasks"},
		&cli.BoolFlag{Name: "overwrite", Usage: "replace an existing OUT that holds a job's output"},
		&cli.BoolFlag{Name: "keep-temp", Usage: "keep OUT/_temporary (map outputs, journal)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "report every task attempt and all counters"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
		&cli.StringFlag{Name: "hosts", Usage: "run the tasks on the ssh `LOGINS` (GNU parallel syntax: host, user@host:port, N/host for N slots, : for this machine; comma-separated)"},
		&cli.StringFlag{Name: "hostfile", Usage: "read logins from `FILE`, one per line"},
		&cli.StringFlag{Name: "ssh", Usage: "run `CMD` (words) as ssh, e.g. 'ssh -F cfg -i key'", DefaultText: "ssh"},
		&cli.BoolFlag{Name: "shared-input", Usage: "the hosts read the inputs themselves, at the same paths (NFS…), instead of receiving them from this machine"},
		&cli.DurationFlag{Name: "host-timeout", Usage: "a host silent for `DURATION` is lost", DefaultText: "30s"},
		&cli.BoolFlag{Name: "no-speculative", Usage: "start no backup attempts of slow tasks (speculative execution, on by default with -hosts)"},
		&cli.StringFlag{Name: "shuffle", Usage: "move partitions to the reducers' hosts `HOW`: relay (through this machine) or direct (host to host)", DefaultText: "relay"},
		&cli.BoolFlag{Name: "progress", Usage: "show progress (the default): bars on a terminal, a line per phase change otherwise; -q turns it off"},
	}
	for _, u := range unsupported {
		flags = append(flags, &cli.StringFlag{Name: u, Hidden: true})
	}
	for _, u := range []string{"background", "info", "debug"} {
		flags = append(flags, &cli.BoolFlag{Name: u, Hidden: true})
	}
	return &cli.App{
		Name:        "mrrun",
		Usage:       "run a Hadoop-Streaming-style MapReduce job on this machine",
		UsageText:   "mrrun -input IN... -output OUT [-mapper CMD] [-combiner CMD] [-reducer CMD|NONE] [OPTION]...",
		Description: description,
		Flags:       flags,
		Action:      run,
	}
}

// Main runs mrrun with the process's arguments and returns its exit status.
//
// "mrrun worker" is the process the driver starts on each host over ssh
// (see package streaming/remote); it is not meant to be run by hand.
func Main() int {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		return remote.WorkerMain(os.Args[2:])
	}
	return cliutil.RunStyle(New(), os.Args, os.Stdout, os.Stderr, cliutil.Style{SingleDashLong: true})
}

func kvs(c *cli.Context, name string) ([]streaming.KV, error) {
	var out []streaming.KV
	for _, d := range c.StringSlice(name) {
		kv, err := streaming.ParseKV(d)
		if err != nil {
			return nil, cliutil.Usagef("-%s: %v", name, err)
		}
		out = append(out, kv)
	}
	return out, nil
}

func run(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return cliutil.Usagef("unexpected operand '%s' (inputs are given with -input)", c.Args().First())
	}
	for _, u := range unsupported {
		if c.IsSet(u) {
			if (u == "inputformat" && isText(c.String(u), "TextInputFormat")) ||
				(u == "outputformat" && isText(c.String(u), "TextOutputFormat")) ||
				(u == "io" && c.String(u) == "text") {
				continue
			}
			return cliutil.Usagef("-%s is not supported by mrrun", u)
		}
	}
	for _, u := range []string{"background", "info", "debug"} {
		if c.IsSet(u) {
			return cliutil.Usagef("-%s is not supported by mrrun", u)
		}
	}
	if c.Bool("verbose") && c.Bool("quiet") {
		return cliutil.Usagef("-v and -q are exclusive")
	}
	if c.Bool("resume") && c.Bool("overwrite") {
		return cliutil.Usagef("--resume and --overwrite are exclusive")
	}
	o := &job.Options{
		Inputs:         c.StringSlice("input"),
		Output:         c.String("output"),
		Mapper:         c.String("mapper"),
		Combiner:       c.String("combiner"),
		Reducer:        c.String("reducer"),
		NumReduceTasks: -1,
		Partitioner:    c.String("partitioner"),
		Files:          append(c.StringSlice("file"), c.StringSlice("files")...),
		LazyOutput:     c.Bool("lazyOutput"),
		Resume:         c.Bool("resume"),
		Overwrite:      c.Bool("overwrite"),
		KeepTemp:       c.Bool("keep-temp"),
		Verbose:        c.Bool("verbose"),
		Quiet:          c.Bool("quiet"),
		Stderr:         c.App.ErrWriter,
		Name:           c.App.Name,
	}
	if c.Bool("no-speculative") {
		o.Speculative = job.SpeculativeOff
	}
	if c.IsSet("mapper") && strings.TrimSpace(o.Mapper) == "" {
		return cliutil.Usagef("empty -mapper command")
	}
	if c.IsSet("reducer") && strings.TrimSpace(o.Reducer) == "" {
		return cliutil.Usagef("empty -reducer command")
	}
	if c.IsSet("combiner") && strings.TrimSpace(o.Combiner) == "" {
		return cliutil.Usagef("empty -combiner command")
	}
	if c.Bool("progress") {
		o.Progress = job.ProgressOn
	}
	var err error
	if o.Conf, err = kvs(c, "D"); err != nil {
		return err
	}
	if o.CmdEnv, err = kvs(c, "cmdenv"); err != nil {
		return err
	}
	if c.IsSet("numReduceTasks") {
		n, err := strconv.Atoi(c.String("numReduceTasks"))
		if err != nil || n < 0 {
			return cliutil.Usagef("invalid -numReduceTasks argument '%s'", c.String("numReduceTasks"))
		}
		o.NumReduceTasks = n
	}
	if c.IsSet("j") {
		n, err := strconv.Atoi(c.String("j"))
		if err != nil || n < 1 {
			return cliutil.Usagef("invalid -j argument '%s'", c.String("j"))
		}
		o.Parallel = n
	}
	if len(o.Inputs) == 0 {
		return cliutil.Usagef("missing -input")
	}
	if c.IsSet("partitioner") && strings.TrimSpace(o.Partitioner) == "" {
		return cliutil.Usagef("-partitioner: no class given")
	}
	if o.Output == "" {
		return cliutil.Usagef("missing -output")
	}
	if c.Bool("explain") && c.Bool("hadoop") {
		return cliutil.Usagef("--explain and --hadoop are exclusive")
	}
	if c.Bool("explain") {
		return exitError(c, job.Explain(o, c.App.Writer))
	}
	if c.Bool("hadoop") {
		return exitError(c, printHadoop(c.App.Writer, o))
	}
	if c.IsSet("hosts") && strings.TrimSpace(c.String("hosts")) == "" {
		return cliutil.Usagef("-hosts: no hosts given")
	}
	rc := remote.Config{Hosts: c.String("hosts"), Hostfile: c.String("hostfile"), SSH: c.String("ssh"), HostTimeout: c.Duration("host-timeout")}
	switch sh := c.String("shuffle"); {
	case sh != "" && sh != "relay" && sh != "direct":
		return cliutil.Usagef("invalid --shuffle argument '%s' (relay or direct)", sh)
	case c.IsSet("shuffle") && !rc.Enabled():
		return cliutil.Usagef("--shuffle needs -hosts or -hostfile")
	}
	rc.SharedInput = c.Bool("shared-input")
	if rc.SharedInput && !rc.Enabled() {
		return cliutil.Usagef("--shared-input needs -hosts or -hostfile")
	}
	rc.Direct = c.String("shuffle") == "direct"
	if rc.Enabled() {
		r, err := rc.Dial(c.Context, c.App.ErrWriter)
		if err != nil {
			return cliutil.Exit(2, err)
		}
		defer r.Close()
		o.Runner = r
		if !c.IsSet("j") {
			o.Parallel = r.Slots()
		}
	} else if c.IsSet("ssh") || c.IsSet("host-timeout") {
		return cliutil.Usagef("--ssh and --host-timeout need -hosts or -hostfile")
	}
	rep, err := job.Run(c.Context, o)
	if c.Context.Err() != nil {
		return err // cliutil.Run exits 130 or 143
	}
	if err != nil {
		if rep != nil && !o.Quiet {
			summary(c, o, rep)
		}
		return exitError(c, err)
	}
	if !o.Quiet {
		summary(c, o, rep)
	}
	return nil
}

// printHadoop writes the job as a Hadoop Streaming command line: its
// notes as comments, then the command, an option per line, every word
// quoted for a POSIX shell by the same function as remote command lines.
func printHadoop(w io.Writer, o *job.Options) error {
	h, err := job.Hadoop(o)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	for i, g := range h.Args {
		q, err := remote.Quote(g...)
		if err != nil {
			return &job.ConfigError{Err: err}
		}
		if i > 0 {
			b.WriteString(" \\\n  ")
		}
		b.WriteString(q)
	}
	b.WriteString("\n")
	_, err = io.WriteString(w, b.String())
	return err
}

func isText(v, name string) bool {
	return v == name || strings.HasSuffix(v, "."+name)
}

func exitError(c *cli.Context, err error) error {
	if err == nil {
		return nil
	}
	var te *job.TaskError
	switch {
	case job.IsConfigError(err):
		return cliutil.Exit(2, err)
	case errors.As(err, &te):
		return cliutil.Exit(1, fmt.Errorf("job failed: %w", err))
	}
	return cliutil.Exit(1, err)
}

// summary prints how the job went and its counters: Hadoop's main
// built-in ones and the user's (-v: all).
func summary(c *cli.Context, o *job.Options, rep *job.Report) {
	w := c.App.ErrWriter
	reused := ""
	if rep.Reused > 0 {
		reused = fmt.Sprintf(" (%d reused)", rep.Reused)
	}
	where := "output in " + o.Output
	if rep.State != "succeeded" {
		// No part files: what is there is the report.
		where = "report in " + filepath.Join(o.Output, job.JobName)
	}
	fmt.Fprintf(w, "%s: job %s %s in %.2f s: %d map tasks%s, %d reduce tasks; %s\n",
		c.App.Name, rep.JobID, rep.State, rep.Seconds, rep.MapTasks, reused, rep.ReduceTasks, where)
	cs := streaming.NewCounters()
	short := map[string]bool{
		job.LaunchedMapTasks: true, job.LaunchedReduceTask: true, job.FailedMapTasks: true,
		job.FailedReduceTasks: true, job.ReusedMapTasks: true, job.KilledMapTasks: true, job.KilledReduceTasks: true,
		streaming.MapInputRecords: true, streaming.MapOutputRecords: true,
		streaming.CombineInputRecords: true, streaming.CombineOutputRecords: true,
		streaming.ReduceInputGroups: true, streaming.ReduceInputRecords: true,
		streaming.ReduceOutputRecords: true, "Reduce shuffle bytes": true,
		streaming.BytesRead: true, streaming.BytesWritten: true,
	}
	builtin := map[string]bool{job.GroupJob: true, streaming.GroupFramework: true,
		streaming.GroupInput: true, streaming.GroupOutput: true}
	for g, names := range rep.Counters {
		for n, v := range names {
			if o.Verbose || !builtin[g] || short[n] {
				cs.Add(g, n, v)
			}
		}
	}
	fmt.Fprintf(w, "%s: counters:\n", c.App.Name)
	cs.WriteSummary(w)
}
