// Package streaming runs commands as Hadoop Streaming mappers, combiners
// and reducers, and holds the built-in reducers.
//
// # Records
//
// A record is a line ending in '\n' (NUL with [Protocol].ZeroTerminated);
// a last line without a terminator is a record and gains one. Bytes are
// never altered. [Protocol] cuts a record into key and value with
// shuffle's [shuffle.KeySpec], the one implementation of the rule: the key
// is everything before the first separator (TAB unless told), or before
// the N-th with KeySpec.Fields = N; a record with fewer separators is all
// key. [ChunkReader] reads records in large batches of whole records, so
// that the hot paths make no system call or allocation per record.
//
// # Commands
//
// A [Command] is run as `sh -c` would run it, in a process group of its
// own: a plain command (see [PlainArgs]) naming a program is run as that
// program, without a shell to start first; any other runs in sh -c. Its
// standard input is fed batches of records through a pipe, or, when the
// input is a [DirectInput] (a file, or a split running to the end of one),
// is the file itself: the command reads it without a copy, and where it
// stopped reading is the file offset it leaves. Its standard output is
// read in batches of whole records and handed to a callback (standard
// output, or a shuffle.Writer). Both pipes are 1 MiB and in blocking mode,
// and both sides wait (briefly, in nanosleep) for a pipe to hold or free
// a good part of a batch before reading or writing, so that a command
// that moves 4 KiB at a time does not cost two context switches per 4 KiB.
// Its environment
// is Hadoop's ([Task.Environ]): mapreduce_job_id, mapreduce_task_id,
// mapreduce_task_attempt_id, mapreduce_task_ismap,
// mapreduce_task_partition, mapreduce_map_input_file, _start and _length,
// their deprecated aliases (mapred_task_id, map_input_file, …), every -D
// property under its name with bytes outside [0-9A-Za-z] turned into '_',
// and --cmdenv variables.
//
// Its standard error is read line by line: reporter:counter:GROUP,NAME,N
// adds to a counter, reporter:status:MSG sets the status ([ParseReport]
// follows Hadoop's parsing exactly); other lines pass through to
// Command.Stderr, and a line with the reporter prefix that does not parse
// passes through after a one-line warning.
//
// A command fails when it exits non-zero, is killed by a signal, or exits
// before reading all its input (a write to it fails with EPIPE, bytes are
// left in its stdin pipe when it exits, or it left the offset of a direct
// input short of the end), however small the input. The
// failure is one [*CommandError] naming the command, status or signal,
// input, last record fed and the last [TailLines] stderr lines. When the
// context ends, or the output callback fails, the whole process group is
// killed.
//
// [RunMapper], [RunReducer] and [RunBuiltin] run a stage and add Hadoop's
// counters (display names: "Map input records", "Reduce input groups", …)
// to a [Counters], which prints as JSON ([Counters.WriteJSON]) or as
// Hadoop's client summary ([Counters.WriteSummary]).
//
// # Built-ins
//
// [NewBuiltin] makes the built-in reducers sum, count, min, max, mean,
// uniq, collect, first, last and aggregate (Hadoop's ValueAggregator
// types and report formats). As combiners ([BuiltinCombiner],
// [CommandCombiner] adapt both kinds to shuffle's CombineFunc) all but
// count and mean are valid; those two are refused. A [PreCombiner] runs a
// built-in combiner over records as they arrive, in a hash table, before
// they are sorted (mrmap -R does, so far fewer records are sorted).
//
// Built-in output: sum, count, mean and collect write KEY SEP RESULT;
// min, max, first, last and uniq write input records unchanged; numbers
// are integers while every value is one (sums that overflow int64 go on
// in floating point), otherwise shortest round-trip decimals. aggregate
// writes Hadoop's formats, Java's Double.toString for doubles included.
package streaming
