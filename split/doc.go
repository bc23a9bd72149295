// Package split plans input splits on record boundaries and reads them.
//
// A [Split] is a byte range of one input file: PATH, START, LENGTH. [Plan]
// makes splits from files, directories (their files, not recursively;
// names starting with "_" or "." are skipped, as Hadoop skips them) and
// glob patterns, either N of them or of a given size, without reading any
// data: a stat per file, plus its first four bytes to recognise gzip and
// zstd input by their magic numbers. A compressed file is one split,
// decoded transparently when read.
//
// The rule: chunk k of N over S bytes covers
//
//	[k*q + min(k, r), (k+1)*q + min(k+1, r))   where q, r = S/N, S%N
//
// and with a split size instead of N, splits are that size except the last.
// A record (a line ending in '\n', or in NUL with -z; a last record without
// a terminator is still a record) belongs to the split in which it starts.
// So a reader skips the partial record at the start of its split unless the
// split starts at 0, and reads past its end to finish its last record, as
// Hadoop's LineRecordReader does and as GNU split -n l/N does (coreutils
// 9.2 and later). Every record of a file is thus read by exactly one of
// its splits, whatever the split boundaries.
//
// [Open] returns a [Reader] of exactly the records a split owns. Its
// resolved byte range is known as soon as it is open ([Reader.Range]), so
// callers that only need to move bytes can copy that range directly
// (sendfile, splice); [Reader.Bytes] and [Reader.Records] count what was
// read.
package split
