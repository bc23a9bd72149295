package job

import (
	"fmt"
	"strings"

	"github.com/mrpipe/mrpipe/streaming"
)

// HadoopCommand is a job as a Hadoop Streaming command line: what a user
// who moves the job to a Hadoop cluster runs there ([Hadoop]).
type HadoopCommand struct {
	// Notes say what was translated and how the job may differ on Hadoop,
	// one line each (without a comment marker).
	Notes []string
	// Args is the command line, grouped for display: the first group is
	// the program ("mapred", "streaming"), each next one an option and
	// its value. Concatenated, the groups are the argument vector.
	Args [][]string
}

// Hadoop translation of mrrun's names.
const (
	hadoopKeyFieldPartitioner = "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner"
	hadoopHashPartitioner     = "org.apache.hadoop.mapred.lib.HashPartitioner"
	hadoopKeyFieldComparator  = "org.apache.hadoop.mapred.lib.KeyFieldBasedComparator"
	hadoopAggregateCombiner   = "org.apache.hadoop.mapred.lib.aggregate.ValueAggregatorCombiner"
)

// Hadoop returns the `mapred streaming` command that runs the job o
// describes on a Hadoop cluster. Options that mean nothing there (-j,
// --resume, --overwrite, hosts…) are left out. Inputs and output keep
// their names, which then name paths of the cluster's file system.
//
// Hadoop runs a command by splitting it at spaces, with '…' and "…"
// grouping words, and without a shell, where mrrun runs it with sh -c: a
// command that needs a shell becomes sh -c "CMD". mrrun's built-in
// reducers other than aggregate become awk programs (see the Notes).
// What cannot be expressed is a *ConfigError: a command holding both
// kinds of quotes, a -cmdenv value with a space (Hadoop splits them on
// spaces), a built-in over NUL separators.
func Hadoop(o *Options) (*HadoopCommand, error) {
	s, err := resolve(o)
	if err != nil {
		return nil, err
	}
	sp := &s.spec
	h := &HadoopCommand{Args: [][]string{{"mapred", "streaming"}}}
	h.Notes = append(h.Notes,
		"The job for a Hadoop cluster (Hadoop 2: hadoop jar hadoop-streaming.jar instead of mapred streaming).",
		"-input and -output name paths of the cluster's file system: copy the inputs there first (hdfs dfs -put).")
	arg := func(a ...string) { h.Args = append(h.Args, a) }

	// Generic options come first, or Hadoop refuses them.
	hasConf := func(k string) bool { _, ok := confValue(o.Conf, k); return ok }
	for _, kv := range o.Conf {
		v := kv.Value
		switch key := streaming.CurrentName(kv.Key); {
		case strings.Contains(v, "."):
		case key == "mapreduce.job.output.key.comparator.class":
			v = hadoopKeyFieldComparator
		case key == "mapreduce.job.partitioner.class" && v == "KeyFieldBasedPartitioner":
			v = hadoopKeyFieldPartitioner
		case key == "mapreduce.job.partitioner.class" && v == "HashPartitioner":
			v = hadoopHashPartitioner
		}
		arg("-D", kv.Key+"="+v)
	}
	if sp.Comparator != "" && !hasConf("mapreduce.job.output.key.comparator.class") {
		arg("-D", "mapreduce.job.output.key.comparator.class="+hadoopKeyFieldComparator)
		h.Notes = append(h.Notes, "mrrun applies mapreduce.partition.keycomparator.options by itself; Hadoop needs the comparator class too.")
	}
	if sp.KeyPartitioner != "" && sp.Reduces > 0 {
		if v, _ := confValue(o.Conf, "mapreduce.partition.keypartitioner.options"); strings.TrimSpace(v) == "" {
			arg("-D", "mapreduce.partition.keypartitioner.options="+sp.KeyPartitioner)
			h.Notes = append(h.Notes, "KeyFieldBasedPartitioner without options partitions by the first key field in mrrun, by the whole key in Hadoop: the options say -k1.")
		}
	}
	if (sp.KeyPartitioner != "" || sp.Comparator != "") && sp.KeyFieldSep != "\t" &&
		!hasConf("mapreduce.map.output.key.field.separator") {
		arg("-D", "mapreduce.map.output.key.field.separator="+sp.KeyFieldSep)
	}
	if v, ok := confValue(o.Conf, "stream.map.output.field.separator"); ok && sp.Reduces > 0 &&
		!hasConf("stream.reduce.input.field.separator") {
		// mrrun's reducer sees the map output lines as they are; Hadoop's
		// joins key and value with this separator (default TAB).
		arg("-D", "stream.reduce.input.field.separator="+v)
	}
	var files []string
	for _, f := range o.Files {
		for _, p := range SplitList(f) {
			if p != "" {
				files = append(files, p)
			}
		}
	}
	if len(files) > 0 {
		arg("-files", strings.Join(files, ","))
	}

	for _, in := range o.Inputs {
		arg("-input", in)
	}
	arg("-output", o.Output)
	mapper := sp.Mapper
	if mapper == "" {
		mapper = "cat" // Hadoop's IdentityMapper would emit byte offsets
	}
	m, err := h.command("-mapper", mapper)
	if err != nil {
		return nil, err
	}
	arg("-mapper", m)
	if sp.Reduces > 0 {
		switch c := sp.Combiner; {
		case c == "":
		case c == "aggregate" && sp.Reducer == "aggregate":
			// -reducer aggregate sets its combiner.
		case c == "aggregate":
			arg("-combiner", hadoopAggregateCombiner)
		case streaming.IsBuiltin(c):
			p, err := h.builtin("-combiner", c, sp.Proto)
			if err != nil {
				return nil, err
			}
			arg("-combiner", p)
		default:
			cmd, err := h.command("-combiner", c)
			if err != nil {
				return nil, err
			}
			arg("-combiner", cmd)
		}
	}
	switch r := sp.Reducer; {
	case o.Reducer == "NONE":
		arg("-reducer", "NONE")
	case sp.Reduces == 0, r == "":
	case r == "aggregate":
		arg("-reducer", "aggregate")
	case streaming.IsBuiltin(r):
		p, err := h.builtin("-reducer", r, sp.ReduceProto)
		if err != nil {
			return nil, err
		}
		arg("-reducer", p)
	default:
		cmd, err := h.command("-reducer", r)
		if err != nil {
			return nil, err
		}
		arg("-reducer", cmd)
	}
	if o.NumReduceTasks >= 0 {
		arg("-numReduceTasks", fmt.Sprint(o.NumReduceTasks))
	}
	switch o.Partitioner {
	case "":
	case "HashPartitioner", "org.apache.hadoop.mapreduce.lib.partition.HashPartitioner":
		arg("-partitioner", hadoopHashPartitioner)
	case "KeyFieldBasedPartitioner", "org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedPartitioner":
		arg("-partitioner", hadoopKeyFieldPartitioner)
	default:
		arg("-partitioner", o.Partitioner)
	}
	for _, kv := range o.CmdEnv {
		if strings.ContainsRune(kv.Key+kv.Value, ' ') {
			return nil, configErr("-cmdenv %s=%s: Hadoop splits -cmdenv values at spaces and cannot pass this one", kv.Key, kv.Value)
		}
		arg("-cmdenv", kv.Key+"="+kv.Value)
	}
	if o.LazyOutput {
		arg("-lazyOutput")
	}
	return h, nil
}

