package remote

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/klauspost/compress/s2"
	"golang.org/x/sys/unix"

	"github.com/mrpipe/mrpipe/streaming/job"
)

// The driver and a worker talk over the worker's stdin and stdout (the
// ssh session) in frames: a type byte, a request id and a length (both
// big-endian uint32), then that many bytes. Files travel as a File frame
// (JSON fileHeader), Data frames (plain, or S2 blocks when that saves an
// eighth) and an End frame; all frames of one
// request carry its id, and frames of several requests interleave.
const (
	msgHello  = 'h' // worker: helloMsg, once, first
	msgBeat   = 'b' // worker: heartbeat, every second
	msgWork   = 'W' // driver: workMsg; its files follow, then Start
	msgMap    = 'M' // driver: a map task (taskMsg); its input follows, then Start
	msgReduce = 'R' // driver: a reduce task (reduceMsg); its inputs follow, then Start
	msgFetch  = 'G' // driver: fetchMsg, then Start; the worker sends the file
	msgDirect = 'T' // driver: directMsg, then Start; the worker serves its map outputs
	msgStart  = 'S' // driver: every input of the request has been sent
	msgCancel = 'C' // driver: stop the request
	msgFile   = 'F' // either: fileHeader, a file of the request begins
	msgData   = 'D' // either: the current file's bytes
	msgDataZ  = 'Z' // either: the current file's bytes as an S2 block
	msgEnd    = 'E' // either: the current file is complete
	msgLog    = 'L' // worker: bytes of the task's log
	msgResult = 'r' // worker: resultMsg, the request is over
	msgExpand = 'X' // driver: expandMsg (inputs on the host), then Start
	msgRead   = 'I' // driver: readMsg (a split of a file on the host), then Start
)

const (
	protoVersion = 4
	maxFrame     = 16 << 20
	chunkSize    = 1 << 20
)

type helloMsg struct {
	Version int `json:"version"`
	PID     int `json:"pid"`
	// SID is the worker's session: every process of its ssh session, and
	// so every command it started, belongs to it.
	SID     int    `json:"sid"`
	CPUs    int    `json:"cpus"`
	Scratch string `json:"scratch"`
}

type workMsg struct {
	// Key names the set of files (the driver's work directory).
	Key string `json:"key"`
}

type resultMsg struct {
	Counters json.RawMessage `json:"counters,omitempty"`
	Bytes    int64           `json:"bytes"`
	Err      string          `json:"err,omitempty"`
	// Key names a map output the worker keeps in its scratch directory
	// (only its manifest was sent).
	Key string `json:"key,omitempty"`
	// Addr and Port answer a directMsg: the address other hosts reach the
	// worker's direct shuffle listener at ("" when the worker does not
	// know it: it is not run by sshd) and its port.
	Addr string `json:"addr,omitempty"`
	Port int    `json:"port,omitempty"`
	// Lost lists the maps of a reduce task whose partitions could not be
	// fetched from their hosts, or were bad: those map outputs are lost.
	// LostBad says they were read and found not to match their manifests.
	Lost    []int `json:"lost,omitempty"`
	LostBad bool  `json:"lost_bad,omitempty"`
}

// directMsg has the worker serve its map outputs to the other hosts of
// the job (ServeMapOutputs) and fetch from theirs, presenting Token (hex).
type directMsg struct {
	Token string `json:"token"`
}

// reduceMsg is a reduce task. The partitions of the map outputs listed
// in Local are kept by the worker; the others are sent with the task.
type reduceMsg struct {
	*job.ReduceTask
	Local []localPart `json:"local,omitempty"`
	// Direct lists the partitions the worker fetches from the other
	// hosts' direct shuffle listeners.
	Direct []directPart `json:"direct,omitempty"`
}

// directPart is the reduce task's partition of map output Output (its
// number, see MapOutputName) kept by the worker listening at Addr: map
// Map of the task.
type directPart struct {
	Map    int    `json:"map"`
	Addr   string `json:"addr"`
	Output int    `json:"output"`
}

// localPart is partition file File of map output Key, kept by the
// worker, that is map Map of a reduce task.
type localPart struct {
	Map  int    `json:"map"`
	Key  string `json:"key"`
	File string `json:"file"`
}

// fetchMsg asks a worker for file File of its map output Key.
type fetchMsg struct {
	Key  string `json:"key"`
	File string `json:"file"`
}

type fileHeader struct {
	Name string      `json:"name"`
	Mode os.FileMode `json:"mode"`
}

// wire writes frames; it may be used by several goroutines.
type wire struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func newWire(w io.Writer) *wire { return &wire{w: bufio.NewWriterSize(w, 64<<10)} }

func (c *wire) send(typ byte, id uint32, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	var h [9]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], id)
	binary.BigEndian.PutUint32(h[5:], uint32(len(data)))
	c.w.Write(h[:])
	c.w.Write(data)
	c.err = c.w.Flush()
	return c.err
}

func (c *wire) sendJSON(typ byte, id uint32, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.send(typ, id, b)
}

// sendFile sends the file at path as name; onData sees each chunk's size.
func (c *wire) sendFile(id uint32, name, path string, onData func(int)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return c.sendReader(id, name, fi.Mode().Perm(), f, onData)
}

