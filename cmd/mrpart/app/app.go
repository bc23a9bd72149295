// Package app is mrpart's command line: flags, wiring to package shuffle
// (and streaming for combiners), messages and exit statuses.
package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/extsort"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/urfave/cli/v2"
)

const description = `Partition the lines of the FILEs (standard input without FILE, or for -)
by key into R partitions, as the map side of a Hadoop shuffle does, and
write DIR/part-00000 ... DIR/part-(R-1) and DIR/manifest.json.

A line's key is the bytes before the first separator (TAB, or -t SEP), or
before the N-th with --key-fields N; a line with fewer separators is all
key. Lines are never changed, except that a last line without a newline
gains one.

Partitioners:
  (default)      Hadoop's HashPartitioner: the same keys land in the same
                 part-NNNNN as on Hadoop for the same R
  -k KEYDEF      Hadoop's KeyFieldBasedPartitioner (-D
                 mapreduce.partition.keypartitioner.options=-kKEYDEF):
                 hash only the key fields KEYDEF selects; -k may repeat
  --ranges FILE  total order: FILE holds up to R-1 increasing split keys,
                 one per line; partition i holds the keys from split key i
                 up to split key i+1, so sorted parts concatenated in order
                 are sorted. --sample writes such a FILE instead of
                 partitioning: split keys that cut a random sample of the
                 keys (--sample-size) into R equal parts.

KEYDEF is F[.C][,F[.C]] (fields and byte positions from 1; .0 or no .C in
the second position means the end of that field), as Hadoop parses it.

--sort sorts each partition by key (bytes, LC_ALL=C) within the memory
budget -S, keeping lines with equal keys in input order; --comparator OPTS
sorts by Hadoop KeyFieldBasedComparator options instead (-k with n and r,
-n, -r; over the key's fields). --combiner CMD runs "sh -c CMD" (or a
built-in: sum min max uniq collect first last aggregate) once per
non-empty partition over its sorted lines, and stores its output, which
must stay sorted and in the partition; it implies --sort. mean and count
are refused as combiners (their results do not combine).

Part files are S2 streams (framed, CRC-checked) unless --compress none.
The manifest records, per partition, records, uncompressed bytes, their
CRC-32C and the file size; mrmerge verifies them. Files appear only when
all is written: part files are renamed into place, the manifest last.

Without -o, mrpart needs R = 1 and writes the partition's lines to
standard output (useful with --sort and --combiner); with R > 1 -o is
required.

Exit status: 0 on success, 1 when the combiner or writing fails, 2 on bad
usage or unreadable input.

Examples:
  mrpart -R 4 -o map0 words.tsv          hash-partition into map0/part-0000[0-3]
  mrpart -R 4 --sort --combiner sum -o map0 words.tsv
                                         sort and pre-sum each partition
  mrpart -R 8 -k1,1 --key-fields 2 -o m  partition on field 1 of a 2-field key
  mrpart -R 4 --sample --ranges r.txt big.tsv && mrpart -R 4 --ranges r.txt --sort -o m big.tsv
                                         globally sorted partitions
  mrpart --sort --combiner 'awk -f sum.awk' words.tsv
                                         sort and combine to standard output`

// New returns mrpart's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrpart",
		Usage:       "partition lines by key into R part files with a manifest",
		UsageText:   "mrpart -R N [-o DIR] [OPTION]... [FILE]...",
		Description: description,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "partitions", Aliases: []string{"R"}, Usage: "write `N` partitions (reduce tasks; default 1, or one more than the --ranges keys)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write part files and manifest.json to `DIR`"},
			&cli.StringFlag{Name: "field-separator", Aliases: []string{"t"}, Usage: "key fields are separated by `SEP` (one byte; \\t, \\0), not TAB"},
			&cli.StringFlag{Name: "key-fields", Usage: "the key is the first `N` fields"},
			&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: "partition by the key fields `KEYDEF` (KeyFieldBasedPartitioner)"},
			&cli.StringFlag{Name: "ranges", Usage: "total order by the split keys in `FILE` (with --sample: write FILE)"},
			&cli.BoolFlag{Name: "sample", Usage: "write split keys for --ranges from a sample of the keys; do not partition"},
			&cli.StringFlag{Name: "sample-size", Usage: "sample at most `N` keys (default 100000)"},
			&cli.BoolFlag{Name: "sort", Usage: "sort each partition by key, stable"},
			&cli.StringFlag{Name: "comparator", Usage: "sort by KeyFieldBasedComparator `OPTS` (e.g. '-k2,2nr'); implies --sort"},
			&cli.StringFlag{Name: "combiner", Usage: "run `CMD` (sh -c, or a built-in) over each sorted partition; implies --sort"},
			&cli.StringFlag{Name: "compress", Usage: "part file format: `s2` or none", Value: "s2"},
			&cli.StringSliceFlag{Name: "buffer-size", Aliases: []string{"S"}, Usage: "use `SIZE` of memory for sorting (as sort -S)"},
			&cli.StringSliceFlag{Name: "temporary-directory", Aliases: []string{"T"}, Usage: "spill sorted runs to `DIR`, not $TMPDIR or /tmp"},
			&cli.BoolFlag{Name: "zero-terminated", Aliases: []string{"z"}, Usage: "records end in NUL, not newline"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print the counters, the sort's runs and each partition's size on standard error"},
			&cli.StringFlag{Name: "counters", Usage: "write the counters (Hadoop's names) to `FILE` as JSON"},
		},
		Action: run,
	}
}

