package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mrpipe/mrpipe/shuffle"
)

func runBuiltin(t *testing.T, name, in string, opts BuiltinOptions, combine bool) (string, ReduceStats, error) {
	t.Helper()
	b, err := NewBuiltin(name, Protocol{}, opts, combine)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	st, err := b.Run(context.Background(), strings.NewReader(in), func(c []byte) error {
		out.Write(c)
		return nil
	})
	return out.String(), st, err
}

func TestBuiltins(t *testing.T) {
	tests := []struct {
		name, in, want string
		opts           BuiltinOptions
	}{
		{name: "sum", in: "a\t1\na\t2\nb\t5\n", want: "a\t3\nb\t5\n"},
		{name: "sum", in: "a\t1\na\t2.5\nb\t-5\nb\t5", want: "a\t3.5\nb\t0\n"},
		{name: "sum", in: "a\t 1 \na\t1e3\n", want: "a\t1001\n"},
		{name: "sum", in: "a\t9223372036854775807\na\t1\n", want: "a\t9223372036854776000\n"},
		{name: "sum", in: "", want: ""},
		{name: "count", in: "a\tx\na\ty\nb\nc\tz\n", want: "a\t2\nb\t1\nc\t1\n"},
		{name: "min", in: "a\t10\na\t9\na\t9.0\nb\t-1\n", want: "a\t9\nb\t-1\n"},
		{name: "max", in: "a\t10\na\t9\na\t10.0\nb\t1e2\nb\t99\n", want: "a\t10\nb\t1e2\n"},
		{name: "mean", in: "a\t1\na\t2\nb\t3\nc\t1\nc\t2\nc\t4\n", want: "a\t1.5\nb\t3\nc\t2.3333333333333335\n"},
		{name: "uniq", in: "a\tx\na\ty\na\tx\nb\tx\nb\nb\n", want: "a\tx\na\ty\nb\tx\nb\n"},
		{name: "collect", in: "a\tx\na\ty\nb\tz\n", want: "a\tx,y\nb\tz\n"},
		{name: "collect", in: "a\tx\na\ty\n", want: "a\tx y\n", opts: BuiltinOptions{Join: " "}},
		{name: "first", in: "a\t1\na\t2\nb\t3\nb\t4\n", want: "a\t1\nb\t3\n"},
		{name: "last", in: "a\t1\na\t2\nb\t3\nb\t4\n", want: "a\t2\nb\t4\n"},
		{name: "first", in: "k\r\tv\nk\r\tw\n", want: "k\r\tv\n"},
		// aggregate (Hadoop's types and report formats)
		{name: "aggregate", in: "LongValueSum:w\t1\nLongValueSum:w\t2\nlongvaluesum:x\t-3\n", want: "w\t3\nx\t-3\n"},
		{name: "aggregate", in: "LongValueSum:w\t9223372036854775807\nLongValueSum:w\t1\n", want: "w\t-9223372036854775808\n"},
		{name: "aggregate", in: "DoubleValueSum:d\t1\nDoubleValueSum:d\t2\n", want: "d\t3.0\n"},
		{name: "aggregate", in: "DoubleValueSum:d\t1e10\n", want: "d\t1.0E10\n"},
		{name: "aggregate", in: "DoubleValueSum:d\t0.0001\nDoubleValueSum:e\t 2.5d \n", want: "d\t1.0E-4\ne\t2.5\n"},
		{name: "aggregate", in: "DoubleValueSum:d\t1234567\nDoubleValueSum:e\t12345678\n", want: "d\t1234567.0\ne\t1.2345678E7\n"},
		{name: "aggregate", in: "LongValueMax:m\t3\nLongValueMax:m\t-7\nLongValueMax:m\t11\nLongValueMin:n\t3\nLongValueMin:n\t-7\n", want: "m\t11\nn\t-7\n"},
		{name: "aggregate", in: "StringValueMax:s\tapple\nStringValueMax:s\tbanana\nStringValueMin:t\tpear\nStringValueMin:t\tfig\n", want: "s\tbanana\nt\tfig\n"},
		// Java orders U+FF5E (UTF-16 FF5E) after U+1F600 (UTF-16 D83D DE00), unlike UTF-8 bytes.
		{name: "aggregate", in: "StringValueMax:s\t\U0001F600\nStringValueMax:s\t\uFF5E\n", want: "s\t\uFF5E\n"},
		{name: "aggregate", in: "UniqValueCount:u\ta\nUniqValueCount:u\tb\nUniqValueCount:u\ta\n", want: "u\t3\n"[:0] + "u\t2\n"},
		{name: "aggregate", in: "UniqValueCount:u\ta\nUniqValueCount:u\tb\nUniqValueCount:u\tc\n", want: "u\t2\n", opts: BuiltinOptions{MaxUniqueValues: 2}},
		{name: "aggregate", in: "ValueHistogram:h\ta\nValueHistogram:h\tb\t3\nValueHistogram:h\ta\nValueHistogram:h\tc\t5\n", want: "h\t3\t2\t3\t5\t3.3333333333333335\t1.247219128924647\n"},
		{name: "aggregate", in: "ValueHistogram:h\tx\n", want: "h\t1\t1\t1\t1\t1.0\t0.0\n"},
		{name: "aggregate", in: "LongValueSum:a:b\t1\n", want: "a:b\t1\n"},
	}
	for _, tt := range tests {
		got, _, err := runBuiltin(t, tt.name, tt.in, tt.opts, false)
		if err != nil {
			t.Errorf("%s %q: %v", tt.name, tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s %q:\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestBuiltinErrors(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"sum", "a\t1\na\tx\n", "sum: record 2: value \"x\" is not a number"},
		{"sum", "a\n", "sum: record 1: value \"\" is not a number"},
		{"min", "a\t1\nb\tone\n", "min: record 2: value \"one\" is not a number"},
		{"mean", "a\t\n", "not a number"},
		{"aggregate", "nocolon\t1\n", "aggregate: record 1: aggregate key \"nocolon\" has no TYPE: prefix"},
		{"aggregate", "Foo:x\t1\n", "unknown aggregate type \"Foo\""},
		{"aggregate", "LongValueSum:x\t1.5\n", "value \"1.5\" is not a long integer"},
		{"aggregate", "ValueHistogram:x\ta\tb\n", "value \"b\" is not a long integer"},
	}
	for _, tt := range tests {
		_, _, err := runBuiltin(t, tt.name, tt.in, BuiltinOptions{}, false)
		var be *BuiltinError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %q: error %v, want %q", tt.name, tt.in, err, tt.msg)
		}
	}
}

func TestBuiltinCounters(t *testing.T) {
	_, st, err := runBuiltin(t, "sum", "a\t1\na\t2\nb\t3\nc\t4\nc\t5\n", BuiltinOptions{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.InRecords != 5 || st.InGroups != 3 || st.OutRecords != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestCombinerValidity(t *testing.T) {
	for _, name := range Builtins {
		_, err := NewBuiltin(name, Protocol{}, BuiltinOptions{}, true)
		refused := name == "mean" || name == "count"
		if (err != nil) != refused {
			t.Errorf("%s as combiner: %v", name, err)
		}
	}
	if _, err := NewBuiltin("median", Protocol{}, BuiltinOptions{}, false); err == nil {
		t.Error("unknown built-in accepted")
	}
}

// TestCombineThenReduce checks that every built-in valid as a combiner
// gives the reducer's result when run over pieces of the input first.
func TestCombineThenReduce(t *testing.T) {
	inputs := map[string]string{
		"sum":     "a\t1\na\t2\na\t3\nb\t4\nb\t5\n",
		"min":     "a\t3\na\t1\na\t2\nb\t4\nb\t5\n",
		"max":     "a\t3\na\t1\na\t2\nb\t4\nb\t5\n",
		"uniq":    "a\tx\na\ty\na\tx\nb\tz\nb\tz\n",
		"collect": "a\tx\na\ty\na\tx\nb\tz\nb\tz\n",
		"first":   "a\t1\na\t2\na\t3\nb\t4\nb\t5\n",
		"last":    "a\t1\na\t2\na\t3\nb\t4\nb\t5\n",
		"aggregate": "DoubleValueSum:d\t1.5\nDoubleValueSum:d\t2\nDoubleValueSum:d\t3\n" +
			"LongValueMax:m\t1\nLongValueMax:m\t7\nLongValueMax:m\t3\n" +
			"LongValueSum:s\t1\nLongValueSum:s\t2\nLongValueSum:s\t3\n" +
			"StringValueMin:t\tb\nStringValueMin:t\ta\nStringValueMin:t\tc\n" +
			"UniqValueCount:u\tx\nUniqValueCount:u\ty\nUniqValueCount:u\tx\n" +
			"ValueHistogram:v\tp\nValueHistogram:v\tq\nValueHistogram:v\tp\n",
	}
	for name, in := range inputs {
		want, _, err := runBuiltin(t, name, in, BuiltinOptions{}, false)
		if err != nil {
			t.Fatal(err)
		}
		// Split the records into two "map outputs", combine each, merge
		// them by key (stable), reduce.
		lines := strings.SplitAfter(in, "\n")
		var a, b strings.Builder
		for i, l := range lines {
			if i%2 == 0 {
				a.WriteString(l)
			} else {
				b.WriteString(l)
			}
		}
		ca, _, err := runBuiltin(t, name, a.String(), BuiltinOptions{}, true)
		if err != nil {
			t.Fatal(err)
		}
		cb, _, err := runBuiltin(t, name, b.String(), BuiltinOptions{}, true)
		if err != nil {
			t.Fatal(err)
		}
		merged := strings.SplitAfter(strings.TrimSuffix(ca+cb, "\n"), "\n")
		for i := range merged {
			merged[i] = strings.TrimSuffix(merged[i], "\n")
		}
		key := func(s string) string { k, _, _ := (&shuffle.KeySpec{}).Split([]byte(s)); return string(k) }
		sort.SliceStable(merged, func(i, j int) bool { return key(merged[i]) < key(merged[j]) })
		got, _, err := runBuiltin(t, name, strings.Join(merged, "\n")+"\n", BuiltinOptions{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if name == "collect" || name == "uniq" || name == "first" || name == "last" {
			// Order within a key depends on which map ran first; compare
			// as sets of records for these.
			got, want = sortedRecords(got), sortedRecords(want)
			if name == "collect" {
				got, want = sortedValues(got), sortedValues(want)
			}
			if name == "first" || name == "last" {
				continue // first/last of a merge depend on map order by design
			}
		}
		if got != want {
			t.Errorf("%s: combine then reduce gave\n%q, reduce alone\n%q", name, got, want)
		}
	}
}

func sortedRecords(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func sortedValues(s string) string {
	l := strings.Split(s, "\n")
	for i, r := range l {
		k, v, _ := strings.Cut(r, "\t")
		vs := strings.Split(v, ",")
		sort.Strings(vs)
		l[i] = k + "\t" + strings.Join(vs, ",")
	}
	return strings.Join(l, "\n")
}

func TestAppendJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.001: "0.001", 0.0001: "1.0E-4", 1e7: "1.0E7",
		9999999: "9999999.0", 123456789.5: "1.234567895E8", 1e-300: "1.0E-300", 1.0 / 3: "0.3333333333333333",
	} {
		if got := string(appendJavaDouble(nil, f)); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

// TestPreCombiner checks that folding in a hash table (with flushes
// forced by a tiny memory bound), then sorting stably by key and
// combining, then reducing, gives the reducer's result.
func TestPreCombiner(t *testing.T) {
	var in strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&in, "k%d\t%d\n", (i*7919)%97, i%13)
	}
	for _, name := range []string{"sum", "min", "max", "uniq", "collect", "first", "last"} {
		for _, limit := range []int{1, 1 << 10, 0} {
			want, _, err := runBuiltin(t, name, sortByKey(in.String()), BuiltinOptions{}, false)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := NewBuiltin(name, Protocol{}, BuiltinOptions{}, true)
			var pre strings.Builder
			p := NewPreCombiner(b, limit, func(c []byte) error { pre.Write(c); return nil })
			if err := p.Write([]byte(in.String())); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			if p.In != 5000 || p.Out != int64(strings.Count(pre.String(), "\n")) {
				t.Errorf("%s: counts %d %d", name, p.In, p.Out)
			}
			got, _, err := runBuiltin(t, name, sortByKey(pre.String()), BuiltinOptions{}, false)
			if err != nil {
				t.Fatal(err)
			}
			if name == "collect" || name == "uniq" {
				got, want = sortedValues(sortedRecords(got)), sortedValues(sortedRecords(want))
			}
			if got != want {
				t.Errorf("%s (limit %d): pre-combined gave\n%.200q\nwant\n%.200q", name, limit, got, want)
			}
		}
	}
	b, _ := NewBuiltin("sum", Protocol{}, BuiltinOptions{}, true)
	p := NewPreCombiner(b, 0, func([]byte) error { return nil })
	err := p.Write([]byte("a\t1\nb\tx\n"))
	if err == nil || err.Error() != `combiner sum: record 2: value "x" is not a number` {
		t.Errorf("error %v", err)
	}
}

func sortByKey(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.SliceStable(l, func(i, j int) bool {
		ki, _, _ := strings.Cut(l[i], "\t")
		kj, _, _ := strings.Cut(l[j], "\t")
		return ki < kj
	})
	return strings.Join(l, "\n") + "\n"
}

// FuzzBuiltins runs every built-in, as reducer and as combiner, over
// arbitrary input: no panic, whole records out, and errors only of the
// documented kind.
func FuzzBuiltins(f *testing.F) {
	f.Add([]byte("a\t1\na\t2\nb\tx\n"))
	f.Add([]byte("LongValueSum:a\t1\nValueHistogram:h\tv\t3\nUniqValueCount:u\t\xff\n"))
	f.Add([]byte("\n\n\t\t\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, name := range Builtins {
			for _, combine := range []bool{false, true} {
				b, err := NewBuiltin(name, Protocol{}, BuiltinOptions{}, combine)
				if err != nil {
					continue
				}
				var out []byte
				_, err = b.Run(context.Background(), bytes.NewReader(in), func(c []byte) error {
					out = append(out, c...)
					return nil
				})
				var be *BuiltinError
				if err != nil && !errors.As(err, &be) {
					t.Fatalf("%s: error %v", name, err)
				}
				if err == nil && len(out) > 0 && out[len(out)-1] != '\n' {
					t.Fatalf("%s: output %q does not end in a newline", name, out)
				}
			}
		}
	})
}

// TestPreCombinerSumGrow folds enough distinct keys to grow the sum table.
func TestPreCombinerSumGrow(t *testing.T) {
	var in strings.Builder
	want := map[string]int{}
	// 150001 keys: the table grows four times over, then twice.
	for i := 0; i < 400000; i++ {
		k := fmt.Sprintf("key%d", (i*7919)%150001)
		fmt.Fprintf(&in, "%s\t%d\n", k, i%5)
		want[k] += i % 5
	}
	in.WriteString("f\t0.5\nf\t1\nbig\t9223372036854775807\nbig\t1\n")
	want["f"], want["big"] = -1, -1
	b, _ := NewBuiltin("sum", Protocol{}, BuiltinOptions{}, true)
	var out strings.Builder
	p := NewPreCombiner(b, 0, func(c []byte) error { out.Write(c); return nil })
	if err := p.Write([]byte(in.String())); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		k, v, _ := strings.Cut(l, "\t")
		if _, dup := got[k]; dup {
			t.Fatalf("key %q twice", k)
		}
		got[k] = v
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, n := range want {
		if n >= 0 && got[k] != fmt.Sprint(n) {
			t.Errorf("%s: %s, want %d", k, got[k], n)
		}
	}
	if got["f"] != "1.5" || got["big"] != "9223372036854776000" {
		t.Errorf("f %s big %s", got["f"], got["big"])
	}
}

// TestPreCombinerRelease checks that a released pre-combiner's table,
// handed on with records never flushed (an aborted task), brings none of
// them to the next one.
func TestPreCombinerRelease(t *testing.T) {
	b, _ := NewBuiltin("sum", Protocol{}, BuiltinOptions{}, true)
	for round := 0; round < 3; round++ {
		var out strings.Builder
		p := NewPreCombiner(b, 0, func(c []byte) error { out.Write(c); return nil })
		var in strings.Builder
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&in, "r%d-%d\t1\n", round, i)
		}
		if err := p.Write([]byte(in.String())); err != nil {
			t.Fatal(err)
		}
		if round == 1 { // aborted: released without a flush
			p.Release()
			continue
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		p.Release()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 5000 {
			t.Fatalf("round %d: %d records, want 5000", round, len(lines))
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, fmt.Sprintf("r%d-", round)) || !strings.HasSuffix(l, "\t1") {
				t.Fatalf("round %d: record %q", round, l)
			}
		}
	}
}
