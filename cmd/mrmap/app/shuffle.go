package app

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
	"github.com/mrpipe/mrpipe/extsort"
	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/urfave/cli/v2"
)

// ShuffleFlags are the flags of the map side of the shuffle (-R).
func ShuffleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "reduces", Aliases: []string{"R"}, Usage: "partition the output into `N` sorted partition files (needs -o)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "with -R, write DIR/part-NNNNN and DIR/manifest.json in `DIR`"},
		&cli.StringFlag{Name: "combiner", Usage: "with -R, run `CMD` (sh -c) or a built-in (sum min max uniq collect first last aggregate) over each sorted partition"},
		&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: "with -R, partition by Hadoop KeyFieldBasedPartitioner options `KEYDEF` (-k1,1)"},
		&cli.StringFlag{Name: "ranges", Usage: "with -R, total-order partitioning by the split keys in `FILE` (from mrpart --sample)"},
		&cli.StringFlag{Name: "comparator", Usage: "with -R, sort by Hadoop KeyFieldBasedComparator `OPTS` (e.g. '-k2,2nr') instead of key bytes"},
		&cli.StringFlag{Name: "buffer-size", Aliases: []string{"S"}, Usage: "with -R, use `SIZE` of memory for sorting (K M G suffixes, as mrsort)"},
		&cli.StringSliceFlag{Name: "temporary-directory", Aliases: []string{"T"}, Usage: "with -R, spill sorted runs to `DIR`"},
		&cli.StringFlag{Name: "compress", Usage: "with -R, store partition files as `FORMAT` s2 or none", DefaultText: "s2"},
		&cli.StringFlag{Name: "join", Usage: "separator `SEP` of the built-in collect combiner", DefaultText: ","},
	}
}

type shuffleSetup struct {
	dir      string
	opts     shuffle.Options
	combiner string
	// builtin is the built-in combiner, if that is what --combiner names;
	// it also pre-combines the mapper's output in a hash table.
	builtin *streaming.Builtin
	// combinerCmd is the combiner when it is a command.
	combinerCmd *streaming.Command
}

func parseShuffle(c *cli.Context, s *Setup) (*shuffleSetup, error) {
	if !c.IsSet("R") {
		for _, f := range []string{"output", "combiner", "key", "ranges", "comparator", "buffer-size", "temporary-directory", "compress", "join"} {
			if c.IsSet(f) {
				return nil, cliutil.Usagef("--%s needs -R", f)
			}
		}
		return nil, nil
	}
	r, err := strconv.Atoi(c.String("R"))
	if err != nil || r < 1 || r > shuffle.MaxPartitions {
		return nil, cliutil.Usagef("invalid -R argument '%s' (want 1 to %d)", c.String("R"), shuffle.MaxPartitions)
	}
	if !c.IsSet("o") || c.String("o") == "" {
		return nil, cliutil.Usagef("-R needs -o DIR")
	}
	sh := &shuffleSetup{dir: c.String("o"), combiner: c.String("combiner")}
	o := &sh.opts
	o.Partitions = r
	o.Key = s.Proto.Key
	o.ZeroTerminated = s.Proto.ZeroTerminated
	o.Sort = true
	o.Compress = c.String("compress")
	if o.Compress != "" && o.Compress != shuffle.CompressS2 && o.Compress != shuffle.CompressNone {
		return nil, cliutil.Usagef("invalid --compress argument '%s' (want s2 or none)", o.Compress)
	}
	o.Comparator = c.String("comparator")
	var cmp func(a, b []byte) int
	if o.Comparator != "" {
		keys, err := shuffle.ComparatorKeys(o.Comparator, o.Key.N())
		if err != nil {
			return nil, cliutil.Usagef("--comparator: %v", err)
		}
		srt, err := extsort.New(extsort.Options{Keys: keys, Separator: string(o.Key.Sep()), Stable: true})
		if err != nil {
			return nil, cliutil.Usagef("--comparator: %v", err)
		}
		cmp = srt.Compare
	}
	if c.IsSet("ranges") {
		if c.IsSet("k") {
			return nil, cliutil.Usagef("-k and --ranges are different partitioners; give one")
		}
		splits, err := shuffle.ReadRanges(c.String("ranges"), s.Proto.Terminator())
		if err != nil {
			return nil, cliutil.Exit(2, fmt.Errorf("--ranges: %s: %v", c.String("ranges"), unwrapPath(err)))
		}
		p, err := shuffle.NewTotalOrderPartitioner(r, splits, cmp)
		if err != nil {
			return nil, cliutil.Exit(2, fmt.Errorf("--ranges: %s: %v", c.String("ranges"), err))
		}
		o.Partitioner = p
	}
	if keys := c.StringSlice("k"); len(keys) > 0 {
		for i, k := range keys {
			if !strings.HasPrefix(k, "-k") {
				keys[i] = "-k" + k
			}
		}
		// The fields are the key's, cut at the key separator, unless
		// mapreduce.map.output.key.field.separator says otherwise (as in
		// Hadoop).
		sep := o.Key.Sep()
		if v, ok := s.Task.ConfValue("mapreduce.map.output.key.field.separator"); ok {
			ks, err := streaming.ParseSeparator(v)
			if err != nil {
				return nil, cliutil.Usagef("-D mapreduce.map.output.key.field.separator: %v", err)
			}
			sep = ks[0]
		}
		p, err := shuffle.NewKeyFieldPartitioner(r, strings.Join(keys, " "), sep)
		if err != nil {
			return nil, cliutil.Usagef("-k: %v", err)
		}
		o.Partitioner = p
	}
	if c.IsSet("S") {
		n, err := extsort.ParseSize(c.String("S"))
		if err != nil {
			return nil, cliutil.Usagef("-S: %v", err)
		}
		o.Memory = n
	}
	o.TempDirs = c.StringSlice("T")
	if c.IsSet("combiner") && strings.TrimSpace(sh.combiner) == "" {
		return nil, cliutil.Usagef("empty --combiner command")
	}
	if sh.combiner != "" {
		if streaming.IsBuiltin(sh.combiner) {
			opts := streaming.BuiltinOptions{Join: c.String("join")}
			b, err := streaming.NewBuiltin(sh.combiner, s.Proto, opts, true)
			if err != nil {
				return nil, cliutil.Usagef("--combiner: %v", err)
			}
			o.Combine = streaming.BuiltinCombiner(b, s.Counters)
			sh.builtin = b
		} else {
			if c.IsSet("join") {
				return nil, cliutil.Usagef("--join needs a built-in combiner")
			}
			sh.combinerCmd = s.Command(streaming.Combiner, sh.combiner)
			o.Combine = streaming.CommandCombiner(sh.combinerCmd, s.Proto)
		}
	} else if c.IsSet("join") {
		return nil, cliutil.Usagef("--join needs a built-in combiner")
	}
	return sh, nil
}

