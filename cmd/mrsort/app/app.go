// Package app is mrsort's command line: flags, wiring to package extsort,
// messages and exit statuses. It is a package of its own so that tests can
// run mrsort in-process (testscript).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/extsort"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

const description = `Write the sorted concatenation of the FILEs to standard output. With no
FILE, or when FILE is -, read standard input. Lines are compared as
unsigned bytes, exactly as GNU sort does with LC_ALL=C, whatever the
locale.

Input larger than the memory budget (-S) is sorted in runs written to
temporary files (-T), S2-compressed, and merged; they are removed however
mrsort ends. The default budget is the available memory or 1/8 of physical
memory, whichever is larger, but at most 3/4 of physical memory; memory is
used only as input arrives.

KEYDEF is F[.C][OPTS][,F[.C][OPTS]] for start and stop position, where F is
a field number and C a character position in the field, both origin 1;
OPTS is one or more of b f n r, which override the global ordering options
for that key. Without -t, fields are separated by the empty string between
a non-blank and a blank, so a field includes its leading blanks.

SIZE may be followed by b (bytes), K, M, G, T, P, E (powers of 1024) or %
(of physical memory); the default unit is K.

Exit status: 0 on success, 1 when -c or -C finds disorder, 2 on trouble.

Examples:
  mrsort access.log                  sort lines as bytes
  mrsort -t "$(printf '\t')" -k2,2nr counts.tsv
                                     by the second tab-separated field, numerically, largest first
  mrsort -u -S 256M -o words.txt big.txt
                                     unique lines, 256 MiB of memory, output replaces words.txt
  mrsort -m part-*                   merge files that are already sorted
  awk '{print $7}' access.log | mrsort | uniq -c | mrsort -nr | head`

// New returns mrsort's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrsort",
		Usage:       "sort lines of text files, fast, in bounded memory",
		UsageText:   "mrsort [OPTION]... [FILE]...",
		Description: description,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "ignore-leading-blanks", Aliases: []string{"b"}, Usage: "ignore leading blanks"},
			&cli.BoolFlag{Name: "ignore-case", Aliases: []string{"f"}, Usage: "fold lower case to upper case characters"},
			&cli.BoolFlag{Name: "numeric-sort", Aliases: []string{"n"}, Usage: "compare according to string numerical value"},
			&cli.BoolFlag{Name: "reverse", Aliases: []string{"r"}, Usage: "reverse the result of comparisons"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"c"}, Usage: "check for sorted input; do not sort"},
			&cli.BoolFlag{Name: "check-quiet", Aliases: []string{"C"}, Usage: "like -c, but do not report first bad line"},
			&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: "sort via a key; KEYDEF gives location and type", DefaultText: "KEYDEF"},
			&cli.BoolFlag{Name: "merge", Aliases: []string{"m"}, Usage: "merge already sorted files; do not sort"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write result to `FILE` instead of standard output"},
			&cli.BoolFlag{Name: "stable", Aliases: []string{"s"}, Usage: "stabilize sort by disabling last-resort comparison"},
			&cli.StringSliceFlag{Name: "buffer-size", Aliases: []string{"S"}, Usage: "use `SIZE` for the memory budget"},
			&cli.StringFlag{Name: "field-separator", Aliases: []string{"t"}, Usage: "use `SEP` instead of non-blank to blank transition"},
			&cli.StringSliceFlag{Name: "temporary-directory", Aliases: []string{"T"}, Usage: "use `DIR` for temporaries, not $TMPDIR or /tmp; multiple options specify multiple directories"},
			&cli.StringFlag{Name: "parallel", Usage: "change the number of sorts run concurrently to `N`"},
			&cli.StringFlag{Name: "batch-size", Usage: "merge at most `NMERGE` inputs at once; for more use temp files"},
			&cli.BoolFlag{Name: "unique", Aliases: []string{"u"}, Usage: "output only the first of an equal run"},
			&cli.BoolFlag{Name: "zero-terminated", Aliases: []string{"z"}, Usage: "line delimiter is NUL, not newline"},
			&cli.BoolFlag{Name: "no-compress", Usage: "write temporary files uncompressed"},
		},
		Action: run,
	}
}

// Main runs mrsort with the process's arguments and returns its exit status.
func Main() int { return cliutil.Run(New(), checkArgs(os.Args), os.Stdout, os.Stderr) }

// checkArgs rewrites GNU's --check=quiet, --check=silent and
// --check=diagnose-first (which the flag package cannot express) as -C
// and -c. Arguments after "--" are left alone.
func checkArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch a {
		case "--check=quiet", "--check=silent":
			a = "-C"
		case "--check=diagnose-first":
			a = "-c"
		}
		out = append(out, a)
	}
	return out
}

