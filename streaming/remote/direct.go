// # Direct shuffle
//
// With --shuffle direct, reduce tasks fetch their partitions straight from
// the hosts that ran the maps instead of through the driver. Each worker
// serves its map outputs ([ServeMapOutputs]) on a TCP listener of its own:
// map output m is the directory ROOT/map-NNNNN ([MapOutputName]) of the
// worker's scratch directory (scratch/maps, where the worker keeps the
// map outputs it made, numbered in turn), and only its manifest and the part files
// that manifest names are served, to requests that carry the job's token:
// 32 random bytes made by the driver ([NewToken]) and given to the workers
// over ssh, compared in constant time. A request names a map and a
// partition by number only ("/mrpipe/direct/v1/map/M/part/P"); no name
// from a request is ever used as a path, files are opened through an
// [os.Root] so that no symbolic link leads out of ROOT, and refusals are
// logged (the first 100). A [Fetcher] ([FetchPartition]) gets partition p of map m
// from a worker into a directory laid out as the relay leaves it
// (manifest.json and the part file) and verifies it against the map's
// manifest as it arrives, on a second core; a difference is a
// [*FetchError] naming the host, the map and the partition, so the map can
// be run again. Connections that fail or stall are retried a few times.
//
// The token and the data cross the network between the hosts in the
// clear (the relay's go through ssh): direct shuffle is for hosts on a
// network the user trusts, like a cluster's.

package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
)

// TokenSize is the size of a job's direct shuffle token: 256 bits.
const TokenSize = 32

// MaxMaps bounds the map index of a direct shuffle request.
const MaxMaps = 1 << 24

// directPrefix starts every direct shuffle request path.
const directPrefix = "/mrpipe/direct/v1/map/"

// maxManifest bounds a manifest read by the server or the client; one of
// MaxPartitions entries is well below it.
const maxManifest = 256 << 20

// NewToken returns a new random token for a job's direct shuffle.
func NewToken() ([]byte, error) {
	t := make([]byte, TokenSize)
	if _, err := rand.Read(t); err != nil {
		return nil, fmt.Errorf("direct shuffle token: %w", err)
	}
	return t, nil
}

// ParseToken reads a token written in hex (hex.EncodeToString), as it is
// passed to workers.
func ParseToken(s string) ([]byte, error) {
	t, err := hex.DecodeString(s)
	if err != nil || len(t) != TokenSize {
		return nil, fmt.Errorf("direct shuffle token: want %d hex digits", 2*TokenSize)
	}
	return t, nil
}

// MapOutputName is the name of map output m's directory under the root a
// worker serves: map-00000 and up.
func MapOutputName(m int) string { return fmt.Sprintf("map-%05d", m) }

// AdvertiseAddr returns the address other hosts reach a worker's listener
// on port at: the address the driver's ssh session reached the host at
// (the third field of SSH_CONNECTION, as getenv returns it), or "" when
// the worker does not run under sshd.
func AdvertiseAddr(getenv func(string) string, port int) string {
	f := strings.Fields(getenv("SSH_CONNECTION"))
	if len(f) != 4 || net.ParseIP(f[2]) == nil {
		return ""
	}
	return net.JoinHostPort(f[2], strconv.Itoa(port))
}

// directRequest is what a request asks for: map Map's manifest, or its
// partition Part.
type directRequest struct {
	Map      int
	Part     int
	Manifest bool
}

// path returns the request path for r.
func (r directRequest) path() string {
	if r.Manifest {
		return directPrefix + strconv.Itoa(r.Map) + "/manifest"
	}
	return directPrefix + strconv.Itoa(r.Map) + "/part/" + strconv.Itoa(r.Part)
}

