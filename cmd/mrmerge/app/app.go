// Package app is mrmerge's command line: flags, wiring to package shuffle,
// messages and exit statuses.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/extsort"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/urfave/cli/v2"
)

const description = `Merge partition P of the map outputs (directories written by mrpart or
mrmap -R N -o DIR, or part files) to standard output: a k-way merge by key,
stable in the order the inputs are given, so lines with equal keys come
from earlier inputs first.

For a directory, its manifest.json says which file holds partition P; a
file operand is read as given (-p is then not needed). Every file listed
in a manifest is verified while it is read: its size, records, bytes and
CRC-32C must be what the manifest says, and S2 blocks must pass their
CRCs; otherwise mrmerge stops with a message naming the file and what
differs. S2 streams and plain text are told apart by the S2 magic; a
plain file without a manifest is merged as a sorted text file.

The order comes from the manifests (their key spec and comparator, which
must agree). -t, --key-fields and --comparator give it for inputs
without a manifest. When a manifest says its output is not sorted (mrpart
without --sort), the inputs are sorted instead of merged (stable, within
-S), so the output is the same. Inputs are read at most as many at a time
as half of -S holds at a megabyte each and the open-file limit allows;
beyond that they are merged a batch at a time into temporary runs (in -T
DIR), which are merged in turn.

Exit status: 0 on success, 1 when a file does not match its manifest or
is corrupt, 2 on bad usage or unreadable input.

Examples:
  mrmerge -p 0 map0 map1 map2              partition 0 of three map outputs
  for p in 0 1 2; do mrmerge -p $p map* > out.$p; done
  mrmerge -p 3 map* | mrreduce sum         reduce partition 3
  mrmerge map0/part-00001 map1/part-00001  the same partition, by file`

// New returns mrmerge's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrmerge",
		Usage:       "merge partition P of several map outputs, verified",
		UsageText:   "mrmerge -p P DIR|FILE...",
		Description: description,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "partition", Aliases: []string{"p"}, Usage: "merge partition `P` (from 0)"},
			&cli.StringFlag{Name: "field-separator", Aliases: []string{"t"}, Usage: "without a manifest: key fields are separated by `SEP`, not TAB"},
			&cli.StringFlag{Name: "key-fields", Usage: "without a manifest: the key is the first `N` fields"},
			&cli.StringFlag{Name: "comparator", Usage: "without a manifest: inputs are sorted by KeyFieldBasedComparator `OPTS`"},
			&cli.BoolFlag{Name: "zero-terminated", Aliases: []string{"z"}, Usage: "without a manifest: records end in NUL, not newline"},
			&cli.StringSliceFlag{Name: "buffer-size", Aliases: []string{"S"}, Usage: "use `SIZE` of memory for batch merges and for sorting unsorted inputs"},
			&cli.StringSliceFlag{Name: "temporary-directory", Aliases: []string{"T"}, Usage: "write batch merges to `DIR`, not $TMPDIR or /tmp"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print what was read and written on standard error"},
		},
		Action: run,
	}
}

// Main runs mrmerge with the process's arguments and returns its exit status.
func Main() int { return cliutil.Run(New(), os.Args, os.Stdout, os.Stderr) }

func run(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return cliutil.Usagef("missing operand: map output directories or part files")
	}
	p := -1
	if c.IsSet("p") {
		n, err := strconv.Atoi(c.String("p"))
		if err != nil || n < 0 {
			return cliutil.Usagef("invalid partition '%s'", c.String("p"))
		}
		p = n
	}
	var o shuffle.MergeOptions
	if c.IsSet("t") {
		sep, err := streaming.ParseSeparator(c.String("t"))
		if err != nil {
			return cliutil.Usagef("%v", err)
		}
		o.Key.Separator = sep
	}
	if c.IsSet("key-fields") {
		n, err := strconv.Atoi(c.String("key-fields"))
		if err != nil || n < 1 {
			return cliutil.Usagef("invalid --key-fields argument '%s'", c.String("key-fields"))
		}
		o.Key.Fields = n
	}
	o.Comparator = c.String("comparator")
	if o.Comparator != "" {
		if _, err := shuffle.ComparatorKeys(o.Comparator, o.Key.N()); err != nil {
			return cliutil.Usagef("--comparator: %v", err)
		}
	}
	o.ZeroTerminated = c.Bool("z")
	for _, s := range c.StringSlice("S") {
		m, err := extsort.ParseSize(s)
		if err != nil {
			return cliutil.Usagef("%v", err)
		}
		o.Memory = max(o.Memory, m)
	}
	o.TempDirs = c.StringSlice("T")

	parts := make([]*shuffle.Part, 0, len(args))
	for _, a := range args {
		if p < 0 {
			if fi, err := os.Stat(a); err == nil && fi.IsDir() {
				return cliutil.Usagef("%s is a directory: -p P says which partition to merge", a)
			}
		}
		pt, err := shuffle.FindPart(a, max(p, 0))
		if err != nil {
			return cliutil.Exit(2, err)
		}
		parts = append(parts, pt)
	}
	st, err := shuffle.Merge(c.Context, parts, c.App.Writer, o)
	if c.Bool("v") {
		fmt.Fprintf(c.App.ErrWriter, "mrmerge: %d inputs, read %d records (%d bytes), wrote %d records (%d bytes)\n",
			st.Parts, st.Records, st.Bytes, st.OutRecords, st.OutBytes)
	}
	switch {
	case err == nil:
		return nil
	case c.Context.Err() != nil || errors.Is(err, context.Canceled):
		return cliutil.Silent(1)
	case shuffle.IsVerifyError(err):
		return cliutil.Exit(1, err)
	}
	var oe *extsort.OutputError
	var se *extsort.SpillError
	if errors.As(err, &oe) || errors.As(err, &se) {
		return cliutil.Exit(1, err)
	}
	return cliutil.Exit(2, err)
}