// command returns cmd as Hadoop Streaming's -mapper, -combiner or
// -reducer: as it is when Hadoop's splitting gives the words sh would,
// else wrapped in sh -c.
func (h *HadoopCommand) command(flag, cmd string) (string, error) {
	if hadoopPlain(cmd) {
		return cmd, nil
	}
	var w string
	switch {
	case !strings.Contains(cmd, `"`):
		w = `sh -c "` + cmd + `"`
	case !strings.Contains(cmd, `'`):
		w = `sh -c '` + cmd + `'`
	default:
		return "", configErr("%s %s: the command needs a shell and holds both ' and \": Hadoop splits commands at spaces and quotes, without a shell or escapes, and cannot pass it (put it in a script shipped with -file)", flag, streaming.ShellQuote(cmd))
	}
	h.Notes = append(h.Notes, fmt.Sprintf("Hadoop runs commands without a shell: %s runs in sh -c.", flag))
	return w, nil
}

// hadoopPlain reports whether Hadoop's splitting of cmd (PipeMapRed's
// splitArgs: words at spaces, a quote starts or ends a word, no escapes)
// gives the argument vector sh -c would, with nothing for a shell to
// expand (see streaming.PlainArgs).
func hadoopPlain(cmd string) bool {
	_, ok := streaming.PlainArgs(cmd)
	return ok
}