// parseDirectRequest parses a request target, exactly as it came on the
// request line: "/mrpipe/direct/v1/map/M/manifest" or
// "/mrpipe/direct/v1/map/M/part/P", with M and P decimal numbers without
// sign or leading zeros, M below MaxMaps and P below
// shuffle.MaxPartitions. Nothing else is accepted: no escapes, no query,
// no other path.
func parseDirectRequest(target string) (directRequest, error) {
	var r directRequest
	rest, ok := strings.CutPrefix(target, directPrefix)
	if !ok {
		return r, errors.New("unknown path")
	}
	ms, what, ok := strings.Cut(rest, "/")
	if !ok {
		return r, errors.New("unknown path")
	}
	var err error
	if r.Map, err = parseIndex(ms, MaxMaps); err != nil {
		return r, fmt.Errorf("map: %v", err)
	}
	if what == "manifest" {
		r.Manifest = true
		return r, nil
	}
	ps, ok := strings.CutPrefix(what, "part/")
	if !ok {
		return r, errors.New("unknown path")
	}
	if r.Part, err = parseIndex(ps, shuffle.MaxPartitions); err != nil {
		return r, fmt.Errorf("partition: %v", err)
	}
	return r, nil
}

// parseIndex parses a decimal number below max: digits only, no leading
// zero.
func parseIndex(s string, max int) (int, error) {
	if s == "" || len(s) > 9 || s[0] == '0' && len(s) > 1 {
		return 0, errors.New("not an index")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("not an index")
		}
		n = n*10 + int(c-'0')
	}
	if n >= max {
		return 0, errors.New("out of range")
	}
	return n, nil
}

// directServer serves map outputs below root.
type directServer struct {
	root    *os.Root
	token   []byte
	log     *log.Logger
	wg      sync.WaitGroup
	refused atomic.Int64
}

// maxRefusalsLogged bounds the refusals logged, so that a scanner on the
// network cannot flood the worker's log (and the driver's terminal).
const maxRefusalsLogged = 100

// ServeMapOutputs serves the map outputs below root (map output m is
// root/MapOutputName(m)) on ln to the holders of token, until ctx is done;
// then it closes ln and every connection, waits for its handlers to end
// and returns nil. Refused requests are logged to logw, one line each
// (the first 100 of them).
//
// A worker runs it in a goroutine over its scratch/maps directory, on a
// listener of all its interfaces (net.Listen("tcp", ":0")), tells the
// driver the port ([AdvertiseAddr] gives the address the driver reached
// it at), and moves each map output it keeps to MapOutputName(n) under
// the root, n counting them; map outputs must not change once there. Only regular files are served; links may point anywhere inside
// the root.
func ServeMapOutputs(ctx context.Context, ln net.Listener, root string, token []byte, logw io.Writer) error {
	defer ln.Close()
	if len(token) != TokenSize {
		return fmt.Errorf("direct shuffle: token of %d bytes, want %d", len(token), TokenSize)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("direct shuffle: %w", err)
	}
	defer r.Close()
	if logw == nil {
		logw = io.Discard
	}
	s := &directServer{root: r, token: token, log: log.New(logw, "direct shuffle: ", 0)}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          s.log,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// Every connection's goroutine, handlers included, is counted:
		// StateNew is reported before Serve starts it, StateClosed when
		// it ends.
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.wg.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.wg.Done()
			}
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
		srv.Close()
	case <-ctx.Done():
		srv.Close()
		err = <-errc
	}
	s.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("direct shuffle: %w", err)
	}
	return nil
}

// refuse answers a request with status and logs why.
func (s *directServer) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	target := r.RequestURI
	if len(target) > 200 {
		target = target[:200] + "..."
	}
	switch n := s.refused.Add(1); {
	case n < maxRefusalsLogged:
		s.log.Printf("refused %s %q from %s: %s", r.Method, target, r.RemoteAddr, why)
	case n == maxRefusalsLogged:
		s.log.Printf("refused %s %q from %s: %s; further refusals are not logged", r.Method, target, r.RemoteAddr, why)
	}
	http.Error(w, http.StatusText(status), status)
}

// authorized reports whether r carries the token.
func (s *directServer) authorized(r *http.Request) bool {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(v) != 2*TokenSize {
		return false
	}
	var got [TokenSize]byte
	if _, err := hex.Decode(got[:], []byte(v)); err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], s.token) == 1
}

