package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// syncBuffer is a bytes.Buffer safe for the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeMapOutput writes map output m under root with the shuffle's
// writer: r partitions of key<TAB>value lines, sorted.
func writeMapOutput(t testing.TB, root string, m, r int, compress string, lines int) string {
	t.Helper()
	dir := filepath.Join(root, MapOutputName(m))
	w, err := shuffle.Create(context.Background(), dir, shuffle.Options{Partitions: r, Sort: true, Compress: compress})
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := 0; i < lines; i++ {
		fmt.Fprintf(bw, "key%d\tmap %d line %d\n", (i*7919+m)%1000, m, i)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startDirect serves root with token on a loopback port until the test
// ends; it returns the address and the server's log.
func startDirect(t *testing.T, root string, token []byte) (string, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logw := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMapOutputs(ctx, ln, root, token, logw) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeMapOutputs: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("ServeMapOutputs did not return after its context was cancelled")
		}
	})
	return ln.Addr().String(), logw
}

func newToken(t testing.TB) []byte {
	t.Helper()
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestToken(t *testing.T) {
	a, b := newToken(t), newToken(t)
	if len(a) != TokenSize || bytes.Equal(a, b) {
		t.Fatalf("tokens %x and %x", a, b)
	}
	got, err := ParseToken(hex.EncodeToString(a))
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("ParseToken(%x) = %x, %v", a, got, err)
	}
	for _, s := range []string{"", "00", hex.EncodeToString(a) + "00", strings.Repeat("zz", TokenSize)} {
		if _, err := ParseToken(s); err == nil {
			t.Errorf("ParseToken(%q) succeeded", s)
		}
	}
}

func TestAdvertiseAddr(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"10.0.0.1 51234 10.213.4.11 22", "10.213.4.11:4000"},
		{"fe80::1 51234 fd00::2 22", "[fd00::2]:4000"},
		{"", ""},
		{"10.0.0.1 51234 nonsense 22", ""},
	} {
		got := AdvertiseAddr(func(string) string { return c.env }, 4000)
		if got != c.want {
			t.Errorf("SSH_CONNECTION=%q: %q, want %q", c.env, got, c.want)
		}
	}
}

