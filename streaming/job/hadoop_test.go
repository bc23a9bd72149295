package job

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming"
)

// hadoopSplitArgs is Hadoop Streaming's PipeMapRed.splitArgs, which cuts
// a -mapper, -combiner or -reducer command into the argument vector it
// runs: words end at spaces outside quotes, a quote (' or ") starts and
// ends a word, there are no escapes.
func hadoopSplitArgs(s string) []string {
	const (
		outside = iota
		single
		double
	)
	var args []string
	state, start := outside, 0
	for c := 0; c <= len(s); c++ {
		last := c == len(s)
		prev := state
		end := false
		if !last {
			switch s[c] {
			case '\'':
				if state == outside {
					state = single
				} else if state == single {
					state = outside
				}
				end = state != prev
			case '"':
				if state == outside {
					state = double
				} else if state == double {
					state = outside
				}
				end = state != prev
			case ' ':
				end = state == outside
			}
		}
		if last || end {
			if c != start {
				args = append(args, s[start:c])
			}
			start = c + 1
		}
	}
	return args
}

func TestHadoopCommand(t *testing.T) {
	cmds := []struct {
		cmd   string
		plain bool
	}{
		{"cat", true},
		{"./map.sh -x 1", true},
		{"awk '{print $1 \"\\t1\"}'", true},
		{`grep "a b"`, true},
		{"tr  a-z   A-Z", true},
		{"cut -f1 | sort", false},
		{"grep 'a'b", false},
		{`echo "$HOME"`, false},
		{"echo ''", false},
		{"X=1 env", false},
		{"echo *.txt", false},
		{"echo a\tb", false},
		{"for x in a; do echo $x; done", false},
		{"echo $(date) `date`", false},
	}
	for _, c := range cmds {
		if got := hadoopPlain(c.cmd); got != c.plain {
			t.Errorf("hadoopPlain(%q) = %v, want %v", c.cmd, got, c.plain)
		}
		h := &HadoopCommand{}
		w, err := h.command("-mapper", c.cmd)
		if err != nil {
			t.Errorf("%q: %v", c.cmd, err)
			continue
		}
		if c.plain {
			// Hadoop runs the words sh would.
			if w != c.cmd {
				t.Errorf("%q became %q", c.cmd, w)
			}
			// (streaming's tests check PlainArgs against sh's words.)
			want, _ := streaming.PlainArgs(c.cmd)
			if got := hadoopSplitArgs(w); !reflect.DeepEqual(got, want) {
				t.Errorf("%q: Hadoop runs %q, sh %q", c.cmd, got, want)
			}
		} else if got, want := hadoopSplitArgs(w), []string{"sh", "-c", c.cmd}; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Hadoop runs %q, want %q", c.cmd, got, want)
		}
	}
	h := &HadoopCommand{}
	if _, err := h.command("-reducer", `awk '{print "x"}' | sed "s/'//"`); !IsConfigError(err) {
		t.Errorf("a command with both quotes that needs a shell: %v, want a config error", err)
	}
}

// TestHadoopBuiltins runs the awk programs that stand for mrrun's built-in
// reducers on Hadoop, with the system's awk, against the built-ins.
func TestHadoopBuiltins(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk")
	}
	protos := map[string]streaming.Protocol{
		"tab":      {},
		"2 fields": {Key: shuffle.KeySpec{Fields: 2}},
		"colon":    {Key: shuffle.KeySpec{Separator: ":"}},
		"space":    {Key: shuffle.KeySpec{Separator: " ", Fields: 2}},
		"quote":    {Key: shuffle.KeySpec{Separator: `"`}},
	}
	vals := []string{"1", "2", "-3", "10", "0.5", "1.25", "7", "12345678901", "2", "1"}
	keys := []string{"a", "b", "a x", "10", "1.0", "1", "", "ç"}
	for pname, proto := range protos {
		sep := string(proto.Key.Sep())
		var lines []string
		for i, k := range keys {
			k = strings.ReplaceAll(k, sep, "_")
			for j := 0; j <= i%4; j++ {
				k2 := k
				if proto.Key.N() == 2 {
					k2 += sep + fmt.Sprint(j%2)
				}
				lines = append(lines, k2+sep+vals[(i+j)%len(vals)])
			}
		}
		lines = append(lines, "nosep")
		sort.SliceStable(lines, func(i, j int) bool {
			ki, _, _ := proto.Split([]byte(lines[i]))
			kj, _, _ := proto.Split([]byte(lines[j]))
			return bytes.Compare(ki, kj) < 0
		})
		in := strings.Join(lines, "\n") + "\n"
		for _, name := range streaming.Builtins {
			if name == "aggregate" {
				continue
			}
			if name == "sum" || name == "mean" || name == "min" || name == "max" {
				// Numbers only: "nosep" has no value.
				in = strings.Replace(in, "nosep\n", "", 1)
			}
			b, err := streaming.NewBuiltin(name, proto, streaming.BuiltinOptions{}, false)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if _, err := b.Run(context.Background(), strings.NewReader(in), func(c []byte) error {
				want.Write(c)
				return nil
			}); err != nil {
				t.Fatalf("%s %s: %v", pname, name, err)
			}
			h := &HadoopCommand{}
			cmd, err := h.builtin("-reducer", name, proto)
			if err != nil {
				t.Fatal(err)
			}
			args := hadoopSplitArgs(cmd)
			if len(args) != 2 || args[0] != "awk" {
				t.Fatalf("%s: Hadoop runs %q", name, args)
			}
			c := exec.Command("awk", args[1])
			c.Stdin = strings.NewReader(in)
			c.Env = append(c.Environ(), "LC_ALL=C")
			got, err := c.Output()
			if err != nil {
				t.Fatalf("%s %s: awk %s: %v", pname, name, args[1], err)
			}
			if string(got) != want.String() && !sameNumbers(string(got), want.String(), sep) {
				t.Errorf("%s, %s: awk gives\n%s\nthe built-in\n%s", pname, name, got, want.String())
			}
		}
	}
}

// sameNumbers reports whether the lines of a and b are the same but for
// their last fields, numbers equal to 14 significant digits (awk prints
// decimals with 15).
func sameNumbers(a, b, sep string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if la[i] == lb[i] {
			continue
		}
		ka, va, _ := cutLast(la[i], sep)
		kb, vb, _ := cutLast(lb[i], sep)
		x, err1 := strconv.ParseFloat(va, 64)
		y, err2 := strconv.ParseFloat(vb, 64)
		if ka != kb || err1 != nil || err2 != nil || math.Abs(x-y) > 1e-14*math.Abs(y) {
			return false
		}
	}
	return true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
