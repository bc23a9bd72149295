package shuffle

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// MaxPartitions is the largest number of partitions.
const MaxPartitions = 1 << 20

const (
	kindHash = iota
	kindKeyField
	kindKeyFieldString
	kindTotalOrder
)

// Partitioner maps keys to partitions 0 … N()-1. It is not safe for
// concurrent use (it keeps scratch space); make one per goroutine.
type Partitioner struct {
	n       int
	kind    int
	options string
	kf      KeyFieldOptions
	sep     byte
	lens    []int
	splits  [][]byte
	cmp     func(a, b []byte) int
	mod     fastMod
}

func checkN(n int) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("number of partitions must be 1 to %d, not %d", MaxPartitions, n)
	}
	return nil
}

// NewHashPartitioner returns Hadoop's HashPartitioner over Text keys:
// ([TextHash](key) & 0x7fffffff) % n.
func NewHashPartitioner(n int) (*Partitioner, error) {
	if err := checkN(n); err != nil {
		return nil, err
	}
	return &Partitioner{n: n, kind: kindHash, mod: newFastMod(n)}, nil
}

// NewKeyFieldPartitioner returns Hadoop's KeyFieldBasedPartitioner with
// options (mapreduce.partition.keypartitioner.options, e.g. "-k1,1") and
// key-field separator sep (mapreduce.map.output.key.field.separator).
// Empty options hash the key as a Java String ([StringHash]); otherwise an
// empty key goes to partition 0 and the byte ranges the specs select are
// hashed from 0, skipping specs whose start is not in the key. The n and r
// flags do not affect partitioning.
func NewKeyFieldPartitioner(n int, options string, sep byte) (*Partitioner, error) {
	if err := checkN(n); err != nil {
		return nil, err
	}
	o, err := ParseKeyFieldOptions(options)
	if err != nil {
		return nil, err
	}
	p := &Partitioner{n: n, kind: kindKeyField, options: options, kf: o, sep: sep}
	if len(o.Specs) == 0 {
		p.kind = kindKeyFieldString
	}
	return p, nil
}

// NewTotalOrderPartitioner returns a total-order partitioner: a key goes to
// the number of split keys that are at or below it, so partition i holds
// the keys from splits[i-1] up to, not including, splits[i]. splits must be
// strictly increasing under cmp (nil: unsigned bytes); there may be fewer
// than n-1 (the last partitions are then empty), not more.
func NewTotalOrderPartitioner(n int, splits [][]byte, cmp func(a, b []byte) int) (*Partitioner, error) {
	if err := checkN(n); err != nil {
		return nil, err
	}
	if len(splits) > n-1 {
		return nil, fmt.Errorf("%d split keys make %d partitions, more than %d", len(splits), len(splits)+1, n)
	}
	c := cmp
	if c == nil {
		c = bytes.Compare
	}
	for i := 1; i < len(splits); i++ {
		if c(splits[i-1], splits[i]) >= 0 {
			return nil, fmt.Errorf("split keys are not strictly increasing: key %d (%q) is not below key %d (%q)", i, splits[i-1], i+1, splits[i])
		}
	}
	return &Partitioner{n: n, kind: kindTotalOrder, splits: splits, cmp: cmp}, nil
}

// N returns the number of partitions.
func (p *Partitioner) N() int { return p.n }

// String describes the partitioner for manifests and messages.
func (p *Partitioner) String() string {
	switch p.kind {
	case kindHash:
		return "hash"
	case kindKeyField, kindKeyFieldString:
		if p.sep != '\t' {
			// Fields cut at another byte are other fields: outputs that
			// differ in it must not be merged.
			return fmt.Sprintf("keyfield %s (fields cut at %q)", p.options, p.sep)
		}
		return "keyfield " + p.options
	default:
		return fmt.Sprintf("totalorder %d", len(p.splits))
	}
}

// Partition returns the partition of key.
func (p *Partitioner) Partition(key []byte) int {
	switch p.kind {
	case kindHash:
		return p.mod.mod(uint32(TextHash(key)) & 0x7fffffff)
	case kindKeyFieldString:
		return int(StringHash(key)&0x7fffffff) % p.n
	case kindKeyField:
		if len(key) == 0 {
			return 0
		}
		if !utf8.Valid(key) {
			var buf [256]byte
			key = javaUTF8(buf[:0], key)
		}
		var h int32
		h, p.lens = keyFieldHash(key, &p.kf, p.sep, p.lens)
		return int(h&0x7fffffff) % p.n
	default:
		lo, hi := 0, len(p.splits)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			var d int
			if p.cmp == nil {
				d = bytes.Compare(p.splits[m], key)
			} else {
				d = p.cmp(p.splits[m], key)
			}
			if d <= 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
}
