// Package app is mrsplit's command line: flags, wiring to package split,
// messages and exit statuses. It is a package of its own so that tests can
// run mrsplit in-process (testscript).
package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/split"
	"github.com/urfave/cli/v2"
)

const description = `Plan input splits on record boundaries, print one split's records, or
output pieces of FILE to PREFIXaa, PREFIXab, ... like GNU split, optionally
piping each piece to a command, several at once.

Planning (--plan, or --size): print one descriptor per split of the
FILEs, PATH<TAB>START<TAB>LENGTH, reading no data (a stat per file and its
magic bytes). FILEs may be files, directories (their files, not
recursively, without names starting with _ or .) and glob patterns. With
-n N there are N splits: split k of a file of S bytes covers
[k*q+min(k,r), (k+1)*q+min(k+1,r)) where q, r = S/N, S%N; several files
share the N splits in proportion to their sizes. With --size, splits are
that size (default 64M) except the last of each file. gzip and zstd files
(detected by magic bytes) are one split each.

A record belongs to the split in which it starts: --read DESC (a
descriptor line, or PATH:START+LENGTH) prints exactly the records of that
split, skipping a partial first record unless START is 0 and reading past
the split's end to finish its last one. Every record is in exactly one
split. Compressed files are decoded.

Cutting (GNU split's options, names and semantics): with no FILE, or when
FILE is -, read standard input; the default is 1000 lines per piece and
PREFIX x. -n N cuts bytes by the rule above; -n l/N cuts there too but
never breaks a record (as GNU split 9.2 and later). Standard input that is
not a regular file is copied to a temporary file first for -n.

With --filter, each piece is written to COMMAND run by $SHELL (or /bin/sh)
with FILE set to the piece's name; for -n N and -n l/N of a regular file
MRPIPE_SPLIT is set to PATH:START+LENGTH, the pieces are read straight from
the file's byte range (no copying through one reader), and up to -j
commands are fed at once, while as many more are started ahead, in order,
and wait for their piece (so that shell start-up overlaps the others'
work). A command that fails makes mrsplit exit 1. Commands running at
once share standard output, so what they write there interleaves; with
-j 1 each ends before the next starts, and their outputs come in order,
as with split.

CHUNKS may be: N (N files by size), K/N (Kth of N to stdout), l/N (N files
without splitting records), l/K/N (Kth of those to stdout), r/N (round
robin), r/K/N (Kth of round robin to stdout).

SIZE is an integer and optional unit: K, M, G, T, P, E (powers of 1024) or
KB, MB, ... (powers of 1000).

Exit status: 0 on success, 1 when a command or an output fails, 2 on bad
usage or unreadable input.

Examples:
  mrsplit --plan -n 8 logs/            8 descriptors over the files in logs/
  mrsplit --size 128M 'data/*.tsv'     descriptors of at most 128 MiB each
  mrsplit --read 'big.log:0+1048576'   the records of the first MiB
  mrsplit -n l/4 big.log part.         part.aa ... part.ad, whole lines
  mrsplit -n 8 -j 4 --filter 'gzip > $FILE.gz' big.log
                                       8 gzipped pieces, 4 compressing at once
  mrsplit -n 2 --filter 'grep -c ERROR' big.log
                                       count in both halves in parallel
  seq 100000 | mrsplit -l 10000 -d --additional-suffix=.txt - part-`