func (s *directServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.refuse(w, r, http.StatusUnauthorized, "missing or wrong token")
		return
	}
	if r.Method != http.MethodGet {
		s.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	req, err := parseDirectRequest(r.RequestURI)
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	dir := MapOutputName(req.Map)
	m, mb, err := s.manifest(dir)
	if err != nil {
		s.refuse(w, r, http.StatusNotFound, err.Error())
		return
	}
	if req.Manifest {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(mb)))
		w.Write(mb)
		return
	}
	if req.Part >= len(m.Partitions) {
		s.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no partition %d in map %d (%d partitions)", req.Part, req.Map, len(m.Partitions)))
		return
	}
	f, size, err := s.open(dir + "/" + m.Partitions[req.Part].File)
	if err != nil {
		s.refuse(w, r, http.StatusNotFound, err.Error())
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	// The response copies from the file with sendfile.
	if _, err := io.Copy(w, f); err != nil {
		s.log.Printf("map %d partition %d to %s: %v", req.Map, req.Part, r.RemoteAddr, err)
	}
}

// open opens the regular file name (slash-separated, relative to the
// root, made by the server) and returns it with its size.
func (s *directServer) open(name string) (*os.File, int64, error) {
	// Stat first: opening a FIFO would block.
	fi, err := s.root.Stat(name)
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, fi.Size(), nil
}

// manifest reads and checks the manifest of the map output dir.
func (s *directServer) manifest(dir string) (*shuffle.Manifest, []byte, error) {
	name := dir + "/" + shuffle.ManifestName
	f, _, err := s.open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > maxManifest {
		return nil, nil, fmt.Errorf("%s: too large", name)
	}
	m, err := shuffle.ParseManifest(name, b)
	if err != nil {
		return nil, nil, err
	}
	return m, b, nil
}