func options(c *cli.Context) (extsort.Options, error) {
	o := extsort.Options{
		IgnoreBlanks:   c.Bool("b"),
		IgnoreCase:     c.Bool("f"),
		Numeric:        c.Bool("n"),
		Reverse:        c.Bool("r"),
		Stable:         c.Bool("s"),
		Unique:         c.Bool("u"),
		ZeroTerminated: c.Bool("z"),
		TempDirs:       c.StringSlice("T"),
		NoCompress:     c.Bool("no-compress"),
	}
	for _, spec := range c.StringSlice("k") {
		k, err := extsort.ParseKey(spec)
		if err != nil {
			return o, cliutil.Exit(2, err)
		}
		o.Keys = append(o.Keys, k)
	}
	if c.IsSet("t") {
		t := c.String("t")
		switch {
		case t == "":
			return o, cliutil.Exit(2, errors.New("empty tab"))
		case t == `\0`:
			t = "\x00"
		case len(t) > 1:
			return o, cliutil.Exit(2, fmt.Errorf("multi-character tab '%s'", t))
		}
		o.Separator = t
	}
	for _, s := range c.StringSlice("S") {
		n, err := extsort.ParseSize(s)
		if err != nil {
			return o, cliutil.Exit(2, err)
		}
		o.Memory = max(o.Memory, n)
	}
	if c.IsSet("parallel") {
		n, err := strconv.Atoi(c.String("parallel"))
		if err != nil || n < 0 {
			return o, cliutil.Exit(2, fmt.Errorf("invalid --parallel argument '%s'", c.String("parallel")))
		}
		if n == 0 {
			return o, cliutil.Exit(2, errors.New("number in parallel must be nonzero"))
		}
		o.Parallel = n
	}
	if c.IsSet("batch-size") {
		n, err := parseBatchSize(c.String("batch-size"), maxBatchSize())
		if err != nil {
			return o, cliutil.Exit(2, err)
		}
		o.BatchSize = n
	}
	return o, nil
}

func run(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	files := c.Args().Slice()
	if len(files) == 0 {
		files = []string{"-"}
	}
	check, quiet := c.Bool("c"), c.Bool("C")
	if check && quiet {
		return cliutil.Exit(2, errors.New("options '-cC' are incompatible"))
	}
	if (check || quiet) && c.IsSet("o") {
		return cliutil.Exit(2, fmt.Errorf("options '-%so' are incompatible", map[bool]string{true: "c", false: "C"}[check]))
	}
	if (check || quiet) && len(files) > 1 {
		return cliutil.Exit(2, fmt.Errorf("extra operand '%s' not allowed with -%s", files[1], map[bool]string{true: "c", false: "C"}[check]))
	}
	for _, f := range files {
		if f != "-" {
			if err := unix.Access(f, unix.R_OK); err != nil {
				return cliutil.Exit(2, fmt.Errorf("cannot read: %s: %s", f, cliutil.Strerror(err)))
			}
		}
	}
	s, err := extsort.New(o)
	if err != nil {
		return cliutil.Exit(2, err)
	}
	inputs := make([]extsort.Input, len(files))
	for i, f := range files {
		inputs[i] = extsort.Input{Name: f}
	}
	ctx := c.Context
	if check || quiet {
		err := s.Check(ctx, inputs[0])
		if extsort.IsDisorder(err) {
			if quiet {
				return cliutil.Silent(1)
			}
			return cliutil.Exit(1, err)
		}
		return cliutil.Exit(2, err)
	}
	var w io.Writer = stdoutWriter{c.App.Writer}
	var out *extsort.OutputFile
	if c.IsSet("o") {
		if out, err = extsort.CreateOutput(c.String("o")); err != nil {
			return cliutil.Exit(2, err)
		}
		w = out
	}
	if c.Bool("m") {
		_, err = s.Merge(ctx, inputs, w)
	} else {
		_, err = s.Sort(ctx, inputs, w)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if out != nil {
		if err != nil {
			out.Abort()
		} else {
			err = out.Commit()
		}
	}
	if errors.Is(err, context.Canceled) {
		return cliutil.Silent(2)
	}
	if out != nil && errors.Is(err, syscall.EPIPE) {
		// -o /dev/stdout into a pipe whose reader has gone: quietly, with
		// the status of a death by SIGPIPE, as sort ends (Go raises
		// SIGPIPE only for writes to descriptors 1 and 2).
		return cliutil.Silent(128 + int(syscall.SIGPIPE))
	}
	return cliutil.Exit(2, err)
}

// stdoutWriter names standard output in write errors, as GNU sort does.
type stdoutWriter struct{ w io.Writer }

func (s stdoutWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "write /dev/stdout: " would be said twice
		}
		err = &os.PathError{Op: "write", Path: "'standard output'", Err: err}
	}
	return n, err
}

// parseBatchSize parses --batch-size's argument as GNU sort does, with
// its messages: a decimal number (after blanks) from 2 to max; the second
// line of a two-line message carries its own "mrsort: ".
func parseBatchSize(arg string, max int) (int, error) {
	t := strings.TrimLeft(arg, " \t\n\v\f\r")
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	switch {
	case i == 0:
		return 0, fmt.Errorf("invalid --batch-size argument '%s'", arg)
	case i < len(t):
		return 0, fmt.Errorf("invalid suffix in --batch-size argument '%s'", arg)
	}
	n, err := strconv.Atoi(t)
	switch {
	case err == nil && n < 2:
		return 0, fmt.Errorf("invalid --batch-size argument '%s'\nmrsort: minimum --batch-size argument is '2'", arg)
	case err != nil || n > max:
		return 0, fmt.Errorf("--batch-size argument '%s' too large\nmrsort: maximum --batch-size argument with current rlimit is %d", arg, max)
	}
	return n, nil
}

// maxBatchSize is GNU sort's bound on --batch-size: the open files limit
// less stdin, stdout and stderr. (Go raises the soft limit to the hard
// one at start, so where they differ mrsort allows more than GNU sort,
// as many as it can open.)
func maxBatchSize() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(rl.Cur) - 3
}