// TestDirectRoundTrip fetches every partition of real map outputs, S2 and
// plain, and checks they are the files written, verified.
func TestDirectRoundTrip(t *testing.T) {
	root := t.TempDir()
	const r = 3
	writeMapOutput(t, root, 0, r, shuffle.CompressS2, 20000)
	writeMapOutput(t, root, 1, r, shuffle.CompressNone, 20000)
	writeMapOutput(t, root, 2, r, shuffle.CompressS2, 0)
	tok := newToken(t)
	addr, logw := startDirect(t, root, tok)
	f := NewFetcher(tok)
	defer f.Close()
	ctx := context.Background()
	dst := t.TempDir()
	for m := 0; m < 3; m++ {
		for p := 0; p < r; p++ {
			dir := filepath.Join(dst, fmt.Sprintf("r%d", p), fmt.Sprintf("m%d", m))
			info, err := f.Fetch(ctx, addr, m, p, dir)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(root, MapOutputName(m), shuffle.PartName(p)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, info.File))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("map %d partition %d: fetched file differs", m, p)
			}
			pt, err := shuffle.FindPart(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			if pt.Info == nil {
				t.Fatalf("map %d partition %d: no manifest entry in %s", m, p, dir)
			}
			rc, err := pt.Open()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			ents, _ := os.ReadDir(dir)
			if len(ents) != 2 {
				t.Errorf("%s holds %d files, want the manifest and the part", dir, len(ents))
			}
		}
	}
	// The merge of the fetched parts is the merge of the originals.
	for p := 0; p < r; p++ {
		var orig, fetched []*shuffle.Part
		for m := 0; m < 3; m++ {
			a, err := shuffle.FindPart(filepath.Join(root, MapOutputName(m)), p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := shuffle.FindPart(filepath.Join(dst, fmt.Sprintf("r%d", p), fmt.Sprintf("m%d", m)), p)
			if err != nil {
				t.Fatal(err)
			}
			orig, fetched = append(orig, a), append(fetched, b)
		}
		var want, got bytes.Buffer
		if _, err := shuffle.Merge(ctx, orig, &want, shuffle.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := shuffle.Merge(ctx, fetched, &got, shuffle.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || want.Len() == 0 {
			t.Fatalf("partition %d: merge of fetched parts differs (%d bytes, want %d)", p, got.Len(), want.Len())
		}
	}
	if s := logw.String(); s != "" {
		t.Errorf("server log: %s", s)
	}
}

// rawRequest sends one request as raw bytes (no client library
// normalizes its target) and returns the status code and body.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDirectRefused sends requests the server must refuse: without the
// token, with another, for paths that are not a map output's files, and
// through symbolic links that lead out of the root.
func TestDirectRefused(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := "SECRET-CONTENT"
	if err := os.WriteFile(filepath.Join(base, "secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeMapOutput(t, root, 0, 2, shuffle.CompressNone, 100)
	// map 1 is a link to a map output outside the root.
	outside := writeMapOutput(t, base, 1, 2, shuffle.CompressNone, 100)
	if err := os.Symlink(outside, filepath.Join(root, MapOutputName(1))); err != nil {
		t.Fatal(err)
	}
	// map 2's partition 0 is a link to a file outside the root, of the
	// right size for its manifest; partition 1 is a FIFO.
	d2 := writeMapOutput(t, root, 2, 2, shuffle.CompressNone, 100)
	b, err := os.ReadFile(filepath.Join(d2, shuffle.PartName(0)))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "secret2"), append([]byte(secret), bytes.Repeat([]byte{'\n'}, len(b)-len(secret))...), 0o600)
	os.Remove(filepath.Join(d2, shuffle.PartName(0)))
	if err := os.Symlink(filepath.Join(base, "secret2"), filepath.Join(d2, shuffle.PartName(0))); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(d2, shuffle.PartName(1)))
	if err := syscall.Mkfifo(filepath.Join(d2, shuffle.PartName(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// map 3 is a link inside the root, to map 0: allowed.
	if err := os.Symlink(MapOutputName(0), filepath.Join(root, MapOutputName(3))); err != nil {
		t.Fatal(err)
	}

	tok := newToken(t)
	other := newToken(t)
	addr, logw := startDirect(t, root, tok)
	good := "Authorization: Bearer " + hex.EncodeToString(tok) + "\r\n"
	get := func(target, auth string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: close\r\n\r\n"
	}
	const ok = directPrefix + "0/part/0"
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"good", get(ok, good), 200},
		{"good manifest", get(directPrefix+"0/manifest", good), 200},
		{"link inside the root", get(directPrefix+"3/part/1", good), 200},
		{"no token", get(ok, ""), 401},
		{"wrong token", get(ok, "Authorization: Bearer "+hex.EncodeToString(other)+"\r\n"), 401},
		{"short token", get(ok, "Authorization: Bearer "+hex.EncodeToString(tok[:16])+"\r\n"), 401},
		{"long token", get(ok, "Authorization: Bearer "+hex.EncodeToString(tok)+"00\r\n"), 401},
		{"token not hex", get(ok, "Authorization: Bearer "+strings.Repeat("g", 64)+"\r\n"), 401},
		{"basic auth", get(ok, "Authorization: Basic "+hex.EncodeToString(tok)+"\r\n"), 401},
		{"token in the query", get(ok+"?token="+hex.EncodeToString(tok), ""), 401},
		{"traversal without token", get(directPrefix+"../../../secret", ""), 401},
		{"post", "POST " + ok + " HTTP/1.1\r\nHost: x\r\n" + good + "Content-Length: 0\r\nConnection: close\r\n\r\n", 405},
		{"dot dot", get(directPrefix+"../../../secret", good), 400},
		{"dot dot in part", get(directPrefix+"0/part/../../../secret", good), 400},
		{"escaped dot dot", get(directPrefix+"%2e%2e/%2e%2e/secret", good), 400},
		{"escaped slash", get(directPrefix+"0/part/..%2f..%2fsecret", good), 400},
		{"escaped NUL", get(directPrefix+"0/part/0%00", good), 400},
		{"absolute path", get("/etc/passwd", good), 400},
		{"double slash", get("//"+strings.TrimPrefix(ok, "/"), good), 400},
		{"absolute form", get("http://x"+ok, good), 400},
		{"absolute form elsewhere", get("http://x/etc/passwd", good), 400},
		{"file name", get(directPrefix+"0/part/part-00000", good), 400},
		{"map name", get(directPrefix+"map-00000/part/0", good), 400},
		{"manifest name", get(directPrefix+"0/manifest.json", good), 400},
		{"leading zero", get(directPrefix+"00/part/0", good), 400},
		{"negative", get(directPrefix+"0/part/-1", good), 400},
		{"plus", get(directPrefix+"+0/part/0", good), 400},
		{"huge map", get(directPrefix+"99999999999999999999/part/0", good), 400},
		{"map out of range", get(directPrefix+"16777216/part/0", good), 400},
		{"partition out of range", get(directPrefix+"0/part/1048576", good), 400},
		{"trailing slash", get(ok+"/", good), 400},
		{"query", get(ok+"?x=1", good), 400},
		{"no such map", get(directPrefix+"7/part/0", good), 404},
		{"no such partition", get(directPrefix+"0/part/2", good), 404},
		{"map linked outside", get(directPrefix+"1/part/0", good), 404},
		{"map manifest linked outside", get(directPrefix+"1/manifest", good), 404},
		{"part linked outside", get(directPrefix+"2/part/0", good), 404},
		{"fifo", get(directPrefix+"2/part/1", good), 404},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			status, body := rawRequest(t, addr, c.req)
			if status != c.status {
				t.Errorf("status %d, want %d (body %q)", status, c.status, body)
			}
			if strings.Contains(body, secret) {
				t.Errorf("served the secret file")
			}
			if c.status != 200 && !strings.Contains(logw.String(), "refused") {
				t.Errorf("refusal not logged: %q", logw.String())
			}
		})
	}
	// A raw NUL or newline in the target never reaches a file either.
	for _, target := range []string{directPrefix + "0/part/0\x00", directPrefix + "\x00/part/0"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Minute))
		io.WriteString(c, get(target, good))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			if resp.StatusCode == 200 {
				t.Errorf("%q: served", target)
			}
			resp.Body.Close()
		}
		c.Close()
	}
	if s := logw.String(); !strings.Contains(s, "from 127.0.0.1:") || strings.Contains(s, secret) {
		t.Errorf("log: %s", s)
	}
	// A flood of bad requests is refused; the log stops at
	// maxRefusalsLogged lines and says so.
	for i := 0; i < maxRefusalsLogged; i++ {
		if status, _ := rawRequest(t, addr, get(ok, "")); status != 401 {
			t.Fatalf("request %d without token: status %d", i, status)
		}
	}
	s := logw.String()
	if n := strings.Count(s, "refused"); n != maxRefusalsLogged || !strings.Contains(s, "further refusals are not logged") {
		t.Errorf("%d refusals logged, want %d and a last line saying so", n, maxRefusalsLogged)
	}
}

