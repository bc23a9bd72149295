package streaming

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mrpipe/mrpipe/shuffle"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		line, sep  string
		fields     int
		key, value string
		ok         bool
	}{
		{"k\tv", "", 0, "k", "v", true},
		{"k\tv\tw", "", 0, "k", "v\tw", true},
		{"k\tv\tw", "", 2, "k\tv", "w", true},
		{"k\tv", "", 2, "k\tv", "", false},
		{"key only", "", 0, "key only", "", false},
		{"", "", 0, "", "", false},
		{"\t", "", 0, "", "", true},
		{"\tv", "", 0, "", "v", true},
		{"a,b,c", ",", 0, "a", "b,c", true},
		{"a,b,c", ",", 3, "a,b,c", "", false},
		{"a\x00b", "\x00", 1, "a", "b", true},
		{"\xff\xfe\tv\r", "", 0, "\xff\xfe", "v\r", true},
	}
	for _, tt := range tests {
		p := Protocol{Key: shuffle.KeySpec{Separator: tt.sep, Fields: tt.fields}}
		k, v, ok := p.Split([]byte(tt.line))
		if string(k) != tt.key || string(v) != tt.value || ok != tt.ok {
			t.Errorf("Split(%q, %q, %d) = %q, %q, %v; want %q, %q, %v", tt.line, tt.sep, tt.fields, k, v, ok, tt.key, tt.value, tt.ok)
		}
	}
}

// FuzzSplit checks the key/value split against its definition: the key
// and value with the separator between them give back the line, the key
// holds exactly N-1 separators when the line has at least N, and none is
// lost.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\tb\tc"), byte('\t'), 1)
	f.Add([]byte("a,b"), byte(','), 2)
	f.Add([]byte(""), byte('\t'), 3)
	f.Fuzz(func(t *testing.T, line []byte, sep byte, n int) {
		n = n%5 + 1
		if n < 1 {
			n += 5
		}
		p := Protocol{Key: shuffle.KeySpec{Separator: string([]byte{sep}), Fields: n}}
		k, v, ok := p.Split(line)
		count := bytes.Count(line, []byte{sep})
		if ok != (count >= n) {
			t.Fatalf("ok %v with %d separators, n %d", ok, count, n)
		}
		if !ok {
			if !bytes.Equal(k, line) || len(v) != 0 {
				t.Fatalf("no split: key %q value %q", k, v)
			}
			return
		}
		if bytes.Count(k, []byte{sep}) != n-1 {
			t.Fatalf("key %q has wrong number of separators", k)
		}
		joined := append(append(append([]byte{}, k...), sep), v...)
		if !bytes.Equal(joined, line) {
			t.Fatalf("key %q value %q do not make %q", k, v, line)
		}
	})
}

func readAllChunks(t *testing.T, r io.Reader, term byte) ([]byte, int) {
	t.Helper()
	cr := NewChunkReader(r, term)
	var out []byte
	n := 0
	for {
		c, err := cr.Next()
		if err == io.EOF {
			return out, n
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(c) == 0 || c[len(c)-1] != term {
			t.Fatalf("chunk %q does not end in a terminator", c)
		}
		n++
		out = append(out, c...)
	}
}

func TestChunkReader(t *testing.T) {
	long := strings.Repeat("x", 3*ChunkSize+17)
	tests := []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\n"},
		{"a\nb", "a\nb\n"},
		{"\n\n", "\n\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{long + "\nshort\n" + long, long + "\nshort\n" + long + "\n"},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				if len(tt.in) > 1000 {
					continue
				}
				r = iotest.OneByteReader(r)
			}
			got, _ := readAllChunks(t, r, '\n')
			if string(got) != tt.want {
				t.Errorf("%.40q (one byte %v): got %.40q", tt.in, oneByte, got)
			}
		}
	}
	got, _ := readAllChunks(t, strings.NewReader("a\x00b\x00c"), 0)
	if string(got) != "a\x00b\x00c\x00" {
		t.Errorf("NUL records: %q", got)
	}
	_, err := NewChunkReader(iotest.ErrReader(io.ErrUnexpectedEOF), '\n').Next()
	if err != io.ErrUnexpectedEOF {
		t.Errorf("read error: %v", err)
	}
}

func TestSafeEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"mapreduce.job.id": "mapreduce_job_id",
		"my-key.x/y":       "my_key_x_y",
		"Ab9":              "Ab9",
		"é":                "__",
	} {
		if got := SafeEnvName(in); got != want {
			t.Errorf("SafeEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOldPropertyNames checks that a property given under its old name
// (Hadoop's DeprecatedProperties) is read under its current one and the
// other way round, the last one given winning, and is exported under
// both, as Hadoop's Configuration does.
func TestOldPropertyNames(t *testing.T) {
	for _, tc := range []struct {
		conf      []KV
		key, want string
	}{
		{[]KV{{"mapred.reduce.tasks", "3"}}, "mapreduce.job.reduces", "3"},
		{[]KV{{"mapreduce.job.reduces", "3"}}, "mapred.reduce.tasks", "3"},
		{[]KV{{"mapreduce.job.reduces", "2"}, {"mapred.reduce.tasks", "5"}}, "mapreduce.job.reduces", "5"},
		{[]KV{{"mapred.reduce.tasks", "5"}, {"mapreduce.job.reduces", "2"}}, "mapred.reduce.tasks", "2"},
		{[]KV{{"mapred.text.key.partitioner.options", "-k2"}}, "mapreduce.partition.keypartitioner.options", "-k2"},
		{[]KV{{"io.sort.mb", "50"}}, "mapreduce.task.io.sort.mb", "50"},
		{[]KV{{"map.output.key.field.separator", "."}}, "mapreduce.map.output.key.field.separator", "."},
		{[]KV{{"mapred.max.split.size", "9"}}, "mapreduce.input.fileinputformat.split.maxsize", "9"},
		{[]KV{{"my.key", "v"}}, "my.key", "v"},
	} {
		task := Task{Conf: tc.conf}
		if got, ok := task.ConfValue(tc.key); !ok || got != tc.want {
			t.Errorf("%v: ConfValue(%q) = %q, %v; want %q", tc.conf, tc.key, got, ok, tc.want)
		}
	}
	task := Task{Conf: []KV{{"mapred.reduce.tasks", "3"}, {"mapreduce.map.maxattempts", "2"}}}
	env := strings.Join(task.Environ(nil), "\n") + "\n"
	for _, v := range []string{"mapred_reduce_tasks=3", "mapreduce_job_reduces=3", "mapreduce_map_maxattempts=2", "mapred_map_max_attempts=2"} {
		if !strings.Contains(env, v+"\n") {
			t.Errorf("environment lacks %s:\n%s", v, env)
		}
	}
	if _, ok := task.ConfValue("mapreduce.reduce.maxattempts"); ok {
		t.Error("mapreduce.reduce.maxattempts found, not given")
	}
}