// Main runs mrpart with the process's arguments and returns its exit status.
func Main() int { return cliutil.Run(New(), os.Args, os.Stdout, os.Stderr) }

type config struct {
	opts      shuffle.Options
	dir       string
	files     []string
	term      byte
	sampleN   int
	rangesArg string
}

func positive(c *cli.Context, name string) (int, bool, error) {
	if !c.IsSet(name) {
		return 0, false, nil
	}
	s := c.String(name)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, true, cliutil.Usagef("invalid --%s argument '%s'", name, s)
	}
	return n, true, nil
}

func configure(c *cli.Context) (*config, error) {
	cf := &config{dir: c.String("o"), files: c.Args().Slice(), term: '\n'}
	o := &cf.opts
	o.ZeroTerminated = c.Bool("z")
	if o.ZeroTerminated {
		cf.term = 0
	}
	if c.IsSet("t") {
		sep, err := streaming.ParseSeparator(c.String("t"))
		if err != nil {
			return nil, cliutil.Usagef("%v", err)
		}
		o.Key.Separator = sep
	}
	if o.Key.Sep() == cf.term {
		return nil, cliutil.Usagef("the field separator cannot be the record terminator")
	}
	n, _, err := positive(c, "key-fields")
	if err != nil {
		return nil, err
	}
	o.Key.Fields = n
	r, haveR, err := positive(c, "partitions")
	if err != nil {
		return nil, err
	}
	if r > shuffle.MaxPartitions {
		return nil, cliutil.Usagef("at most %d partitions", shuffle.MaxPartitions)
	}
	cf.sampleN = 100000
	if n, set, err := positive(c, "sample-size"); err != nil {
		return nil, err
	} else if set {
		cf.sampleN = n
	}
	o.Sort = c.Bool("sort")
	o.Comparator = c.String("comparator")
	if o.Comparator != "" {
		if _, err := shuffle.ComparatorKeys(o.Comparator, o.Key.N()); err != nil {
			return nil, cliutil.Usagef("--comparator: %v", err)
		}
	}
	o.Compress = c.String("compress")
	if o.Compress != shuffle.CompressS2 && o.Compress != shuffle.CompressNone {
		return nil, cliutil.Usagef("invalid --compress argument '%s' (want s2 or none)", o.Compress)
	}
	for _, s := range c.StringSlice("S") {
		m, err := extsort.ParseSize(s)
		if err != nil {
			return nil, cliutil.Usagef("%v", err)
		}
		o.Memory = max(o.Memory, m)
	}
	o.TempDirs = c.StringSlice("T")

	keys := c.StringSlice("k")
	cf.rangesArg = c.String("ranges")
	if len(keys) > 0 && cf.rangesArg != "" {
		return nil, cliutil.Usagef("-k and --ranges are different partitioners; give one")
	}
	if c.Bool("sample") {
		if !haveR {
			return nil, cliutil.Usagef("--sample needs -R N")
		}
		if c.IsSet("o") || c.IsSet("combiner") || len(keys) > 0 {
			return nil, cliutil.Usagef("--sample writes split keys only; it takes no -o, -k or --combiner")
		}
		o.Partitions = r
		return cf, nil
	}
	var splits [][]byte
	if cf.rangesArg != "" {
		if splits, err = shuffle.ReadRanges(cf.rangesArg, cf.term); err != nil {
			return nil, cliutil.Exit(2, fmt.Errorf("--ranges: %s: %v", cf.rangesArg, cliutil.Strerror(err)))
		}
		if !haveR {
			r, haveR = len(splits)+1, true
		}
	}
	if !haveR {
		r = 1 // Hadoop's default mapreduce.job.reduces
	}
	o.Partitions = r
	switch {
	case len(keys) > 0:
		opts := make([]string, len(keys))
		for i, k := range keys {
			opts[i] = "-k" + k
		}
		p, err := shuffle.NewKeyFieldPartitioner(r, strings.Join(opts, " "), o.Key.Sep())
		if err != nil {
			return nil, cliutil.Usagef("%v", err)
		}
		o.Partitioner = p
	case cf.rangesArg != "":
		cmp, err := keyCompare(o.Comparator, o.Key)
		if err != nil {
			return nil, cliutil.Usagef("%v", err)
		}
		p, err := shuffle.NewTotalOrderPartitioner(r, splits, cmp)
		if err != nil {
			return nil, cliutil.Exit(2, fmt.Errorf("--ranges: %s: %v", cf.rangesArg, err))
		}
		o.Partitioner = p
	}
	if cf.dir == "" && r > 1 {
		return nil, cliutil.Usagef("-o DIR is required with -R %d (standard output holds one partition only)", r)
	}
	if cmd := c.String("combiner"); c.IsSet("combiner") {
		f, err := combiner(c, cmd, o)
		if err != nil {
			return nil, err
		}
		o.Combine = f
	}
	return cf, nil
}

