// Package app is mrreduce's command line: flags, wiring to package
// streaming, messages and exit statuses. It shares mrmap's flags and
// command-line conventions (package cmd/mrmap/app). It is a package of its
// own so that tests can run mrreduce in-process (testscript).
package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	mapapp "github.com/mrpipe/mrpipe/cmd/mrmap/app"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/urfave/cli/v2"
)

const description = `Reduce sorted records (from the FILEs, concatenated, or standard input):
either run CMD (with sh -c) once over all of them, ungrouped, as a Hadoop
Streaming reducer (it sees every KEY<TAB>VALUE record and must notice key
changes itself), or run a built-in reducer, named without "--":

  mrreduce [OPTION]... BUILTIN [FILE]...
  mrreduce [OPTION]... [FILE]... -- CMD

Records with equal keys must be adjacent (sort by key first: mrsort,
mrmerge). The key is everything before the first separator (TAB, -t), or
before the N-th with --key-fields N; a record without one is all key.
Records end in newline (NUL with -z). A FILE may be a partition file
written by mrmap -R or mrpart: S2 part files are decompressed, and a part
file listed in the manifest.json beside it is verified against it (a
mismatch exits 1).

Built-ins (SEP is the separator; numbers are integers, or decimals when
any value is one):
  sum        KEY SEP the sum of the values
  count      KEY SEP the number of records
  min, max   the first record with the smallest / largest numeric value
  mean       KEY SEP the arithmetic mean of the values
  uniq       each distinct KEY SEP VALUE record once, in input order
  collect    KEY SEP the values joined by --join (default ",")
  first      the first record of each key
  last       the last record of each key
  aggregate  Hadoop's aggregate reducer: keys are TYPE:ID, the output is
             ID TAB REPORT; TYPE (any case) is LongValueSum,
             DoubleValueSum, LongValueMax, LongValueMin, StringValueMax,
             StringValueMin, UniqValueCount (capped by
             -D aggregate.max.num.unique.values=N) or ValueHistogram
             (VALUE or VALUE TAB COUNT; report: distinct values, then min,
             median, max, average and standard deviation of the counts)
A value that is not a number fails sum, min, max and mean (exit 1, naming
the record). sum adds whole numbers exactly while the sum fits in 64 bits;
past that, or with a fraction, it adds in floating point, as awk does.
sum, min, max, uniq, collect, first, last and aggregate are
also valid combiners (mrmap --combiner); count and mean are not.

CMD gets Hadoop's task environment (mapreduce_task_ismap=false,
mapreduce_task_partition=--task, ids, -D properties, --cmdenv; see mrmap
--help), its reporter:counter: and reporter:status: stderr lines become
counters and status, and its failure (non-zero exit, a signal, not reading
all its input) is reported once with its last 20 stderr lines.

Counters (--counters FILE as JSON, -v on stderr): Reduce input groups,
Reduce input records, Reduce output records, Bytes Written, and the
command's own.

Properties read from -D: stream.map.output.field.separator and
stream.num.map.output.key.fields (the key, as -t and --key-fields),
stream.stderr.reporter.prefix, stream.non.zero.exit.is.failure,
aggregate.max.num.unique.values (also with the mapreduce. prefix).

Exit status: 0 on success, 1 when CMD or a built-in fails (or a partition
file does not match its manifest), 2 on bad usage or unreadable input.

Examples:
  mrsort words.tsv | mrreduce sum
  mrsort -t '\t' -k1,1 -s pairs.tsv | mrreduce -- awk -F'\t' '$1 != k {if (k != "") print k "\t" n; k = $1; n = 0} {n++} END {if (k != "") print k "\t" n}'
  mrreduce --join ' ' collect sorted.tsv
  mrreduce -D aggregate.max.num.unique.values=1000 aggregate < sorted`

// New returns mrreduce's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrreduce",
		Usage:       "run a command or a built-in as a Hadoop Streaming reducer",
		UsageText:   "mrreduce [OPTION]... BUILTIN [FILE]...\n   mrreduce [OPTION]... [FILE]... -- CMD",
		Description: description,
		Flags: append(mapapp.CommonFlags(),
			&cli.StringFlag{Name: "join", Usage: "separator `SEP` between the values of collect", DefaultText: ","},
		),
		Action: run,
	}
}

