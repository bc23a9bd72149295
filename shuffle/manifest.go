package shuffle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ManifestName is the manifest's file name in an output directory.
const ManifestName = "manifest.json"

// ManifestVersion is the version of the manifest format written.
const ManifestVersion = 1

// Compression formats of part files.
const (
	CompressS2   = "s2"
	CompressNone = "none"
)

// PartName returns the file name of partition p: part-00000 and up.
func PartName(p int) string { return fmt.Sprintf("part-%05d", p) }

// Manifest describes one map output directory.
type Manifest struct {
	Version int `json:"version"`
	// Format is how part files are stored: "s2" or "none".
	Format string `json:"format"`
	// Checksum names the checksum of PartInfo.Checksum: "crc32c", the
	// CRC-32C (Castagnoli) of the uncompressed bytes, as 8 hex digits.
	Checksum string `json:"checksum"`
	// Separator and KeyFields are the key spec the lines were partitioned
	// (and sorted) by.
	Separator string `json:"separator"`
	KeyFields int    `json:"key_fields"`
	// ZeroTerminated: records end in NUL, not newline.
	ZeroTerminated bool `json:"zero_terminated,omitempty"`
	// Partitioner is [Partitioner.String] of the partitioner used.
	Partitioner string `json:"partitioner"`
	// Sorted reports whether each part is sorted by key; Comparator holds
	// the KeyFieldBasedComparator options it is sorted by ("": bytes).
	Sorted     bool   `json:"sorted"`
	Comparator string `json:"comparator,omitempty"`
	// Combined reports whether a combiner ran.
	Combined bool `json:"combined,omitempty"`
	// Stats are the writer's counters.
	Stats Stats `json:"counters"`
	// Partitions has one entry per partition, in order.
	Partitions []PartInfo `json:"partitions"`
}

// PartInfo describes one part file.
type PartInfo struct {
	Partition int    `json:"partition"`
	File      string `json:"file"`       // name in the directory
	Records   int64  `json:"records"`    // lines
	Bytes     int64  `json:"bytes"`      // uncompressed, terminators included
	Checksum  string `json:"checksum"`   // CRC-32C of the uncompressed bytes, 8 hex digits
	FileBytes int64  `json:"file_bytes"` // size on disk
}

// Stats are the counters of a Writer.
type Stats struct {
	InputRecords int64 `json:"input_records"`
	InputBytes   int64 `json:"input_bytes"`
	// Combine counters are zero without a combiner.
	CombineInputRecords  int64 `json:"combine_input_records,omitempty"`
	CombineOutputRecords int64 `json:"combine_output_records,omitempty"`
	// Output counts what the part files hold (uncompressed bytes) and
	// FileBytes their size on disk (Hadoop's materialized bytes).
	OutputRecords int64 `json:"output_records"`
	OutputBytes   int64 `json:"output_bytes"`
	FileBytes     int64 `json:"file_bytes"`
	// SortRuns and SpillBytes are the sorted runs the sort wrote to
	// temporary files, and their size.
	SortRuns   int   `json:"sort_runs,omitempty"`
	SpillBytes int64 `json:"spill_bytes,omitempty"`
}

// crc returns the checksum as a number.
func (pi *PartInfo) crc() (uint32, error) {
	if len(pi.Checksum) != 8 {
		return 0, fmt.Errorf("bad checksum %q", pi.Checksum)
	}
	v, err := strconv.ParseUint(pi.Checksum, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad checksum %q", pi.Checksum)
	}
	return uint32(v), nil
}

func formatCRC(c uint32) string { return fmt.Sprintf("%08x", c) }

// ReadManifest reads and checks DIR/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseManifest(path, b)
}

// ParseManifest parses a manifest read from name and checks that it is
// consistent: a known version, format and checksum, one entry per
// partition in order, plain file names, no negative counts.
func ParseManifest(name string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: bad manifest: %v", name, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: bad manifest: %s", name, fmt.Sprintf(format, a...))
	}
	if m.Version != ManifestVersion {
		return nil, bad("version %d, want %d", m.Version, ManifestVersion)
	}
	if m.Format != CompressS2 && m.Format != CompressNone {
		return nil, bad("unknown format %q", m.Format)
	}
	if m.Checksum != "crc32c" {
		return nil, bad("unknown checksum %q", m.Checksum)
	}
	if len(m.Separator) != 1 {
		return nil, bad("separator %q is not one byte", m.Separator)
	}
	if m.KeyFields < 1 {
		return nil, bad("key_fields %d", m.KeyFields)
	}
	if _, err := ComparatorKeys(m.Comparator, m.KeyFields); err != nil {
		return nil, bad("%v", err)
	}
	if len(m.Partitions) == 0 || len(m.Partitions) > MaxPartitions {
		return nil, bad("%d partitions", len(m.Partitions))
	}
	for i := range m.Partitions {
		pi := &m.Partitions[i]
		if pi.Partition != i {
			return nil, bad("entry %d is for partition %d", i, pi.Partition)
		}
		if pi.File == "" || pi.File != filepath.Base(pi.File) || pi.File == "." || pi.File == ".." || pi.File == ManifestName {
			return nil, bad("partition %d: bad file name %q", i, pi.File)
		}
		if pi.Records < 0 || pi.Bytes < 0 || pi.FileBytes < 0 || pi.Records > pi.Bytes {
			return nil, bad("partition %d: bad counts", i)
		}
		if _, err := pi.crc(); err != nil {
			return nil, bad("partition %d: %v", i, err)
		}
	}
	return &m, nil
}

// writeManifest writes m to DIR/manifest.json through a temporary file and
// a rename, so that readers see the old manifest or the new one, whole.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(dir, ManifestName)
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d", ManifestName, os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