// keyCompare orders keys for total-order partitioning: by the comparator
// when there is one, else as bytes (nil).
func keyCompare(comparator string, key shuffle.KeySpec) (func(a, b []byte) int, error) {
	if comparator == "" {
		return nil, nil
	}
	keys, err := shuffle.ComparatorKeys(comparator, key.N())
	if err != nil {
		return nil, err
	}
	s, err := extsort.New(extsort.Options{Keys: keys, Separator: string(key.Sep()), Stable: true})
	if err != nil {
		return nil, err
	}
	return s.Compare, nil
}

// combiner makes the CombineFunc for --combiner CMD: a built-in by name,
// else sh -c CMD.
func combiner(c *cli.Context, cmd string, o *shuffle.Options) (shuffle.CombineFunc, error) {
	if strings.TrimSpace(cmd) == "" {
		return nil, cliutil.Usagef("empty --combiner command")
	}
	proto := streaming.Protocol{Key: o.Key, ZeroTerminated: o.ZeroTerminated}
	if streaming.IsBuiltin(cmd) {
		b, err := streaming.NewBuiltin(cmd, proto, streaming.BuiltinOptions{}, true)
		if err != nil {
			return nil, cliutil.Usagef("--combiner: %v", err)
		}
		return streaming.BuiltinCombiner(b, streaming.NewCounters()), nil
	}
	term := byte('\n')
	if o.ZeroTerminated {
		term = 0
	}
	tmpl := &streaming.Command{
		Cmd: cmd, Name: "mrpart", Term: term,
		Stderr: c.App.ErrWriter, Counters: streaming.NewCounters(),
	}
	return streaming.CommandCombiner(tmpl, proto), nil
}

func run(c *cli.Context) error {
	cf, err := configure(c)
	if err != nil {
		return err
	}
	if len(cf.files) == 0 {
		cf.files = []string{"-"}
	}
	for _, f := range cf.files {
		if f == "-" {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return cliutil.Exit(2, fmt.Errorf("cannot read: %s: %s", f, cliutil.Strerror(err)))
		}
		fh.Close()
	}
	ctx := c.Context
	if c.Bool("sample") {
		return sample(c, cf)
	}
	dir := cf.dir
	if dir == "" {
		tmp := ""
		if len(cf.opts.TempDirs) > 0 {
			tmp = cf.opts.TempDirs[0]
		}
		d, err := os.MkdirTemp(tmp, "mrpart")
		if err != nil {
			return cliutil.Exit(2, fmt.Errorf("cannot create temporary directory: %s", cliutil.Strerror(err)))
		}
		defer os.RemoveAll(d)
		dir = d
		cf.opts.Compress = shuffle.CompressNone
	}
	w, err := shuffle.Create(ctx, dir, cf.opts)
	if err != nil {
		return cliutil.Exit(2, err)
	}
	for _, f := range cf.files {
		if err := copyInput(ctx, w, f, c.App.Reader, cf.term); err != nil {
			w.Abort()
			return failure(ctx, err)
		}
	}
	m, err := w.Close()
	if err != nil {
		return failure(ctx, err)
	}
	if c.IsSet("counters") {
		if err := counters(m).WriteJSONFile(c.String("counters")); err != nil {
			return cliutil.Exit(1, err)
		}
	}
	if c.Bool("v") {
		printStats(c.App.ErrWriter, m)
	}
	if cf.dir == "" {
		// The one partition, as written: sorted with --sort, else in
		// input order (a merge would sort it).
		pt, err := shuffle.FindPart(dir, 0)
		if err != nil {
			return cliutil.Exit(1, err)
		}
		r, err := pt.Open()
		if err != nil {
			return cliutil.Exit(1, err)
		}
		_, err = io.Copy(c.App.Writer, r)
		r.Close()
		if err != nil {
			return failure(ctx, err)
		}
	}
	return nil
}