// sendReader sends r's bytes as file name. Each chunk that S2 shrinks
// by an eighth or more travels as an S2 block (msgDataZ): text crosses
// ssh, whose encryption costs far more CPU per byte than S2 does here,
// in a fifth of the bytes, and S2 gives up on incompressible chunks
// (part files are S2 already) at many GB/s.
func (c *wire) sendReader(id uint32, name string, mode os.FileMode, r io.Reader, onData func(int)) error {
	if err := c.sendJSON(msgFile, id, fileHeader{Name: name, Mode: mode}); err != nil {
		return err
	}
	buf := make([]byte, chunkSize)
	var enc []byte
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			typ, data := byte(msgData), buf[:n]
			if n >= minCompress {
				if enc == nil {
					enc = make([]byte, s2.MaxEncodedLen(chunkSize))
				}
				if z := s2.Encode(enc, data); len(z) <= n-n/8 {
					typ, data = msgDataZ, z
				}
			}
			if serr := c.send(typ, id, data); serr != nil {
				return serr
			}
			if onData != nil {
				onData(n)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return c.send(msgEnd, id, nil)
}

// minCompress is the smallest chunk worth compressing.
const minCompress = 4 << 10

// decodeData returns the bytes a data frame carries, decoding an S2
// block into *buf. A block that does not decode, or to more than a
// chunk, is a protocol error.
func decodeData(fr frame, buf *[]byte) ([]byte, error) {
	if fr.typ != msgDataZ {
		return fr.data, nil
	}
	n, err := s2.DecodedLen(fr.data)
	if err != nil || n > chunkSize {
		return nil, fmt.Errorf("protocol error: bad compressed data frame (%d bytes)", len(fr.data))
	}
	if cap(*buf) < n {
		*buf = make([]byte, chunkSize)
	}
	d, err := s2.Decode((*buf)[:cap(*buf)], fr.data)
	if err != nil {
		return nil, fmt.Errorf("protocol error: bad compressed data frame: %w", err)
	}
	return d, nil
}

// pipeSize is the capacity asked for the pipes frames go through (the
// default 64 KiB makes a 1 MiB frame cost 16 wake-ups of each side).
const pipeSize = 1 << 20

// growPipe asks for a pipe of pipeSize if f (an *os.File) is a pipe.
func growPipe(f any) {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
}

type frame struct {
	typ  byte
	id   uint32
	data []byte
}

// readFrame reads one frame; data is valid until the next call.
func readFrame(r *bufio.Reader, buf *[]byte) (frame, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(h[5:])
	if n > maxFrame {
		return frame{}, fmt.Errorf("protocol error: frame of %d bytes", n)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	data := (*buf)[:n]
	if _, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	return frame{typ: h[0], id: binary.BigEndian.Uint32(h[1:]), data: data}, nil
}

// frameSink takes the file frames a worker sends for a request; close
// says whether all went well once the result has come.
type frameSink interface {
	frame(fr frame)
	close() error
}

// relay forwards the one file a worker sends to a request of another
// worker, as name: the driver's part of relaying a partition from the
// host that keeps it to the host that reduces it.
type relay struct {
	w    *wire
	id   uint32
	name string
	open bool
	done bool
	err  error
}

func (r *relay) frame(fr frame) {
	if r.err != nil {
		return
	}
	switch fr.typ {
	case msgFile:
		var h fileHeader
		if err := json.Unmarshal(fr.data, &h); err != nil {
			r.err = err
			return
		}
		if r.open || r.done {
			r.err = errors.New("protocol error: a second file")
			return
		}
		r.open = true
		r.err = r.w.sendJSON(msgFile, r.id, fileHeader{Name: r.name, Mode: h.Mode})
	case msgData, msgDataZ:
		if !r.open {
			r.err = errors.New("protocol error: data outside a file")
			return
		}
		r.err = r.w.send(fr.typ, r.id, fr.data)
	case msgEnd:
		if !r.open {
			r.err = errors.New("protocol error: end outside a file")
			return
		}
		r.open, r.done = false, true
		r.err = r.w.send(msgEnd, r.id, nil)
	}
}

func (r *relay) close() error {
	if r.err == nil && !r.done {
		r.err = errors.New("protocol error: file not sent")
	}
	return r.err
}

// sink writes the files of one request under dir. After an error it
// drops the rest and keeps the first error.
type sink struct {
	dir string
	f   *os.File
	err error
	n   int64  // bytes written
	buf []byte // for decoding msgDataZ frames
}

func (s *sink) frame(fr frame) {
	if s.err != nil {
		return
	}
	switch fr.typ {
	case msgFile:
		var h fileHeader
		if err := json.Unmarshal(fr.data, &h); err != nil {
			s.err = err
			return
		}
		if !filepath.IsLocal(h.Name) {
			s.err = fmt.Errorf("protocol error: file name %q", h.Name)
			return
		}
		p := filepath.Join(s.dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			s.err = err
			return
		}
		mode := h.Mode.Perm() & 0o700
		if mode == 0 {
			mode = 0o600
		}
		s.f, s.err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	case msgData, msgDataZ:
		if s.f == nil {
			s.err = errors.New("protocol error: data outside a file")
			return
		}
		var data []byte
		if data, s.err = decodeData(fr, &s.buf); s.err != nil {
			return
		}
		_, s.err = s.f.Write(data)
		s.n += int64(len(data))
	case msgEnd:
		if s.f == nil {
			s.err = errors.New("protocol error: end outside a file")
			return
		}
		s.err = s.f.Close()
		s.f = nil
	}
}

func (s *sink) close() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
		if s.err == nil {
			s.err = errors.New("protocol error: file not ended")
		}
	}
	return s.err
}
