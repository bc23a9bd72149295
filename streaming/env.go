package streaming

import (
	"fmt"
	"strconv"
	"strings"
)

// Task identifies the task a command runs for; it becomes the command's
// Hadoop environment.
type Task struct {
	// JobID is the job's id, e.g. job_local_0001; empty means
	// "job_local_0001".
	JobID string
	// IsMap is true for a map task (mapper and map-side combiner), false
	// for a reduce task.
	IsMap bool
	// Partition is the task's number: for a map task the index of its
	// split, for a reduce task its partition.
	Partition int
	// Attempt is the attempt number, from 0.
	Attempt int
	// Input is the map task's input; empty Name means none (stdin).
	Input InputInfo
	// Conf holds the -D properties, in order; later ones win.
	Conf []KV
	// CmdEnv holds the --cmdenv variables, exported as given.
	CmdEnv []KV
}

// KV is a name and a value.
type KV struct{ Key, Value string }

// ParseKV parses NAME=VALUE.
func ParseKV(s string) (KV, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return KV{}, fmt.Errorf("invalid %q: want NAME=VALUE", s)
	}
	return KV{k, v}, nil
}

// InputInfo names a map task's input: a file, or a split of it.
type InputInfo struct {
	Name          string
	Start, Length int64
	// IsSplit says the input is a byte range of Name given as a split.
	IsSplit bool
}

// String names the input for messages: "FILE", "FILE:START+LENGTH" or
// "standard input".
func (in InputInfo) String() string {
	switch {
	case in.Name == "" || in.Name == "-":
		return "standard input"
	case in.IsSplit:
		return fmt.Sprintf("%s:%d+%d", in.Name, in.Start, in.Length)
	}
	return in.Name
}

// SafeEnvName turns a property name into an environment variable name as
// Hadoop Streaming does: every byte outside [0-9A-Za-z] becomes '_'.
func SafeEnvName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			b[i] = '_'
		}
	}
	return string(b)
}

// deprecated maps current property names to their old names (Hadoop's
// DeprecatedProperties). A property given under either name is exported
// under both, and read under either, as Hadoop's Configuration does, so
// that old scripts' -D mapred.reduce.tasks=N still sets the reduces.
var deprecated = map[string]string{
	"mapreduce.job.id":                              "mapred.job.id",
	"mapreduce.task.id":                             "mapred.tip.id",
	"mapreduce.task.attempt.id":                     "mapred.task.id",
	"mapreduce.task.ismap":                          "mapred.task.is.map",
	"mapreduce.task.partition":                      "mapred.task.partition",
	"mapreduce.map.input.file":                      "map.input.file",
	"mapreduce.map.input.start":                     "map.input.start",
	"mapreduce.map.input.length":                    "map.input.length",
	"mapreduce.job.reduces":                         "mapred.reduce.tasks",
	"mapreduce.job.maps":                            "mapred.map.tasks",
	"mapreduce.task.output.dir":                     "mapred.work.output.dir",
	"mapreduce.job.name":                            "mapred.job.name",
	"mapreduce.job.output.key.comparator.class":     "mapred.output.key.comparator.class",
	"mapreduce.partition.keypartitioner.options":    "mapred.text.key.partitioner.options",
	"mapreduce.partition.keycomparator.options":     "mapred.text.key.comparator.options",
	"mapreduce.map.output.key.field.separator":      "map.output.key.field.separator",
	"mapreduce.map.maxattempts":                     "mapred.map.max.attempts",
	"mapreduce.reduce.maxattempts":                  "mapred.reduce.max.attempts",
	"mapreduce.map.speculative":                     "mapred.map.tasks.speculative.execution",
	"mapreduce.reduce.speculative":                  "mapred.reduce.tasks.speculative.execution",
	"mapreduce.task.io.sort.mb":                     "io.sort.mb",
	"mapreduce.input.fileinputformat.split.minsize": "mapred.min.split.size",
	"mapreduce.input.fileinputformat.split.maxsize": "mapred.max.split.size",
}

// renamed maps old property names to current ones: deprecated reversed.
var renamed = func() map[string]string {
	m := make(map[string]string, len(deprecated))
	for cur, old := range deprecated {
		m[old] = cur
	}
	return m
}()

// CurrentName returns the current name of a Hadoop property given under
// its old name (mapred.reduce.tasks: mapreduce.job.reduces), or name.
func CurrentName(name string) string {
	if cur, ok := renamed[name]; ok {
		return cur
	}
	return name
}

// IDs returns the task id and attempt id, e.g. task_local_0001_m_000003
// and attempt_local_0001_m_000003_0.
func (t *Task) IDs() (task, attempt string) {
	job := t.JobID
	if job == "" {
		job = "job_local_0001"
	}
	kind := "r"
	if t.IsMap {
		kind = "m"
	}
	base := strings.TrimPrefix(job, "job_")
	task = fmt.Sprintf("task_%s_%s_%06d", base, kind, t.Partition)
	attempt = fmt.Sprintf("attempt_%s_%s_%06d_%d", base, kind, t.Partition, t.Attempt)
	return task, attempt
}

// Properties returns the task's job configuration as Hadoop sets it for a
// streaming task: the task properties, then the -D ones (which may
// override them), each also under its deprecated name when it has one.
func (t *Task) Properties() []KV {
	job := t.JobID
	if job == "" {
		job = "job_local_0001"
	}
	task, attempt := t.IDs()
	props := []KV{
		{"mapreduce.job.id", job},
		{"mapreduce.task.id", task},
		{"mapreduce.task.attempt.id", attempt},
		{"mapreduce.task.ismap", strconv.FormatBool(t.IsMap)},
		{"mapreduce.task.partition", strconv.Itoa(t.Partition)},
	}
	if t.IsMap && t.Input.Name != "" && t.Input.Name != "-" {
		props = append(props,
			KV{"mapreduce.map.input.file", t.Input.Name},
			KV{"mapreduce.map.input.start", strconv.FormatInt(t.Input.Start, 10)},
			KV{"mapreduce.map.input.length", strconv.FormatInt(t.Input.Length, 10)})
	}
	props = append(props, t.Conf...)
	var out []KV
	for _, p := range props {
		out = append(out, p)
		if old, ok := deprecated[p.Key]; ok {
			out = append(out, KV{old, p.Value})
		} else if cur, ok := renamed[p.Key]; ok {
			out = append(out, KV{cur, p.Value})
		}
	}
	return out
}

// Environ returns base (usually os.Environ()) extended with the task's
// properties under their safe names and the --cmdenv variables. Later
// entries override earlier ones with the same name.
func (t *Task) Environ(base []string) []string {
	env := append([]string(nil), base...)
	for _, p := range t.Properties() {
		env = append(env, SafeEnvName(p.Key)+"="+p.Value)
	}
	for _, kv := range t.CmdEnv {
		env = append(env, kv.Key+"="+kv.Value)
	}
	return dedupEnv(env)
}

// dedupEnv keeps the last value of each variable, in first-seen order.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Conf looks up a -D property; the last setting wins.
func (t *Task) ConfValue(key string) (string, bool) {
	key = CurrentName(key)
	for i := len(t.Conf) - 1; i >= 0; i-- {
		if CurrentName(t.Conf[i].Key) == key {
			return t.Conf[i].Value, true
		}
	}
	return "", false
}
