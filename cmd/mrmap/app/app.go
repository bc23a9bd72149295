// Package app is mrmap's command line: flags, wiring to package
// streaming (and shuffle for -R), messages and exit statuses. It is a
// package of its own so that tests can run mrmap in-process (testscript).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/urfave/cli/v2"
)

const description = `Run CMD (with sh -c) as a Hadoop Streaming mapper: the records of each
FILE, or of the split DESC, or of standard input, are written to CMD's
standard input; CMD's standard output is copied to ours (or partitioned,
sorted and combined into DIR with -R). Records end in newline (NUL with
-z); a last record without one gets one; bytes are never altered.

Each FILE is one map task: CMD runs once per FILE, in order, with
mapreduce_task_partition counting from --task. CMD's environment holds
Hadoop's task variables (mapreduce_job_id, mapreduce_task_id,
mapreduce_task_attempt_id, mapreduce_task_ismap=true,
mapreduce_task_partition, mapreduce_map_input_file, _start and _length,
and their old names mapred_job_id, mapred_tip_id, mapred_task_id,
mapred_task_is_map, mapred_task_partition, map_input_file,
map_input_start, map_input_length), every -D property with each byte
other than [0-9A-Za-z] turned into '_' (-D my.key=v gives my_key=v), and
the --cmdenv variables as given.

Lines CMD writes to stderr as reporter:counter:GROUP,NAME,AMOUNT add to a
counter and reporter:status:MESSAGE sets the status; other lines pass
through to stderr (or to --log FILE). A malformed reporter: line passes
through after a one-line warning. --counters FILE writes the counters as
JSON; -v prints them (and each status) on stderr. Built-in counters have
Hadoop's names: Map input records, Map output records, Map output bytes,
Bytes Read (and with -R: Combine input/output records, Spilled Records,
Map output materialized bytes).

With -R N -o DIR the output is not written to standard output but
partitioned (Hadoop's HashPartitioner, or -k, or --ranges), sorted within
-S and combined into DIR/part-00000 ... and DIR/manifest.json, as mrpart
does (read them with mrmerge). --combiner names a built-in (sum min max
uniq collect first last aggregate; count and mean are refused) or a
command run with sh -c on each sorted partition (with the mapper's
environment, input variables too when there is one input); to run a
program whose name is a built-in's, give its path. A built-in combiner
also folds the mapper's output in a hash table as it arrives (within
-S/4, at most 64 MiB), so far fewer records are sorted; it counts as a
combine pass.

Standard input under mrsplit --filter is the split $MRPIPE_SPLIT names,
and the input variables say so.

A FILE (or a split that runs to the end of its file, or standard input
redirected from a file) that is not compressed and ends in a newline is
given to CMD as its standard input itself, with no pipe in between;
otherwise records go through a pipe.

CMD fails the run when it exits non-zero (unless
-D stream.non.zero.exit.is.failure=false), is killed by a signal, or
exits before reading all its input, however small. mrmap then kills
what is left of it
and exits 1 with one report: the command, its status or signal, the input,
the number of the last record fed to it, and its last 20 stderr lines.

Properties read from -D: stream.map.output.field.separator (as -t),
stream.num.map.output.key.fields (as --key-fields),
stream.stderr.reporter.prefix, stream.non.zero.exit.is.failure.

Exit status: 0 on success, 1 when CMD fails, 2 on bad usage or
unreadable input.

Examples:
  mrmap book.txt -- awk '{for (i = 1; i <= NF; i++) print $i "\t1"}'
  mrmap --split 'logs/a.log:0+67108864' -- ./extract.py
  mrmap -D my.limit=10 --cmdenv LC_ALL=C --counters c.json -- ./map.sh < in
  mrmap -R 4 -o map.0 --combiner sum part.0 -- 'cut -f7 -d" " | sed "s/$/\t1/"'
  mrsplit -n l/4 --filter 'mrmap -R 2 -o map.$FILE -- ./map.sh' big.log`

