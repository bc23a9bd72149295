// Package job runs a Hadoop-Streaming-style MapReduce job: it plans input
// splits, runs map tasks (mapper, partition, sort, combine: package
// shuffle's writer), then reduce tasks (a verified k-way merge of one
// partition of every map output, fed to the reducer), and commits the
// output, all or nothing.
//
// # Layout of the output directory
//
// While the job runs, everything lives in OUT/_temporary: a journal of
// finished map tasks (journal), committed map outputs (map-NNNNN), task
// attempts at work (attempt_…), finished output files (commit/) and task
// logs (logs/). When every task has succeeded the part files are moved
// into OUT, then _job.json (counters, per-task attempts and timings),
// _logs/ and _SUCCESS are written and _temporary is removed. A job that
// fails or is interrupted leaves OUT with _job.json and _logs/ but no part
// files.
//
// # Tasks
//
// [Runner] runs one task attempt; [Local] runs it in this process, with
// the user's commands as child processes. A driver for remote hosts plugs
// in another Runner: tasks are described by plain values ([MapTask],
// [ReduceTask], [Spec]) that can be sent elsewhere.
//
// Map task i reads split i (package split: record boundaries, gzip and
// zstd), runs the mapper over it (package streaming: Hadoop's environment,
// counters, failure reports) and writes its output to a shuffle writer
// with R partitions, sorted, combined (a built-in combiner also
// pre-combines in a hash table, as mrmap does), or, for a map-only job,
// to part-NNNNN. Reduce task p merges partition p of every map output in
// map order (so ties keep input order and the output does not depend on
// the number of splits or on concurrency) and runs the reducer over it.
//
// A failed attempt is retried up to the task's maximum attempts; then the
// job fails with the last attempt's report. A job killed with SIGKILL can
// be resumed ([Options].Resume): map tasks in the journal are reused if
// their part files are still in OUT/_temporary and the job is the same:
// same spec, same splits, and each input file of the same size and
// modification time as when the journal was begun (as planning saw them:
// here, or on the host for inputs an InputExpander resolves).
//
// # Lost map outputs
//
// A runner may keep map outputs where they were made (the driver keeps
// their manifests) and report where each attempt ran ([Result].Host,
// [HostError]; "host" in _job.json). When a reduce attempt finds map
// outputs out of reach, lost with their host, or not matching their
// manifests, it returns a [LostMapsError]: the driver runs those map
// tasks again, once however many reduce tasks lost them (a generation
// per map task), and starts the reduce attempt over without counting a
// failure. The extra map attempts are in _job.json with the reason
// ("output lost with host X", "output bad on host X"); the job's
// counters count each map task's last run.
//
// # Speculative execution
//
// Once 75% of a phase's tasks are done, a worker with nothing else to
// run starts a backup attempt of a task whose attempt has run longer than
// twice the median run time of the phase's finished tasks (and at least a
// second), one backup per task. The first attempt to finish wins: it
// alone commits its output and its counters; the other is cancelled (its
// commands killed), its directory removed, and it is reported in
// _job.json with the error "killed: speculative attempt lost" and counted
// as a killed task ("Killed map tasks", "Killed reduce tasks"). A backup
// attempt counts as launched but is no failure, so output and counters,
// but for those two job counters, are the same with and without it.
//
// Speculation is on by default with a Runner for other hosts (Hadoop's
// default), where a task much slower than its peers usually means a
// slow or overloaded host and the backup runs on another one. It is off
// by default in local mode: there a backup attempt competes for the same
// CPUs and disks as the slow one, and rarely helps. [Options].Speculative
// and the -D properties mapreduce.map.speculative and
// mapreduce.reduce.speculative change this.
package job