// runShuffle runs the mapper over the inputs into a shuffle writer.
func runShuffle(c *cli.Context, s *Setup, sh *shuffleSetup, cmd string, inputs []mapInput) error {
	ctx := c.Context
	w, err := shuffle.Create(ctx, sh.dir, sh.opts)
	if err != nil {
		return cliutil.Exit(2, fmt.Errorf("-o %s: %w", sh.dir, err))
	}
	write := func(chunk []byte) error {
		_, err := w.Write(chunk)
		return err
	}
	var pre *streaming.PreCombiner
	if sh.builtin != nil {
		limit := streaming.DefaultPreCombineMemory
		if m := sh.opts.Memory; m > 0 {
			limit = int(min(int64(limit), max(m/4, 1<<20)))
		}
		pre = streaming.NewPreCombiner(sh.builtin, limit, write)
		write = pre.Write
	}
	var onInput func(streaming.InputInfo)
	if sh.combinerCmd != nil && len(inputs) == 1 {
		// The combiner runs in the map task, as in Hadoop: its
		// map_input_* are the mapper's. (With several inputs, all
		// combined together, it has none.) The input is opened before
		// the combiner first runs.
		onInput = func(info streaming.InputInfo) { sh.combinerCmd.Task.Input = info }
	}
	err = runMaps(ctx, s, cmd, inputs, write, onInput)
	if err == nil && pre != nil {
		if !pre.Flushed() {
			w.SkipCombine()
		}
		err = pre.Flush()
	}
	if pre != nil {
		s.Counters.Add(streaming.GroupFramework, streaming.CombineInputRecords, pre.In)
		s.Counters.Add(streaming.GroupFramework, streaming.CombineOutputRecords, pre.Out)
	}
	if err != nil {
		w.Abort()
		return err
	}
	m, err := w.Close()
	if err != nil {
		return err
	}
	st := m.Stats
	s.Counters.Add(streaming.GroupFramework, streaming.SpilledRecords, st.OutputRecords)
	s.Counters.Add(streaming.GroupFramework, "Map output materialized bytes", st.FileBytes)
	return nil
}
