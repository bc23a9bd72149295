package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/cmd/internal/cliutil"
)

// TestHadoopRoundTrip runs the command line --hadoop prints through sh,
// with a mapred that prints its arguments: every name and command reaches
// Hadoop exactly as given, however it is spelled, and nothing in it is
// expanded or run by the shell.
func TestHadoopRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	weird := []string{"a b.txt", `it's "q".txt`, "$(touch pwned).txt", "new\nline.txt", "`touch pwned2`;x", "-dash", "*"}
	for _, f := range append(weird, "map me.sh") {
		if err := os.WriteFile(f, []byte("x\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"mrrun", "--hadoop"}
	var want []string
	add := func(a ...string) { args = append(args, a...); want = append(want, a...) }
	want = append(want, "streaming")
	add("-D", "my.key=v w'x\"$(y)")
	add("-D", "mapreduce.job.name=x\ny")
	args = append(args, "-file", "map me.sh")
	want = append(want, "-files", "map me.sh")
	for _, f := range weird {
		add("-input", f)
	}
	add("-output", "out $(touch pwned3) 'x'")
	add("-mapper", "awk '{print $1}'")
	args = append(args, "-combiner", `cut -f1 | sed "s/x/\\$(touch pwned4)/"`)
	want = append(want, "-combiner", `sh -c 'cut -f1 | sed "s/x/\\$(touch pwned4)/"'`)
	args = append(args, "-reducer", `cut -f1 | sed 's/$(x)//'`)
	want = append(want, "-reducer", `sh -c "cut -f1 | sed 's/$(x)//'"`)
	add("-numReduceTasks", "3")
	add("-cmdenv", "A=$(touch${IFS}pwned5)'\"")
	add("-lazyOutput")
	args = append(args, "-j", "2", "--overwrite", "-hosts", "h1,h2")

	var out, errb bytes.Buffer
	if st := cliutil.RunStyle(New(), args, &out, &errb, cliutil.Style{SingleDashLong: true}); st != 0 {
		t.Fatalf("mrrun --hadoop: exit %d: %s", st, errb.String())
	}
	line := out.String()
	if err := exec.Command("sh", "-n", "-c", line).Run(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, line)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho \"$#\"\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"
	if err := os.WriteFile(filepath.Join(bin, "mapred"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c: %v\n%s", err, line)
	}
	n, rest, _ := strings.Cut(string(got), "\n")
	if n != strconv.Itoa(len(want)) || rest != strings.Join(want, "\n")+"\n" {
		t.Errorf("mapred got %s arguments:\n%s\nwant %d:\n%s\nfrom\n%s", n, rest, len(want), strings.Join(want, "\n"), line)
	}
	for _, p := range []string{"pwned", "pwned2", "pwned3", "pwned4", "pwned5"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the shell ran a command in an argument: %s exists", p)
		}
	}
}

func TestHadoopErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-cmdenv", "A=b c"}, "Hadoop splits -cmdenv values at spaces"},
		{[]string{"-reducer", `awk '{print "x"}' | sed "s/'//"`}, "holds both ' and \""},
		{[]string{"--explain"}, "--explain and --hadoop are exclusive"},
		{[]string{"-combiner", "mean", "-reducer", "sum"}, "not a valid combiner"},
	} {
		args := append([]string{"mrrun", "--hadoop", "-input", "in", "-output", "out"}, c.args...)
		var out, errb bytes.Buffer
		st := cliutil.RunStyle(New(), args, &out, &errb, cliutil.Style{SingleDashLong: true})
		if st != 2 || !strings.Contains(errb.String(), c.msg) || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, st, out.String(), errb.String(), c.msg)
		}
	}
}
