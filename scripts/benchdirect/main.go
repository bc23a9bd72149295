// Command benchdirect measures the direct shuffle's throughput between
// two hosts (scripts/bench-direct.sh runs it in two SSH lab namespaces).
//
//	benchdirect gen -root DIR -maps M -parts R [-compress s2|none] <input
//	benchdirect serve -root DIR -listen ADDR -token HEX
//	benchdirect fetch -addr HOST:PORT -token HEX -maps M -parts R -dst DIR [-j N]
//
// gen cuts its input into M map outputs of R partitions, unsorted, with
// the shuffle's writer. serve prints its listener's address on stdout and
// serves until its stdin ends. fetch fetches every partition of every map
// output, N at a time, verified, and prints the data moved: bytes on the
// wire and uncompressed, seconds, MB/s.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/streaming/remote"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchdirect gen|serve|fetch [FLAG]...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("benchdirect "+os.Args[1], flag.ExitOnError)
	root := fs.String("root", "", "map outputs' root directory")
	maps := fs.Int("maps", 4, "map outputs")
	parts := fs.Int("parts", 4, "partitions")
	compress := fs.String("compress", shuffle.CompressS2, "s2 or none")
	listen := fs.String("listen", ":0", "address to listen on")
	token := fs.String("token", "", "the token, in hex")
	addr := fs.String("addr", "", "the server's address")
	dst := fs.String("dst", "", "directory to fetch into")
	j := fs.Int("j", 4, "fetches at once")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(*root, *maps, *parts, *compress)
	case "serve":
		err = serve(*root, *listen, *token)
	case "fetch":
		err = fetch(*addr, *token, *maps, *parts, *dst, *j)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdirect:", err)
		os.Exit(1)
	}
}

// gen writes stdin as maps map outputs of about equal size; the input's
// size must be known (a file).
func gen(root string, maps, parts int, compress string) error {
	fi, err := os.Stdin.Stat()
	if err != nil {
		return err
	}
	per := fi.Size()/int64(maps) + 1
	for m := 0; m < maps; m++ {
		w, err := shuffle.Create(context.Background(), filepath.Join(root, remote.MapOutputName(m)),
			shuffle.Options{Partitions: parts, Compress: compress})
		if err != nil {
			return err
		}
		if _, err := w.ReadFrom(io.LimitReader(os.Stdin, per)); err != nil {
			return err
		}
		if _, err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

func serve(root, listen, token string) error {
	tok, err := remote.ParseToken(token)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return remote.ServeMapOutputs(ctx, ln, root, tok, os.Stderr)
}

func fetch(addr, token string, maps, parts int, dst string, j int) error {
	tok, err := remote.ParseToken(token)
	if err != nil {
		return err
	}
	f := remote.NewFetcher(tok)
	defer f.Close()
	type job struct{ m, p int }
	jobs := make(chan job)
	var wire, data atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < j; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				info, err := f.Fetch(context.Background(), addr, jb.m, jb.p,
					filepath.Join(dst, fmt.Sprintf("r%d", jb.p), fmt.Sprintf("m%d", jb.m)))
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				wire.Add(info.FileBytes)
				data.Add(info.Bytes)
			}
		}()
	}
	for p := 0; p < parts; p++ {
		for m := 0; m < maps; m++ {
			jobs <- job{m, p}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	s := time.Since(start).Seconds()
	fmt.Printf("%d fetches, %d at once: %.0f MB on the wire (%.0f MB uncompressed) in %.2f s: %.0f MB/s on the wire, %.0f MB/s of data\n",
		maps*parts, j, float64(wire.Load())/1e6, float64(data.Load())/1e6, s,
		float64(wire.Load())/1e6/s, float64(data.Load())/1e6/s)
	return nil
}