// New returns mrmap's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrmap",
		Usage:       "run a command as a Hadoop Streaming mapper",
		UsageText:   "mrmap [OPTION]... [--split DESC | FILE...] -- CMD",
		Description: description,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "split", Usage: "read the split `DESC` (PATH:START+LENGTH or PATH<TAB>START<TAB>LENGTH)"},
		}, append(CommonFlags(), ShuffleFlags()...)...),
		Action: run,
	}
}

// Main runs mrmap with the process's arguments and returns its exit status.
func Main() int { return RunArgs(New(), os.Args) }

// RunArgs runs app with args, first noting how many operands follow the
// "--" that ends the options (see [CommandWords]).
func RunArgs(app *cli.App, args []string) int {
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata["words"] = wordsAfterDashDash(app.Flags, args)
	return cliutil.Run(app, args, os.Stdout, os.Stderr)
}

// wordsAfterDashDash returns the number of arguments after the "--" that
// ends the options, or -1 when there is none. A "--" that is the value
// of an option (-t --) does not count.
func wordsAfterDashDash(flags []cli.Flag, args []string) int {
	flags = append(append([]cli.Flag(nil), flags...),
		&cli.BoolFlag{Name: "help"}, &cli.BoolFlag{Name: "version"})
	for j := 1; j < len(args); j++ {
		if args[j] != "--" {
			continue
		}
		if _, err := cliutil.Normalize(flags, args[1:j]); err == nil {
			return len(args) - j - 1
		}
	}
	return -1
}

// CommandWords splits the operands into those before "--" and the
// command words after it; ok is false when there was no "--".
func CommandWords(c *cli.Context) (before, words []string, ok bool) {
	args := c.Args().Slice()
	k, _ := c.App.Metadata["words"].(int)
	if k < 0 || k > len(args) {
		return args, nil, false
	}
	return args[:len(args)-k], args[len(args)-k:], true
}

// JoinCommand makes one shell command of the words after "--": a single
// word is a shell command line as is (pipes, redirections and all);
// several words are an argv, each word quoted, so that
// mrmap -- awk -F, '{print $1}' runs awk with exactly those arguments.
func JoinCommand(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = streaming.ShellQuote(w)
	}
	return strings.Join(q, " ")
}

// CommonFlags are the flags mrmap shares with mrreduce.
func CommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "define", Aliases: []string{"D"}, KeepSpace: true, Usage: "set job property `KEY=VALUE` (exported to CMD as KEY with non-alphanumerics as _)"},
		&cli.StringSliceFlag{Name: "cmdenv", KeepSpace: true, Usage: "export `NAME=VALUE` to CMD"},
		&cli.StringFlag{Name: "field-separator", Aliases: []string{"t"}, Usage: "key/value separator `SEP` (one byte; \\t \\0 allowed)", DefaultText: "TAB"},
		&cli.StringFlag{Name: "key-fields", Usage: "the key is the first `N` separated fields", DefaultText: "1"},
		&cli.BoolFlag{Name: "zero-terminated", Aliases: []string{"z"}, Usage: "records end in NUL, not newline"},
		&cli.StringFlag{Name: "counters", Usage: "write the counters to `FILE` as JSON"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print status messages and the counters on stderr"},
		&cli.StringFlag{Name: "log", Usage: "append CMD's stderr (other than reporter lines) to `FILE`"},
		&cli.StringFlag{Name: "job-id", Usage: "job id `ID` for the environment", DefaultText: "job_local_0001"},
		&cli.StringFlag{Name: "task", Usage: "task number `N` (mapreduce_task_partition of the first task)", DefaultText: "0"},
		&cli.StringFlag{Name: "attempt", Usage: "attempt number `N`", DefaultText: "0"},
	}
}

// Setup is what the common flags configure.
type Setup struct {
	Name     string
	Proto    streaming.Protocol
	Task     streaming.Task
	Prefix   string
	IgnoreRC bool
	Counters *streaming.Counters
	Verbose  bool
	Stderr   io.Writer
	logFile  *os.File
}