// New returns mrsplit's cli.App.
func New() *cli.App {
	return &cli.App{
		Name:        "mrsplit",
		Usage:       "plan input splits on record boundaries; split a file into pieces",
		UsageText:   "mrsplit [OPTION]... [FILE [PREFIX]]\n   mrsplit --plan [-n N | --size SIZE] FILE...\n   mrsplit --read DESC",
		Description: description,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "plan", Aliases: []string{"P"}, Usage: "print split descriptors of the FILEs instead of cutting"},
			&cli.StringFlag{Name: "size", Usage: "with --plan, splits of `SIZE` (default 64M); implies --plan"},
			&cli.StringFlag{Name: "min-size", Usage: "with --plan, make no split smaller than `SIZE`; implies --plan"},
			&cli.StringSliceFlag{Name: "read", Usage: "print the records of the split `DESC` (PATH<TAB>START<TAB>LENGTH or PATH:START+LENGTH)"},
			&cli.StringFlag{Name: "suffix-length", Aliases: []string{"a"}, Usage: "generate suffixes of length `N` (default 2)"},
			&cli.StringFlag{Name: "additional-suffix", Usage: "append an additional `SUFFIX` to file names"},
			&cli.StringFlag{Name: "bytes", Aliases: []string{"b"}, Usage: "put `SIZE` bytes per output file"},
			&cli.StringFlag{Name: "line-bytes", Aliases: []string{"C"}, Usage: "put at most `SIZE` bytes of records per output file"},
			&cli.BoolFlag{Name: "d", Usage: "use numeric suffixes starting at 0, not alphabetic"},
			&cli.StringFlag{Name: "numeric-suffixes", Usage: "same as -d, but allow setting the start value `FROM` (--numeric-suffixes[=FROM])"},
			&cli.BoolFlag{Name: "x", Usage: "use hex suffixes starting at 0, not alphabetic"},
			&cli.StringFlag{Name: "hex-suffixes", Usage: "same as -x, but allow setting the start value `FROM` (--hex-suffixes[=FROM])"},
			&cli.BoolFlag{Name: "elide-empty-files", Aliases: []string{"e"}, Usage: "do not generate empty output files with '-n'"},
			&cli.StringFlag{Name: "filter", Usage: "write to shell `COMMAND`; file name is $FILE"},
			&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "run up to `N` filter commands at once (default: number of cores)"},
			&cli.StringFlag{Name: "lines", Aliases: []string{"l"}, Usage: "put `NUMBER` lines/records per output file"},
			&cli.StringFlag{Name: "number", Aliases: []string{"n"}, Usage: "generate `CHUNKS` output files (or splits with --plan)"},
			&cli.StringFlag{Name: "separator", Aliases: []string{"t"}, Usage: "use `SEP` instead of newline as the record separator; '\\0' (zero) specifies the NUL character"},
			&cli.BoolFlag{Name: "zero-terminated", Aliases: []string{"z"}, Usage: "records end in NUL, not newline (as -t '\\0')"},
			&cli.BoolFlag{Name: "unbuffered", Aliases: []string{"u"}, Usage: "immediately copy input to output with '-n r/...'"},
			&cli.BoolFlag{Name: "verbose", Usage: "print a diagnostic just before each output file is opened"},
		},
		Action: run,
	}
}

// Main runs mrsplit with the process's arguments and returns its exit status.
func Main() int { return cliutil.Run(New(), optionalArgs(os.Args), os.Stdout, os.Stderr) }

// optionalArgs gives --numeric-suffixes and --hex-suffixes (and their
// unambiguous prefixes) written without =FROM an empty value, as GNU's
// optional arguments work, so that the next word stays an operand.
func optionalArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if strings.Contains(a, "=") || len(a) < 5 {
			continue
		}
		for _, name := range []string{"--numeric-suffixes", "--hex-suffixes"} {
			if strings.HasPrefix(name, a) && (len(a) >= 6 || name[2] == 'h') {
				out[i] = name + "="
			}
		}
	}
	return out
}

// chunkSpec is a parsed -n CHUNKS.
type chunkSpec struct {
	kind byte  // 0 (bytes), 'l' or 'r'
	k, n int64 // k is 0 when all chunks are wanted
}

func parseChunks(s string) (chunkSpec, error) {
	var c chunkSpec
	rest := s
	if strings.HasPrefix(rest, "l/") || strings.HasPrefix(rest, "r/") {
		c.kind = rest[0]
		rest = rest[2:]
	}
	ks, ns, two := strings.Cut(rest, "/")
	if !two {
		ns, ks = ks, ""
	}
	n, err := parseCount(ns, "chunks")
	if err != nil {
		return c, err
	}
	c.n = n
	if two {
		k, err := strconv.ParseUint(ks, 10, 63)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange):
			return c, fmt.Errorf("invalid chunk number: '%s': Value too large for defined data type", ks)
		case err != nil:
			return c, fmt.Errorf("invalid chunk number: '%s'", ks)
		case k == 0 || int64(k) > n:
			return c, fmt.Errorf("invalid chunk number: '%s': Numerical result out of range", ks)
		}
		c.k = int64(k)
	}
	return c, nil
}

// config is the command line, checked.
type config struct {
	mode      byte // 'l' lines, 'b' bytes, 'C' line bytes, 'n' chunks
	count     int64
	chunks    chunkSpec
	delim     byte
	prefix    string
	input     string
	names     *namer
	filter    string
	jobs      int
	elide     bool
	verbose   bool
	unbuf     bool
	stdout    io.Writer
	stdoutF   *os.File
	shell     string
	filterEnv []string
}