// TestDirectCorrupt changes map outputs on the serving side: every
// change is found, named by host, map and partition, and leaves no part
// file behind.
func TestDirectCorrupt(t *testing.T) {
	root := t.TempDir()
	for m, c := range []string{shuffle.CompressS2, shuffle.CompressNone, shuffle.CompressS2, shuffle.CompressNone} {
		writeMapOutput(t, root, m, 1, c, 50000)
	}
	part := func(m int) string { return filepath.Join(root, MapOutputName(m), shuffle.PartName(0)) }
	flip := func(m int) {
		b, err := os.ReadFile(part(m))
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x20
		if err := os.WriteFile(part(m), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip(0) // inside an S2 block
	flip(1) // plain text: same size, other checksum
	if err := os.Truncate(part(2), 100); err != nil {
		t.Fatal(err)
	}
	// map 3: one byte more than the manifest says
	f, err := os.OpenFile(part(3), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Close()

	tok := newToken(t)
	addr, _ := startDirect(t, root, tok)
	fe := NewFetcher(tok)
	defer fe.Close()
	for m := 0; m < 4; m++ {
		dir := filepath.Join(t.TempDir(), "m")
		_, err := fe.Fetch(context.Background(), addr, m, 0, dir)
		var ferr *FetchError
		if !errors.As(err, &ferr) || !shuffle.IsVerifyError(err) {
			t.Fatalf("map %d: %v, want a *FetchError wrapping a *shuffle.VerifyError", m, err)
		}
		want := fmt.Sprintf("map %d partition 0 from %s", m, addr)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
		t.Logf("map %d: %v", m, err)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != shuffle.ManifestName {
				t.Errorf("%s left in %s", e.Name(), dir)
			}
		}
	}
}

// TestDirectRetry fetches from a server that starts late: the fetch
// waits for it.
func TestDirectRetry(t *testing.T) {
	root := t.TempDir()
	writeMapOutput(t, root, 0, 1, shuffle.CompressS2, 100)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tok := newToken(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	taken := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			taken <- err
			done <- nil
			return
		}
		done <- ServeMapOutputs(ctx, ln, root, tok, nil)
	}()
	f := NewFetcher(tok)
	f.Backoff = 500 * time.Millisecond // tries at 0, 0.5, 1.5 and 3.5 s
	_, err = f.Fetch(ctx, addr, 0, 0, t.TempDir())
	cancel()
	if serr := <-done; serr != nil {
		t.Fatal(serr)
	}
	select {
	case lerr := <-taken:
		// Another program took the port in the 200 ms it was free.
		t.Skipf("listen on %s again: %v", addr, lerr)
	default:
	}
	if err != nil {
		t.Fatal(err)
	}

	// Nobody listening: the fetch gives up, naming the host.
	f.Backoff = time.Millisecond
	_, err = f.Fetch(context.Background(), addr, 0, 0, t.TempDir())
	var ferr *FetchError
	if !errors.As(err, &ferr) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("fetch with no server: %v", err)
	}
	// A cancelled fetch ends at once, leaving no part file.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	dir := t.TempDir()
	if _, err := NewFetcher(tok).Fetch(cctx, addr, 0, 0, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("cancelled fetch left %d files", len(ents))
	}
	// A wrong token is not retried.
	f2 := NewFetcher(newToken(t))
	addr2, _ := startDirect(t, root, tok)
	start := time.Now()
	f2.Backoff = time.Minute
	if _, err = f2.Fetch(context.Background(), addr2, 0, 0, t.TempDir()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("fetch with a wrong token: %v", err)
	}
	if time.Since(start) > 50*time.Second {
		t.Fatalf("a refused fetch was retried")
	}
}

