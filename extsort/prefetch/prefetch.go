// Package prefetch asks the CPU to start loading memory that will be read
// soon. Sorting, merging and hash tables read records scattered over large
// memory; issuing the loads of a batch ahead overlaps their cache misses
// instead of stalling on each in turn.
package prefetch
