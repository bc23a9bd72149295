// Package shuffle is the middle of a MapReduce job: it partitions map
// output lines by key, sorts and combines each partition, writes the
// partition files and their manifest (the map side), and reads partition P
// of several map outputs back, verified and merged (the reduce side).
//
// # Records and keys
//
// A record is a line ending in '\n' (NUL with ZeroTerminated); a last line
// without a terminator is still a record and gains one in partition files.
// Bytes are never altered otherwise. A [KeySpec] finds a line's key: the
// bytes before the first separator (TAB unless told), or before the N-th
// with Fields = N (Hadoop's stream.num.map.output.key.fields). A line with
// fewer separators is all key. [KeySpec.Key] and [KeySpec.Split] are the
// one implementation of this rule; package streaming uses them too.
//
// # Partitioners
//
// A [Partitioner] maps a key to one of R partitions, exactly as Hadoop does:
//
//   - [NewHashPartitioner]: Hadoop's default HashPartitioner over Text keys,
//     h = 1; h = 31*h + int8(b) for each byte; (h & 0x7fffffff) % R
//     ([TextHash]).
//   - [NewKeyFieldPartitioner]: KeyFieldBasedPartitioner with its options
//     string ("-k1,1", "-k2,2 -k1.3,1", …) and key-field separator, hashing
//     the selected byte ranges as Hadoop computes them, including its
//     quirks (empty options hash the whole key as a Java String; keys are
//     re-encoded as Java would, so invalid UTF-8 hashes as U+FFFD).
//   - [NewTotalOrderPartitioner]: total order from R-1 sorted split keys:
//     partition i holds the keys below split key i (its first key is split
//     key i-1 or above), so sorted partitions concatenated in order are
//     globally sorted. [Sample] picks split keys from a sample of keys;
//     [ReadRanges] and [WriteRanges] store them one key per line.
//
// Partitioner is a concrete type, not an interface: partitioning a record
// costs no dynamic call.
//
// # Map side
//
// [Create] returns a [Writer] for a directory. Lines written to it (in
// chunks of any size; [Writer.ReadFrom] takes a reader) are partitioned
// into R partitions. Without sorting, each partition's lines keep their
// input order. With Options.Sort (implied by Options.Combine) every
// partition is sorted within the memory budget by package extsort: keys as
// unsigned bytes, ties in input order (stable); or by Hadoop
// KeyFieldBasedComparator options (Options.Comparator, "-k2,2nr") mapped
// onto extsort keys (see [ComparatorKeys]). All partitions are sorted in
// one external sort: each line is prefixed with its partition number in a
// fixed-width, order-preserving code that cannot contain the separator or
// terminator, so the sorted stream arrives partition by partition and the
// prefix is stripped as it is written out.
//
// Options.Combine is run once per non-empty partition over its sorted
// lines (package streaming runs combiner commands and built-ins; shuffle
// only calls the hook). Its output must stay sorted and in its partition;
// the Writer checks both and fails otherwise, since a wrong combiner would
// silently corrupt the reduce.
//
// [Writer.Close] finishes the files and returns the [Manifest]. The
// directory then holds part-00000 … part-(R-1) (every partition has a file,
// empty or not) and manifest.json. Part files are written under temporary
// names and renamed when complete; the manifest is written last, through a
// temporary file and a rename, so a directory with a manifest is complete.
// A Writer that fails, or is given up with [Writer.Abort], removes its
// temporary files.
//
// # Intermediate format
//
// A part file holds its partition's lines, either as an S2 stream
// (github.com/klauspost/compress/s2: framed, with a CRC-32C of every
// block's uncompressed data; blocks that do not compress are stored) or,
// with Compress "none", as plain text. Readers tell them apart by the S2
// stream identifier at the start of the file.
//
// manifest.json describes the output: format, key spec, partitioner,
// whether and how partitions are sorted, counters (input and combine
// records), and per partition its file, records, uncompressed bytes, the
// CRC-32C (Castagnoli) of the uncompressed bytes, as 8 hex digits, and the
// file's size on disk.
//
// # Reduce side
//
// [FindPart] locates partition P of one map output: a directory (its
// manifest says which file) or a part file (verified if a manifest.json
// beside it lists it, read as is otherwise, like a sorted text file).
// [Part.Open] returns a reader that decompresses S2 or reads plain text and
// verifies, as it reads, the file size, records, bytes and checksum
// against the manifest; any difference, and any corrupt S2 block, is a
// [*VerifyError] naming the file and what differs. Nothing is lost
// silently.
//
// [Merge] merges the parts into one stream with a k-way merge (extsort's),
// stable in the order the parts are given: equal keys come from earlier
// parts first. The order (key spec, comparator, terminator) comes from the
// manifests, which must agree. Parts whose manifest says they are not
// sorted are concatenated in order instead.
//
// # Counters
//
// Every stage counts: [Stats] (map side: input, combine and output records
// and bytes, sort runs) is also written to the manifest, and [MergeStats]
// counts what the reduce side read and wrote.
package shuffle