// TestDirectShutdown cancels the server while a client is in the middle
// of a transfer: ServeMapOutputs returns and the client gets an error.
func TestDirectShutdown(t *testing.T) {
	root := t.TempDir()
	writeMapOutput(t, root, 0, 1, shuffle.CompressNone, 400000)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tok := newToken(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMapOutputs(ctx, ln, root, tok, nil) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A tiny receive window: the server blocks in the middle.
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET "+directPrefix+"0/part/0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+hex.EncodeToString(tok)+"\r\n\r\n")
	br := bufio.NewReader(c)
	if _, err := br.Peek(1000); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ServeMapOutputs did not return")
	}
	// The connection was closed: the kernel still sends what the server
	// had queued, at the pace of the tiny window, then ends it; nothing
	// listens any more.
	if c2, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c2.Close()
		t.Fatal("the listener is still open")
	}

	if err := ServeMapOutputs(context.Background(), ln, root, tok[:16], nil); err == nil {
		t.Fatal("ServeMapOutputs accepted a short token")
	}
}

// FuzzParseDirectRequest checks that whatever the request target, a
// request is accepted only in its one canonical form, which names a map
// and a partition by number and no path.
func FuzzParseDirectRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, target string) {
		r, err := parseDirectRequest(target)
		if err != nil {
			return
		}
		if r.path() != target {
			t.Fatalf("%q accepted as %+v, whose path is %q", target, r, r.path())
		}
		if r.Map < 0 || r.Map >= MaxMaps || r.Part < 0 || r.Part >= shuffle.MaxPartitions {
			t.Fatalf("%q: out of range %+v", target, r)
		}
		name := MapOutputName(r.Map)
		if strings.ContainsAny(name, "/\\\x00") || strings.Contains(name, "..") || !filepath.IsLocal(name) {
			t.Fatalf("%q: map directory %q", target, name)
		}
	})
}