func run(c *cli.Context) error {
	if c.IsSet("t") && c.Bool("z") {
		return cliutil.Usagef("multiple separator characters specified")
	}
	delim := byte('\n')
	if c.Bool("z") {
		delim = 0
	}
	if c.IsSet("t") {
		t := c.String("t")
		switch {
		case t == "":
			return cliutil.Exit(2, errors.New("empty record separator"))
		case t == `\0`:
			delim = 0
		case len(t) > 1:
			return cliutil.Exit(2, fmt.Errorf("multi-character separator '%s'", t))
		default:
			delim = t[0]
		}
	}
	if c.IsSet("read") {
		if c.Args().Len() > 0 {
			return cliutil.Usagef("extra operand '%s'", c.Args().First())
		}
		return readSplits(c, c.StringSlice("read"), delim)
	}
	if c.Bool("plan") || c.IsSet("size") || c.IsSet("min-size") {
		return plan(c)
	}
	cfg, err := configure(c, delim)
	if err != nil {
		return err
	}
	return cut(c, cfg)
}

// readSplits prints the records of each descriptor.
func readSplits(c *cli.Context, descs []string, delim byte) error {
	out, _ := c.App.Writer.(*os.File)
	for _, d := range descs {
		s, err := split.ParseDescriptor(d)
		if err != nil {
			return cliutil.Exit(2, err)
		}
		r, err := split.OpenDelim(s, delim)
		if err != nil {
			return cliutil.Exit(2, err)
		}
		if out != nil {
			_, err = r.SendTo(out)
		} else {
			_, err = io.Copy(c.App.Writer, r)
		}
		r.Close()
		if err != nil {
			if isEPIPE(err) {
				return cliutil.Silent(1)
			}
			return cliutil.Exit(1, err)
		}
	}
	return nil
}

func plan(c *cli.Context) error {
	var o split.Options
	if c.IsSet("n") {
		n, err := parseCount(c.String("n"), "chunks")
		if err != nil {
			return cliutil.Exit(2, err)
		}
		if n > 1<<30 {
			return cliutil.Exit(2, fmt.Errorf("invalid number of chunks: '%s': Value too large for defined data type", c.String("n")))
		}
		o.N = int(n)
		if c.IsSet("size") {
			return cliutil.Usagef("cannot split in more than one way")
		}
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"size", &o.Size}, {"min-size", &o.MinSize}} {
		if c.IsSet(f.name) {
			v, err := parseSize(c.String(f.name), "bytes")
			if err != nil {
				return cliutil.Exit(2, err)
			}
			*f.dst = v
		}
	}
	for _, name := range []string{"l", "b", "C", "filter", "a", "additional-suffix", "d", "x", "numeric-suffixes", "hex-suffixes", "e", "verbose", "u", "j"} {
		if c.IsSet(name) {
			return cliutil.Usagef("option '%s' cuts files: it is not for --plan", flagName(name))
		}
	}
	if c.Args().Len() == 0 {
		return cliutil.Usagef("missing operand: --plan needs input FILEs")
	}
	splits, err := split.Plan(c.Args().Slice(), o)
	if err != nil {
		return cliutil.Exit(2, err)
	}
	w := bufio.NewWriterSize(c.App.Writer, 64<<10)
	for _, s := range splits {
		w.WriteString(s.Descriptor())
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		if isEPIPE(err) {
			return cliutil.Silent(1)
		}
		return cliutil.Exit(1, err)
	}
	return nil
}

func flagName(n string) string {
	if len(n) == 1 {
		return "-" + n
	}
	return "--" + n
}