// Close closes the log file.
func (s *Setup) Close() {
	if s.logFile != nil {
		s.logFile.Close()
	}
}

func nonNegative(c *cli.Context, name string) (int, error) {
	if !c.IsSet(name) {
		return 0, nil
	}
	n, err := strconv.Atoi(c.String(name))
	if err != nil || n < 0 {
		return 0, cliutil.Usagef("invalid --%s argument '%s'", name, c.String(name))
	}
	return n, nil
}

// ParseCommon reads the common flags. mapSide says whether the tool runs
// a map task (mapreduce_task_ismap).
func ParseCommon(c *cli.Context, mapSide bool) (*Setup, error) {
	s := &Setup{Name: c.App.Name, Counters: streaming.NewCounters(), Verbose: c.Bool("v"), Stderr: c.App.ErrWriter}
	for _, d := range c.StringSlice("D") {
		kv, err := streaming.ParseKV(d)
		if err != nil {
			return nil, cliutil.Usagef("-D: %v", err)
		}
		s.Task.Conf = append(s.Task.Conf, kv)
	}
	for _, d := range c.StringSlice("cmdenv") {
		kv, err := streaming.ParseKV(d)
		if err != nil {
			return nil, cliutil.Usagef("--cmdenv: %v", err)
		}
		s.Task.CmdEnv = append(s.Task.CmdEnv, kv)
	}
	// The key is the map output key on both sides: the reducer's input
	// is grouped by it.
	sepProp, fieldsProp := "stream.map.output.field.separator", "stream.num.map.output.key.fields"
	if v, ok := s.Task.ConfValue(sepProp); ok {
		sep, err := streaming.ParseSeparator(v)
		if err != nil {
			return nil, cliutil.Usagef("-D %s: %v", sepProp, err)
		}
		s.Proto.Key.Separator = sep
	}
	if v, ok := s.Task.ConfValue(fieldsProp); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, cliutil.Usagef("-D %s: invalid number of key fields '%s'", fieldsProp, v)
		}
		s.Proto.Key.Fields = n
	}
	// On the reduce side, without a map output separator, Hadoop's
	// stream.reduce.input.field.separator says where keys end (as in
	// mrrun, for the built-ins).
	if _, ok := s.Task.ConfValue(sepProp); !ok && !mapSide {
		const redProp = "stream.reduce.input.field.separator"
		if v, ok := s.Task.ConfValue(redProp); ok {
			sep, err := streaming.ParseSeparator(v)
			if err != nil {
				return nil, cliutil.Usagef("-D %s: %v", redProp, err)
			}
			s.Proto.Key.Separator = sep
		}
	}
	if c.IsSet("t") {
		sep, err := streaming.ParseSeparator(c.String("t"))
		if err != nil {
			return nil, cliutil.Usagef("-t: %v", err)
		}
		s.Proto.Key.Separator = sep
	}
	if c.IsSet("key-fields") {
		n, err := strconv.Atoi(c.String("key-fields"))
		if err != nil || n < 1 {
			return nil, cliutil.Usagef("invalid --key-fields argument '%s'", c.String("key-fields"))
		}
		s.Proto.Key.Fields = n
	}
	s.Proto.ZeroTerminated = c.Bool("z")
	if err := s.Proto.Validate(); err != nil {
		return nil, cliutil.Usagef("%v", err)
	}
	s.Prefix, _ = s.Task.ConfValue("stream.stderr.reporter.prefix")
	if v, ok := s.Task.ConfValue("stream.non.zero.exit.is.failure"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, cliutil.Usagef("-D stream.non.zero.exit.is.failure: invalid boolean '%s'", v)
		}
		s.IgnoreRC = !b
	}
	s.Task.JobID = c.String("job-id")
	s.Task.IsMap = mapSide
	var err error
	if s.Task.Partition, err = nonNegative(c, "task"); err != nil {
		return nil, err
	}
	if s.Task.Attempt, err = nonNegative(c, "attempt"); err != nil {
		return nil, err
	}
	if c.IsSet("log") {
		f, err := os.OpenFile(c.String("log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
		if err != nil {
			return nil, cliutil.Exit(2, fmt.Errorf("--log: %w", err))
		}
		s.logFile = f
	}
	return s, nil
}

// Command returns a streaming.Command for cmd configured by the setup.
func (s *Setup) Command(role streaming.Role, cmd string) *streaming.Command {
	c := &streaming.Command{
		Role:             role,
		Cmd:              cmd,
		Task:             s.Task,
		Term:             s.Proto.Terminator(),
		Stderr:           s.Stderr,
		Warn:             s.Stderr,
		Name:             s.Name,
		ReporterPrefix:   s.Prefix,
		Counters:         s.Counters,
		IgnoreExitStatus: s.IgnoreRC,
	}
	if s.logFile != nil {
		c.Stderr = s.logFile
	}
	if s.Verbose {
		c.OnStatus = func(msg string) { fmt.Fprintf(s.Stderr, "%s: status: %s\n", s.Name, msg) }
	}
	return c
}

// Finish writes the counters as asked and turns err into the exit error.
func (s *Setup) Finish(c *cli.Context, err error) error {
	if c.IsSet("counters") {
		if werr := s.Counters.WriteJSONFile(c.String("counters")); werr != nil && err == nil {
			// An output that could not be written: exit 1, as for the
			// records.
			err = cliutil.Exit(1, werr)
		}
	}
	if s.Verbose {
		fmt.Fprintf(s.Stderr, "%s: counters:\n", s.Name)
		s.Counters.WriteSummary(s.Stderr)
	}
	return ExitError(c.Context, err)
}

// ExitError maps a run's error to mrpipe's exit statuses.
func ExitError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ee *cliutil.ExitError
	var ue *cliutil.UsageError
	var ie *streaming.InputError
	switch {
	case errors.As(err, &ee), errors.As(err, &ue):
		return err
	case ctx.Err() != nil:
		return cliutil.Silent(1)
	case shuffle.IsVerifyError(err):
		return cliutil.Exit(1, err)
	case errors.As(err, &ie):
		return cliutil.Exit(2, err)
	}
	return cliutil.Exit(1, err)
}