// inputError is an unreadable input: exit status 2.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }

// copyInput writes the records of input name to w; a last record
// without a terminator gets one, so that the next input's first record
// stays apart from it.
func copyInput(ctx context.Context, w io.Writer, name string, stdin io.Reader, term byte) error {
	var r io.Reader
	if name == "-" {
		r = stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return &inputError{fmt.Errorf("cannot read: %s: %s", name, cliutil.Strerror(err))}
		}
		defer f.Close()
		r = f
	}
	r = split.Terminated(r, term)
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &inputError{fmt.Errorf("read failed: %s: %s", name, cliutil.Strerror(err))}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func failure(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return cliutil.Silent(1)
	}
	var ie *inputError
	if errors.As(err, &ie) {
		return cliutil.Exit(2, ie.err)
	}
	return cliutil.Exit(1, err)
}

// counters returns the counters of m's writer under Hadoop's names:
// mrpart does what the output collector of a map task does, its input
// being the map's output.
func counters(m *shuffle.Manifest) *streaming.Counters {
	cs := streaming.NewCounters()
	s, g := m.Stats, streaming.GroupFramework
	cs.Add(g, streaming.MapOutputRecords, s.InputRecords)
	cs.Add(g, streaming.MapOutputBytes, s.InputBytes)
	if m.Combined {
		cs.Add(g, streaming.CombineInputRecords, s.CombineInputRecords)
		cs.Add(g, streaming.CombineOutputRecords, s.CombineOutputRecords)
	}
	cs.Add(g, streaming.SpilledRecords, s.OutputRecords)
	cs.Add(g, "Map output materialized bytes", s.FileBytes)
	return cs
}

// printStats prints the counters, as mrmap -v does, then the sort's runs
// and each partition's records and bytes.
func printStats(w io.Writer, m *shuffle.Manifest) {
	s := m.Stats
	fmt.Fprintln(w, "mrpart: counters:")
	counters(m).WriteSummary(w)
	if s.SortRuns > 0 {
		fmt.Fprintf(w, "sort runs\t%d\nspill bytes\t%d\n", s.SortRuns, s.SpillBytes)
	}
	for _, p := range m.Partitions {
		fmt.Fprintf(w, "%s\t%d records\t%d bytes\n", p.File, p.Records, p.Bytes)
	}
}

// sample reads the keys of the inputs into a sample and writes the split
// keys to --ranges FILE, or standard output.
func sample(c *cli.Context, cf *config) error {
	s := shuffle.NewSampler(cf.sampleN)
	key := cf.opts.Key
	for _, name := range cf.files {
		if err := eachLine(c, name, cf.term, func(line []byte) { s.Add(key.Key(line)) }); err != nil {
			return cliutil.Exit(2, err)
		}
	}
	cmp, err := keyCompare(cf.opts.Comparator, key)
	if err != nil {
		return cliutil.Usagef("%v", err)
	}
	splits := s.Splits(cf.opts.Partitions, cmp)
	if cf.rangesArg != "" {
		if err := shuffle.WriteRanges(cf.rangesArg, splits, cf.term); err != nil {
			return cliutil.Exit(1, err)
		}
		return nil
	}
	bw := bufio.NewWriter(c.App.Writer)
	for _, sp := range splits {
		bw.Write(sp)
		bw.WriteByte(cf.term)
	}
	return cliutil.Exit(1, bw.Flush())
}

func eachLine(c *cli.Context, name string, term byte, fn func([]byte)) error {
	var r io.Reader = c.App.Reader
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("cannot read: %s: %s", name, cliutil.Strerror(err))
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		r = os.Stdin
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		line, err := br.ReadSlice(term)
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if len(long) > 0 {
			line = append(long, line...)
			long = long[:0]
		}
		line = bytes.TrimSuffix(line, []byte{term})
		if len(line) > 0 || err == nil {
			fn(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read failed: %s: %s", name, cliutil.Strerror(err))
		}
		if c.Context.Err() != nil {
			return c.Context.Err()
		}
	}
}