// TestDirectLab serves map outputs from lab host h1's network namespace,
// listening on all its interfaces, and fetches them from this machine
// over the lab's links.
func TestDirectLab(t *testing.T) {
	lab := sshlabtest.Start(t, 1)
	root := t.TempDir()
	const r = 2
	for m := 0; m < 3; m++ {
		writeMapOutput(t, root, m, r, shuffle.CompressS2, 100000)
	}
	tok := newToken(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "ip", "netns", "exec", lab.Name+"-h1", os.Args[0], "-test.run=^TestDirectHelperServe$")
	c.Env = append(os.Environ(), "MRPIPE_DIRECT_SERVE="+hex.EncodeToString(tok)+" "+root)
	c.Stderr = os.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the server stops when its stdin ends
		if err := c.Wait(); err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server's address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	if strings.HasPrefix(addr, "127.") {
		t.Fatalf("server address %s is not on the lab's link", addr)
	}
	f := NewFetcher(tok)
	defer f.Close()
	dst := t.TempDir()
	for m := 0; m < 3; m++ {
		for p := 0; p < r; p++ {
			dir := filepath.Join(dst, fmt.Sprintf("m%d-p%d", m, p))
			if _, err := f.Fetch(ctx, addr, m, p, dir); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(filepath.Join(root, MapOutputName(m), shuffle.PartName(p)))
			got, _ := os.ReadFile(filepath.Join(dir, shuffle.PartName(p)))
			if len(want) == 0 || !bytes.Equal(got, want) {
				t.Fatalf("map %d partition %d: fetched file differs", m, p)
			}
		}
	}
	if _, err := NewFetcher(newToken(t)).Fetch(ctx, addr, 0, 0, t.TempDir()); err == nil {
		t.Fatal("fetched with another token")
	}
}

// TestDirectHelperServe is the server of TestDirectLab, run in a lab
// host's network namespace: it listens on all interfaces, prints the
// address of its first non-loopback interface with the port, and serves
// until its stdin ends.
func TestDirectHelperServe(t *testing.T) {
	env := os.Getenv("MRPIPE_DIRECT_SERVE")
	if env == "" {
		t.Skip("run by TestDirectLab")
	}
	token, root, _ := strings.Cut(env, " ")
	tok, err := ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	host := ""
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			host = ip.IP.String()
			break
		}
	}
	if host == "" {
		t.Fatal("no address but loopback")
	}
	fmt.Printf("%s\n", net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := ServeMapOutputs(ctx, ln, root, tok, os.Stderr); err != nil {
		t.Fatal(err)
	}
}

// FuzzDirectHandler sends the server's handler requests for any target,
// with and without the token: it answers 200 only to a canonical request
// with the token, and never with a file from outside its root.
func FuzzDirectHandler(f *testing.F) {
	base := f.TempDir()
	root := filepath.Join(base, "root")
	os.Mkdir(root, 0o700)
	writeMapOutput(f, root, 0, 2, shuffle.CompressNone, 10)
	const secret = "SECRET-CONTENT"
	os.WriteFile(filepath.Join(base, "secret"), []byte(secret), 0o600)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(root, "link"))
	r, err := os.OpenRoot(root)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	tok := newToken(f)
	s := &directServer{root: r, token: tok, log: log.New(io.Discard, "", 0)}
	auth := "Bearer " + hex.EncodeToString(tok)
	f.Add(directPrefix+"0/part/1", true)
	f.Add(directPrefix+"0/manifest", false)
	f.Add(directPrefix+"../link", true)
	f.Add("/link", true)
	f.Fuzz(func(t *testing.T, target string, withToken bool) {
		req := &http.Request{Method: http.MethodGet, RequestURI: target, Header: http.Header{}, RemoteAddr: "fuzz"}
		if withToken {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("%q: served the secret file", target)
		}
		if w.Code != http.StatusOK {
			return
		}
		rq, err := parseDirectRequest(target)
		if !withToken || err != nil || rq.path() != target || rq.Map != 0 {
			t.Fatalf("%q (token %v): 200 OK", target, withToken)
		}
	})
}