// FetchError is a partition that could not be fetched from a host, or
// that did not match its manifest (Err is then a *shuffle.VerifyError).
type FetchError struct {
	Addr      string
	Map       int
	Partition int
	Err       error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("direct shuffle: map %d partition %d from %s: %v", e.Map, e.Partition, e.Addr, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// errStatus is an answer other than 200 OK.
type errStatus struct {
	code int
	msg  string
}

func (e *errStatus) Error() string {
	if e.msg != "" {
		return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.msg)
	}
	return fmt.Sprintf("%d %s", e.code, http.StatusText(e.code))
}

// fetchAttempts is how many times a fetch is tried when its connection
// fails.
const fetchAttempts = 4

// A Fetcher fetches partitions from workers' direct shuffle listeners,
// keeping connections open between fetches. It is safe for concurrent
// use. Close it when done.
type Fetcher struct {
	token  string
	client *http.Client
	// Backoff is the wait before the first retry, doubled for each
	// further one; 0 means 200 ms.
	Backoff time.Duration
}

// NewFetcher returns a Fetcher presenting token.
func NewFetcher(token []byte) *Fetcher {
	tr := &http.Transport{
		Proxy:                 nil, // never through a proxy
		DialContext:           dialIdle,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		DisableCompression:    true,
		ReadBufferSize:        256 << 10,
	}
	return &Fetcher{token: hex.EncodeToString(token), client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fetchIdle is how long a fetch waits for the next bytes from a worker
// before it gives up on the connection (and tries again): a host that
// stalls does not hold a reduce task forever.
const fetchIdle = 2 * time.Minute

// dialIdle dials a connection whose reads fail after fetchIdle without
// data.
func dialIdle(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return idleConn{c}, nil
}

type idleConn struct{ net.Conn }

func (c idleConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(fetchIdle))
	return c.Conn.Read(p)
}

// Close closes the Fetcher's idle connections.
func (f *Fetcher) Close() { f.client.CloseIdleConnections() }

// FetchPartition fetches partition p of map m from the worker listening
// at addr (host:port) into dir, as [Fetcher.Fetch] does.
func FetchPartition(ctx context.Context, addr string, token []byte, m, p int, dir string) error {
	f := NewFetcher(token)
	defer f.Close()
	_, err := f.Fetch(ctx, addr, m, p, dir)
	return err
}

// Fetch fetches partition p of map m from the worker listening at addr
// into dir (made if needed): dir/manifest.json and the part file the
// manifest names, which [shuffle.FindPart](dir, p) then finds. The part
// is verified against the manifest as it arrives; it is written under a
// temporary name and renamed when it is whole and verified. It returns
// the part's manifest entry. Failed connections are retried; errors are
// *FetchError.
//
// A reduce task fetches partition p of map i into IN/m<i> (one directory
// per map: each holds its map's manifest), which is what the relay
// leaves, and merges as before. A *FetchError that wraps a
// *shuffle.VerifyError ([shuffle.IsVerifyError]) means the map output on
// that host is bad and the map must run again; other errors mean the host
// could not serve it (lost, or without that output).
func (f *Fetcher) Fetch(ctx context.Context, addr string, m, p int, dir string) (*shuffle.PartInfo, error) {
	if m < 0 || m >= MaxMaps || p < 0 || p >= shuffle.MaxPartitions {
		return nil, &FetchError{addr, m, p, errors.New("index out of range")}
	}
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	for a := 1; ; a++ {
		info, err := f.fetch(ctx, addr, m, p, dir)
		if err == nil {
			return info, nil
		}
		if a == fetchAttempts || !transient(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return nil, &FetchError{addr, m, p, err}
		}
		t := time.NewTimer(backoff << (a - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &FetchError{addr, m, p, context.Cause(ctx)}
		case <-t.C:
		}
	}
}

// transient reports whether a fetch that failed with err may succeed if
// tried again: connections that failed, and servers that were busy.
func transient(err error) bool {
	var st *errStatus
	if errors.As(err, &st) {
		return st.code == http.StatusServiceUnavailable || st.code == http.StatusBadGateway
	}
	if shuffle.IsVerifyError(err) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// get sends a request for r and returns the response, whose status is
// 200.
func (f *Fetcher) get(ctx context.Context, addr string, r directRequest) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+r.path(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &errStatus{resp.StatusCode, strings.TrimSpace(string(msg))}
	}
	return resp, nil
}

func (f *Fetcher) fetch(ctx context.Context, addr string, m, p int, dir string) (*shuffle.PartInfo, error) {
	resp, err := f.get(ctx, addr, directRequest{Map: m, Manifest: true})
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	mb, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(mb) > maxManifest {
		return nil, errors.New("manifest too large")
	}
	man, err := shuffle.ParseManifest("manifest", mb)
	if err != nil {
		return nil, err
	}
	if p >= len(man.Partitions) {
		return nil, fmt.Errorf("the manifest has %d partitions", len(man.Partitions))
	}
	info := &man.Partitions[p]
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, shuffle.ManifestName), mb); err != nil {
		return nil, err
	}
	resp, err = f.get(ctx, addr, directRequest{Map: m, Part: p})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength != info.FileBytes {
		return nil, &shuffle.VerifyError{File: info.File, What: fmt.Sprintf("file is %d bytes, manifest says %d", resp.ContentLength, info.FileBytes)}
	}
	path := filepath.Join(dir, info.File)
	tmp, err := os.CreateTemp(dir, "."+info.File+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	err = receive(tmp, resp.Body, &shuffle.Part{Path: info.File, Manifest: man, Info: info})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return nil, err
	}
	return info, nil
}

// receive copies body to file and verifies it against pt's manifest
// entry as it goes; the verification runs on another goroutine, given the
// data in chunks, so that receiving and decompressing use two cores.
func receive(file *os.File, body io.Reader, pt *shuffle.Part) error {
	cp := newChunkPipe(8, 1<<20)
	verr := make(chan error, 1)
	go func() {
		err := verify(cp, pt)
		cp.CloseRead(err)
		verr <- err
	}()
	n, err := copyChunks(cp, file, body)
	if err == nil && n != pt.Info.FileBytes {
		err = &shuffle.VerifyError{File: pt.Info.File, What: fmt.Sprintf("received %d bytes, manifest says %d", n, pt.Info.FileBytes)}
	}
	cp.CloseWrite(err)
	// The verifier's error comes first when it stopped the copy.
	if ve := <-verr; err == nil || errors.Is(err, errPipeClosed) {
		err = ve
	}
	return err
}

// verify reads the part's bytes from r, decompressed and checked.
func verify(r io.Reader, pt *shuffle.Part) error {
	vr, err := pt.NewReader(r)
	if err != nil {
		return err
	}
	defer vr.Close()
	_, err = io.Copy(io.Discard, vr)
	return err
}

// copyChunks reads body into the pipe's chunks, writing each to file
// before it goes to the verifier, and returns the bytes read.
func copyChunks(cp *chunkPipe, file *os.File, body io.Reader) (int64, error) {
	var n int64
	for {
		buf, err := cp.buffer()
		if err != nil {
			return n, err
		}
		// Fill the chunk; unlike io.ReadFull, tell a body that ends
		// early (io.ErrUnexpectedEOF from net/http) from its end.
		k := 0
		var rerr error
		for k < len(buf) && rerr == nil {
			var x int
			x, rerr = body.Read(buf[k:])
			k += x
		}
		if k > 0 {
			n += int64(k)
			if _, err := file.Write(buf[:k]); err != nil {
				return n, err
			}
			if err := cp.send(buf[:k]); err != nil {
				return n, err
			}
		} else {
			cp.put(buf)
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// errPipeClosed is returned to the writer of a chunkPipe whose reader
// stopped.
var errPipeClosed = errors.New("verifier stopped")

// chunkPipe passes chunks of bytes from one goroutine to another with a
// few chunks in flight, unlike io.Pipe, which hands over each write
// before the writer can go on.
type chunkPipe struct {
	free chan []byte
	full chan []byte
	done chan struct{} // closed by CloseRead
	once sync.Once
	rerr error  // set before done is closed
	werr error  // set before full is closed
	cur  []byte // the chunk being read
	left []byte // its bytes not read yet
}

func newChunkPipe(n, size int) *chunkPipe {
	cp := &chunkPipe{free: make(chan []byte, n), full: make(chan []byte, n), done: make(chan struct{})}
	for i := 0; i < n; i++ {
		cp.free <- make([]byte, size)
	}
	return cp
}

// buffer returns a free chunk to fill.
func (cp *chunkPipe) buffer() ([]byte, error) {
	select {
	case b := <-cp.free:
		return b[:cap(b)], nil
	case <-cp.done:
		return nil, cp.readErr()
	}
}

func (cp *chunkPipe) readErr() error {
	if cp.rerr != nil {
		return fmt.Errorf("%w: %v", errPipeClosed, cp.rerr)
	}
	return errPipeClosed
}

// put gives back an unused chunk.
func (cp *chunkPipe) put(b []byte) { cp.free <- b }

// send passes a filled chunk to the reader.
func (cp *chunkPipe) send(b []byte) error {
	select {
	case cp.full <- b:
		return nil
	case <-cp.done:
		return cp.readErr()
	}
}

// CloseWrite ends the stream: the reader gets err, or io.EOF if nil.
func (cp *chunkPipe) CloseWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	cp.werr = err
	close(cp.full)
}

// CloseRead stops the reader; the writer's next call returns an error
// wrapping errPipeClosed and err.
func (cp *chunkPipe) CloseRead(err error) {
	cp.once.Do(func() {
		if err != io.EOF {
			cp.rerr = err
		}
		close(cp.done)
	})
}

// Read reads from the chunks in order.
func (cp *chunkPipe) Read(p []byte) (int, error) {
	for len(cp.left) == 0 {
		if cp.cur != nil {
			cp.free <- cp.cur
			cp.cur = nil
		}
		b, ok := <-cp.full
		if !ok {
			return 0, cp.werr
		}
		cp.cur, cp.left = b, b
	}
	n := copy(p, cp.left)
	cp.left = cp.left[n:]
	return n, nil
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, bytes.NewReader(b))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}