// builtin returns mrrun's built-in reducer name (not aggregate) as an awk
// command Hadoop can run, over records cut by proto.
func (h *HadoopCommand) builtin(flag, name string, proto streaming.Protocol) (string, error) {
	sep := proto.Key.Sep()
	if sep == 0 || proto.ZeroTerminated {
		return "", configErr("%s %s: mrrun's built-in has no Hadoop equivalent over NUL bytes", flag, name)
	}
	fs := "S"
	if sep == ' ' {
		fs = `"[ ]"`
	}
	var b strings.Builder
	if name == "sum" || name == "mean" {
		// Integers as integers, whatever their size; others as decimals.
		b.WriteString(`function out(x){if(x==int(x))printf "%s%s%.0f\n",pk,S,x;else printf "%s%s%.15g\n",pk,S,x} `)
	}
	fmt.Fprintf(&b, `BEGIN{S="\%03o";FS=%s} {k=$1""`, sep, fs)
	if n := proto.Key.N(); n > 1 {
		fmt.Fprintf(&b, ";for(i=2;i<=%d&&i<=NF;i++)k=k S $i", n)
	}
	b.WriteString(`;v=length($0)>length(k)?substr($0,length(k)+2):""`)
	// Per key: init on its first record, add for each, flush after its last.
	var init, add, flush, note string
	switch name {
	case "sum":
		init, add, flush = "s=0", "s+=v", "out(s)"
		note = "decimals with 15 significant digits, a value that is not a number counts as 0"
	case "mean":
		init, add, flush = "s=0;n=0", "s+=v;n++", "out(s/n)"
		note = "decimals with 15 significant digits, a value that is not a number counts as 0"
	case "count":
		init, add, flush = "n=0", "n++", "print pk S n"
	case "min", "max":
		op := "<"
		if name == "max" {
			op = ">"
		}
		init, add, flush = "m=v+0;r=$0", "if(v+0"+op+"m){m=v+0;r=$0}", "print r"
		note = "a value that is not a number counts as 0"
	case "uniq":
		init, add, flush = `split("",u)`, "if(!(v in u)){u[v];print}", ""
	case "collect":
		init, add, flush = `c="";n=0`, `c=c (n++?",":"") v`, "print pk S c"
	case "first":
		init, add, flush = "print", "", ""
	case "last":
		init, add, flush = "", "r=$0", "print r"
	default:
		return "", configErr("%s %s: no Hadoop equivalent", flag, name)
	}
	if flush != "" {
		fmt.Fprintf(&b, ";if(NR>1&&k!=pk){%s}", flush)
	}
	fmt.Fprintf(&b, ";if(NR==1||k!=pk){%s}pk=k", init)
	if add != "" {
		b.WriteString(";" + add)
	}
	b.WriteString("}")
	if flush != "" {
		fmt.Fprintf(&b, " END{if(NR){%s}}", flush)
	}
	prog := b.String()
	if note != "" {
		note = " (" + note + ")"
	}
	h.Notes = append(h.Notes, fmt.Sprintf("%s %s is mrrun's built-in: on Hadoop the same with awk%s.", flag, name, note))
	return "awk '" + prog + "'", nil
}
