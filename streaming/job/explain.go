package job

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
)

// Explain writes the job o describes as a bash script of mrsplit, mrmap,
// mrmerge and mrreduce that produces the same part files in o.Output (the
// tasks run one after another; _job.json and _logs are not written).
func Explain(o *Options, w io.Writer) error {
	s, err := resolve(o)
	if err != nil {
		return err
	}
	d := &driver{o: o, s: s}
	if err := d.plan(); err != nil {
		return err
	}
	sp := &s.spec
	q := streaming.ShellQuote
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("#!/usr/bin/env bash\n")
	p("# The job as a pipeline of mrpipe's single-purpose tools: %d map tasks, %d reduce tasks.\n", len(d.splits), sp.Reduces)
	p("set -euo pipefail\n")
	p("out=%s\n", q(d.out))
	p("tmp=\"$out/%s\"\n", TempDir)
	p("if [ -e \"$out\" ]; then echo \"$0: $out already exists\" >&2; exit 2; fi\n")
	p("mkdir -p \"$tmp\"\n")
	if len(s.files) > 0 {
		sp.WorkDir = filepath.Join(d.tmp, "files")
		p("\n# Files shipped to the tasks' working directory.\n")
		p("mkdir -p %s\n", q(sp.WorkDir))
		for _, f := range s.files {
			p("cp -p %s %s\n", q(f.Path), q(filepath.Join(sp.WorkDir, f.Name)))
		}
	}
	wrap := func(cmd string) string {
		if sp.WorkDir == "" {
			return cmd
		}
		return "cd " + q(sp.WorkDir) + " || exit 1\n" + cmd
	}
	common := func(isMap bool) string {
		var c []string
		for _, kv := range sp.Conf {
			c = append(c, "-D", q(kv.Key+"="+kv.Value))
		}
		for _, kv := range sp.CmdEnv {
			c = append(c, "--cmdenv", q(kv.Key+"="+kv.Value))
		}
		if sp.WorkDir != "" {
			c = append(c, "--cmdenv", q("PATH="+sp.WorkDir+":"+os.Getenv("PATH")))
		}
		c = append(c, "--job-id", sp.JobID)
		return strings.Join(c, " ")
	}

	files, _ := split.Expand(s.inputs)
	size := s.splitSizeOf(files)
	var ins []string
	for _, in := range s.inputs {
		ins = append(ins, q(in))
	}
	p("\n# Map tasks, one per split.\n")
	p("mrsplit --plan --size %d -- %s >\"$tmp/splits\"\n", size, strings.Join(ins, " "))
	mapper := sp.Mapper
	if mapper == "" {
		mapper = "cat"
	}
	p("i=0\n")
	p("while IFS= read -r desc; do\n")
	p("\tname=$(printf '%%05d' \"$i\")\n")
	if sp.Reduces == 0 {
		p("\tmrmap --split \"$desc\" --task \"$i\" %s -- %s </dev/null >\"$tmp/part-$name\"\n", common(true), q(wrap(mapper)))
		if sp.LazyOutput {
			p("\t[ -s \"$tmp/part-$name\" ] || rm \"$tmp/part-$name\"\n")
		}
	} else {
		var opt []string
		opt = append(opt, "-R", fmt.Sprint(sp.Reduces), "-S", fmt.Sprintf("%db", sp.SortMemory))
		if sp.Combiner != "" {
			c := sp.Combiner
			if !streaming.IsBuiltin(c) {
				c = wrap(c)
			}
			opt = append(opt, "--combiner", q(c))
		}
		if sp.KeyPartitioner != "" {
			// (mrmap reads -D mapreduce.map.output.key.field.separator.)
			opt = append(opt, "-k", q(sp.KeyPartitioner))
		}
		if sp.Comparator != "" {
			opt = append(opt, "--comparator", q(sp.Comparator))
		}
		p("\tmrmap --split \"$desc\" --task \"$i\" %s -o \"$tmp/map-$name\" %s -- %s </dev/null\n",
			strings.Join(opt, " "), common(true), q(wrap(mapper)))
	}
	p("\ti=$((i + 1))\n")
	p("done <\"$tmp/splits\"\n")

	if sp.Reduces > 0 {
		p("\n# Reduce tasks: partition p of every map output, merged, reduced.\n")
		p("for ((p = 0; p < %d; p++)); do\n", sp.Reduces)
		p("\tname=$(printf '%%05d' \"$p\")\n")
		maps := "\"$tmp\"/map-*"
		if len(d.splits) == 0 {
			maps = "/dev/null"
		}
		var red string
		switch {
		case sp.Reducer == "":
			red = ""
		case streaming.IsBuiltin(sp.Reducer):
			red = fmt.Sprintf(" | mrreduce --task \"$p\" %s %s", common(false), sp.Reducer)
		default:
			red = fmt.Sprintf(" | mrreduce --task \"$p\" %s -- %s", common(false), q(wrap(sp.Reducer)))
		}
		p("\tmrmerge -p \"$p\" %s%s >\"$tmp/part-$name\"\n", maps, red)
		if sp.LazyOutput {
			p("\t[ -s \"$tmp/part-$name\" ] || rm \"$tmp/part-$name\"\n")
		}
		p("done\n")
	}
	p("\n# Commit: the part files appear in OUT only now.\n")
	p("for f in \"$tmp\"/part-*; do [ -e \"$f\" ] && mv \"$f\" \"$out/\"; done\n")
	if s.markSuccess {
		p(": >\"$out/%s\"\n", SuccessName)
	}
	p("rm -rf \"$tmp\"\n")
	_, err = io.WriteString(w, b.String())
	return err
}