func run(c *cli.Context) error {
	files, words, ok := CommandWords(c)
	if !ok || len(words) == 0 {
		return cliutil.Usagef("missing command after '--' (mrmap [OPTION]... [FILE]... -- CMD)")
	}
	cmd := JoinCommand(words)
	if c.IsSet("split") && len(files) > 0 {
		return cliutil.Usagef("--split and FILE operands are exclusive")
	}
	s, err := ParseCommon(c, true)
	if err != nil {
		return err
	}
	defer s.Close()
	inputs, err := mapInputs(c.String("split"), c.IsSet("split"), files)
	if err != nil {
		return err
	}
	sh, err := parseShuffle(c, s)
	if err != nil {
		return err
	}
	if sh != nil {
		return s.Finish(c, runShuffle(c, s, sh, cmd, inputs))
	}
	out := c.App.Writer
	write := func(chunk []byte) error {
		_, err := out.Write(chunk)
		return err
	}
	return s.Finish(c, runMaps(c.Context, s, cmd, inputs, write, nil))
}

// runMaps runs the mapper over each input in turn; onInput, when not
// nil, learns each input as it is opened.
func runMaps(ctx context.Context, s *Setup, cmd string, inputs []mapInput, out func([]byte) error, onInput func(streaming.InputInfo)) error {
	base := s.Task.Partition
	for i, in := range inputs {
		r, info, err := in.open(s.Proto.Terminator())
		if err != nil {
			return cliutil.Exit(2, err)
		}
		mc := s.Command(streaming.Mapper, cmd)
		mc.Task.Partition = base + i
		mc.Task.Input = info
		if onInput != nil {
			onInput(info)
		}
		err = streaming.RunMapper(ctx, mc, r, out)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