func configure(c *cli.Context, delim byte) (*config, error) {
	cfg := &config{delim: delim, elide: c.Bool("e"), verbose: c.Bool("verbose"), unbuf: c.Bool("u"), filter: c.String("filter")}
	cfg.stdout = c.App.Writer
	cfg.stdoutF, _ = c.App.Writer.(*os.File)
	set := 0
	var err error
	if c.IsSet("l") {
		set++
		cfg.mode = 'l'
		if cfg.count, err = parseCount(c.String("l"), "lines"); err != nil {
			return nil, cliutil.Exit(2, err)
		}
	}
	if c.IsSet("b") {
		set++
		cfg.mode = 'b'
		if cfg.count, err = parseSize(c.String("b"), "bytes"); err != nil {
			return nil, cliutil.Exit(2, err)
		}
	}
	if c.IsSet("C") {
		set++
		cfg.mode = 'C'
		if cfg.count, err = parseSize(c.String("C"), "bytes"); err != nil {
			return nil, cliutil.Exit(2, err)
		}
	}
	if c.IsSet("n") {
		set++
		cfg.mode = 'n'
		if cfg.chunks, err = parseChunks(c.String("n")); err != nil {
			return nil, cliutil.Exit(2, err)
		}
	}
	if set > 1 {
		return nil, cliutil.Usagef("cannot split in more than one way")
	}
	if set == 0 {
		cfg.mode, cfg.count = 'l', 1000
	}
	if cfg.mode == 'n' && cfg.chunks.k > 0 && c.IsSet("filter") {
		return nil, cliutil.Usagef("--filter does not process a chunk extracted to stdout")
	}
	if cfg.mode == 'n' && cfg.chunks.n > 1<<24 {
		return nil, cliutil.Exit(2, fmt.Errorf("invalid number of chunks: '%d': Value too large for defined data type", cfg.chunks.n))
	}
	cfg.jobs = runtime.NumCPU()
	if c.IsSet("j") {
		j, err := strconv.Atoi(c.String("j"))
		if err != nil || j < 1 {
			return nil, cliutil.Exit(2, fmt.Errorf("invalid number of jobs: '%s'", c.String("j")))
		}
		cfg.jobs = j
	}

	args := c.Args().Slice()
	if len(args) > 2 {
		return nil, cliutil.Usagef("extra operand '%s'", args[2])
	}
	cfg.input, cfg.prefix = "-", "x"
	if len(args) > 0 {
		cfg.input = args[0]
	}
	if len(args) > 1 {
		cfg.prefix = args[1]
	}

	// Suffixes, as GNU split chooses them.
	alphabet := "abcdefghijklmnopqrstuvwxyz"
	from := ""
	fromFlag := ""
	for _, f := range []struct {
		name, alpha, what string
	}{{"d", "0123456789", ""}, {"numeric-suffixes", "0123456789", "numerical"}, {"x", "0123456789abcdef", ""}, {"hex-suffixes", "0123456789abcdef", "hexadecimal"}} {
		if !c.IsSet(f.name) {
			continue
		}
		alphabet = f.alpha
		if f.what == "" {
			continue
		}
		v := c.String(f.name)
		if v == "" {
			continue
		}
		if strings.Trim(v, f.alpha) != "" {
			return nil, cliutil.Usagef("'%s': invalid start value for %s suffix", v, f.what)
		}
		for len(v) > 1 && v[0] == '0' {
			v = v[1:]
		}
		from, fromFlag = v, f.name
	}
	_ = fromFlag
	extra := c.String("additional-suffix")
	if strings.Contains(extra, "/") {
		return nil, cliutil.Usagef("invalid suffix '%s', contains directory separator", extra)
	}
	length := 0
	if c.IsSet("a") {
		a := c.String("a")
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, cliutil.Exit(2, fmt.Errorf("invalid suffix length: '%s': Value too large for defined data type", a))
			}
			return nil, cliutil.Exit(2, fmt.Errorf("invalid suffix length: '%s'", a))
		}
		if n > 1<<20 {
			return nil, cliutil.Exit(2, fmt.Errorf("invalid suffix length: '%s': Value too large for defined data type", a))
		}
		length = int(n)
	}
	auto := from == ""
	need := 0
	if cfg.mode == 'n' {
		need = suffixNeeded(cfg.chunks.n, from, alphabet)
		auto = false
	}
	if length > 0 {
		if length < need {
			return nil, cliutil.Exit(1, fmt.Errorf("the suffix length needs to be at least %d", need))
		}
		auto = false
	} else {
		length = max(2, need)
	}
	if len(from) > length {
		return nil, cliutil.Usagef("numerical suffix start value is too large for the suffix length")
	}
	cfg.names = newNamer(cfg.prefix, extra, alphabet, length, from, auto)

	if cfg.filter != "" {
		cfg.shell = os.Getenv("SHELL")
		if cfg.shell == "" {
			cfg.shell = "/bin/sh"
		}
	}
	return cfg, nil
}

func isEPIPE(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return errors.Is(err, errEPIPE)
}
