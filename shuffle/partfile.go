package shuffle

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/s2"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// s2BlockSize is the S2 block size of part files.
const s2BlockSize = 256 << 10

// handOffBlockSize bounds the blocks of a part file written by handOff:
// a partition buffer, flushed once it holds 256 KiB, is one block.
const handOffBlockSize = 512 << 10

// encoders keeps the S2 writers of part files completed without error,
// by concurrency (1 and 2), for the next part files: a writer's block
// buffers, half a megabyte, cost a map task of a few lines more to
// allocate and zero than the rest of its output.
var encoders [2]sync.Pool

func newEncoder(w io.Writer, concurrency int) *s2.Writer {
	if concurrency == 1 || concurrency == 2 {
		if e, ok := encoders[concurrency-1].Get().(*s2.Writer); ok {
			e.Reset(w)
			return e
		}
	}
	return s2.NewWriter(w, s2.WriterConcurrency(concurrency), s2.WriterBlockSize(s2BlockSize))
}

// partFile writes one part file under a temporary name, counting records,
// bytes and the CRC-32C of what it is given, and the bytes that reach the
// disk.
type partFile struct {
	p        int
	path     string // final name
	f        *os.File
	bw       *bufio.Writer
	enc      *s2.Writer
	crc      uint32
	records  int64
	bytes    int64
	diskSize int64
	done     bool
	// pool is where enc goes back once closed without error (0: nowhere).
	pool int
	// handsOff says the encoder takes buffers given to handOff as they
	// are and gives each back, written, to the function createPart got.
	handsOff bool
}

// createPart creates the temporary file of partition p in dir. With
// compress and a recycle function, the file can take whole buffers
// through handOff, without a copy, and recycle gets each back once the
// encoder is done with it.
func createPart(dir string, p int, compress bool, concurrency, bufSize int, recycle func([]byte)) (*partFile, error) {
	name := PartName(p)
	f, err := createTemp(dir, name)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(dir, name), unwrapPath(err))
	}
	pf := &partFile{p: p, path: filepath.Join(dir, name), f: f}
	switch {
	case compress && recycle != nil:
		pf.handsOff = true
		pf.enc = s2.NewWriter(diskCounter{f, &pf.diskSize}, s2.WriterConcurrency(concurrency),
			s2.WriterBlockSize(handOffBlockSize), s2.WriterBufferDone(recycle))
	case compress:
		// The encoder writes whole blocks: no buffer between it and the
		// file.
		pf.enc = newEncoder(diskCounter{f, &pf.diskSize}, concurrency)
		if concurrency == 1 || concurrency == 2 {
			pf.pool = concurrency
		}
	default:
		pf.bw = bufio.NewWriterSize(diskCounter{f, &pf.diskSize}, bufSize)
	}
	return pf, nil
}

type diskCounter struct {
	w io.Writer
	n *int64
}

func (d diskCounter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	*d.n += int64(n)
	return n, err
}

// write appends b, which holds records complete lines.
func (pf *partFile) write(b []byte, records int64) error {
	pf.crc = crc32.Update(pf.crc, castagnoli, b)
	pf.records += records
	pf.bytes += int64(len(b))
	var err error
	if pf.enc != nil {
		_, err = pf.enc.Write(b)
	} else {
		_, err = pf.bw.Write(b)
	}
	if err != nil {
		return pf.fail(err)
	}
	return nil
}

// handOff is write for a file created with a recycle function: the
// encoder compresses b in place, and b goes to recycle when it is written.
// b must not be touched until then. After an error b may or may not reach
// recycle.
func (pf *partFile) handOff(b []byte, records int64) error {
	pf.crc = crc32.Update(pf.crc, castagnoli, b)
	pf.records += records
	pf.bytes += int64(len(b))
	if err := pf.enc.EncodeBuffer(b); err != nil {
		return pf.fail(err)
	}
	return nil
}

func (pf *partFile) fail(err error) error {
	return fmt.Errorf("write %s: %w", pf.path, unwrapPath(err))
}

// finish flushes and closes the file, still under its temporary name.
func (pf *partFile) finish() (PartInfo, error) {
	info := PartInfo{Partition: pf.p, File: filepath.Base(pf.path)}
	if pf.done {
		return info, fmt.Errorf("internal error: %s finished twice", pf.path)
	}
	pf.done = true
	var err error
	if pf.enc != nil {
		err = pf.enc.Close()
		if err == nil && pf.pool > 0 {
			pf.enc.Reset(nil) // let go of the file
			encoders[pf.pool-1].Put(pf.enc)
		}
		pf.enc = nil
	} else {
		err = pf.bw.Flush()
	}
	if cerr := pf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, pf.fail(err)
	}
	info.Records, info.Bytes = pf.records, pf.bytes
	info.Checksum = formatCRC(pf.crc)
	info.FileBytes = pf.diskSize
	return info, nil
}

// commit renames the finished file to its final name.
func (pf *partFile) commit() error {
	if err := os.Rename(pf.f.Name(), pf.path); err != nil {
		return pf.fail(err)
	}
	return nil
}

// abort closes and removes the temporary file.
func (pf *partFile) abort() {
	if !pf.done {
		if pf.enc != nil {
			pf.enc.Close()
		}
		pf.f.Close()
		pf.done = true
	}
	os.Remove(pf.f.Name())
}

// createTemp creates a new file in dir named "."+name+".tmpNNN", to be
// renamed to name when complete. Unlike os.CreateTemp it gives the file
// the permissions of any new file (0666 less the umask), not 0600: it
// becomes an output the user reads, as sort's and split's are.
func createTemp(dir, name string) (*os.File, error) {
	for try := 0; ; try++ {
		path := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d", name, rand.Uint32()))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}