// Main runs mrreduce with the process's arguments and returns its exit
// status.
func Main() int { return mapapp.RunArgs(New(), os.Args) }

func run(c *cli.Context) error {
	before, words, dashed := mapapp.CommandWords(c)
	var builtin, cmd string
	var files []string
	switch {
	case dashed && len(words) > 0:
		cmd, files = mapapp.JoinCommand(words), before
	case dashed:
		return cliutil.Usagef("missing command after '--'")
	case len(before) > 0 && streaming.IsBuiltin(before[0]):
		builtin, files = before[0], before[1:]
	case len(before) > 0:
		return cliutil.Usagef("unknown built-in reducer '%s' (built-ins: %s; a command goes after '--')", before[0], strings.Join(streaming.Builtins, " "))
	default:
		return cliutil.Usagef("missing built-in reducer or '-- CMD'")
	}
	if c.IsSet("join") && builtin != "collect" {
		return cliutil.Usagef("--join is only for the collect built-in")
	}
	s, err := mapapp.ParseCommon(c, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(files) == 0 {
		files = []string{"-"}
	}
	in, closeAll, err := openAll(files, s.Proto.Terminator())
	if err != nil {
		if shuffle.IsVerifyError(err) {
			return cliutil.Exit(1, err)
		}
		return cliutil.Exit(2, err)
	}
	defer closeAll()
	out := c.App.Writer
	write := func(chunk []byte) error {
		_, err := out.Write(chunk)
		return err
	}
	if builtin != "" {
		opts := streaming.BuiltinOptions{Join: c.String("join")}
		for _, p := range []string{"aggregate.max.num.unique.values", "mapreduce.aggregate.max.num.unique.values"} {
			if v, ok := s.Task.ConfValue(p); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1 {
					return cliutil.Usagef("-D %s: invalid number '%s'", p, v)
				}
				opts.MaxUniqueValues = n
			}
		}
		b, err := streaming.NewBuiltin(builtin, s.Proto, opts, false)
		if err != nil {
			return cliutil.Usagef("%v", err)
		}
		b.Input = streaming.InputInfo{Name: strings.Join(files, " ")}
		return s.Finish(c, streaming.RunBuiltin(c.Context, b, in, write, s.Counters))
	}
	rc := s.Command(streaming.Reducer, cmd)
	rc.Task.IsMap = false
	rc.Task.Input = streaming.InputInfo{Name: strings.Join(files, " ")}
	return s.Finish(c, streaming.RunReducer(c.Context, rc, s.Proto, in, write))
}

// openAll opens the files (- is standard input) as one reader.
func openAll(files []string, term byte) (io.Reader, func(), error) {
	var rs []io.Reader
	var fs []io.ReadCloser
	closeAll := func() {
		for _, f := range fs {
			f.Close()
		}
	}
	for _, name := range files {
		if name == "-" {
			rs = append(rs, split.Terminated(os.Stdin, term))
			continue
		}
		fi, err := os.Stat(name)
		if err == nil && fi.IsDir() {
			err = errors.New("is a directory (merge map outputs with mrmerge)")
		}
		var f io.ReadCloser
		if err == nil {
			// A partition file is decompressed (S2) and verified against
			// the manifest beside it; other files are read as they are.
			var part *shuffle.Part
			if part, err = shuffle.FindPart(name, 0); err == nil {
				f, err = part.Open()
			}
		}
		if err != nil {
			closeAll()
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			if shuffle.IsVerifyError(err) {
				return nil, nil, err
			}
			if msg := err.Error(); strings.HasPrefix(msg, name+": ") {
				err = errors.New(strings.TrimPrefix(msg, name+": "))
			}
			return nil, nil, fmt.Errorf("cannot read: %s: %w", name, err)
		}
		fs = append(fs, f)
		// A file without a final terminator does not run into the next.
		rs = append(rs, split.Terminated(f, term))
	}
	return io.MultiReader(rs...), closeAll, nil
}
