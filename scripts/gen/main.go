// Command gen writes deterministic sample inputs for mrpipe's demos,
// tests and benchmarks: the same -kind, -size and -seed always give the
// same bytes.
//
//	go run ./scripts/gen -kind logs -size 1G > access.log
//
// Kinds:
//
//	logs   nginx "combined" access-log lines; URLs follow a Zipf law, so a
//	       few pages are hot, as on a real site
//	kv     key<TAB>value lines: random lower-case keys, base64-like values
//	words  short word<TAB>1 lines over a Zipf vocabulary (word count input)
//	text   lines of 5-15 space-separated words over the same vocabulary
//	b64    random base64 lines of 60-100 characters (incompressible keys)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	kind := flag.String("kind", "logs", "logs, kv, words, text or b64")
	size := flag.String("size", "64M", "bytes to write, with suffix K, M or G (powers of 1024)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
	g, ok := kinds[*kind]
	if !ok {
		fmt.Fprintf(os.Stderr, "gen: unknown -kind %q\n", *kind)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := generate(w, g, n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad -size %q", s)
	}
	return v * mult, nil
}

// A generator appends one line, with its newline, to b.
type generator func(st *state, b []byte) []byte

var kinds = map[string]generator{
	"logs":  logLine,
	"kv":    kvLine,
	"words": wordLine,
	"text":  textLine,
	"b64":   b64Line,
}

type state struct {
	r     *rand.Rand
	vocab []string
	zw    *rand.Zipf // word ranks
	zu    *rand.Zipf // URL ranks
	t     time.Time
}

// generate writes whole lines until n bytes are written; the last line is
// cut to make the size exact but keeps its newline.
func generate(w *bufio.Writer, g generator, n int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x6d72706970650a))
	st := &state{
		r:  r,
		zw: rand.NewZipf(r, 1.1, 2, 199_999),
		zu: rand.NewZipf(r, 1.2, 4, 99_999),
		t:  time.Date(2026, 3, 1, 6, 25, 0, 0, time.UTC),
	}
	st.vocab = vocabulary(rand.New(rand.NewPCG(seed, 1)), 200_000)
	buf := make([]byte, 0, 1<<16)
	for n > 0 {
		buf = buf[:0]
		for len(buf) < 60_000 {
			buf = g(st, buf)
		}
		if int64(len(buf)) > n {
			buf = buf[:n]
			if n > 0 {
				buf[n-1] = '\n'
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		n -= int64(len(buf))
	}
	return nil
}

// vocabulary makes n distinct pronounceable words, shortest first so that
// the frequent (low-rank) words are short, as in natural text.
func vocabulary(r *rand.Rand, n int) []string {
	const cons, vows = "bcdfghjklmnprstvwz", "aeiou"
	seen := make(map[string]bool, n)
	words := make([]string, 0, n)
	for syl := 1; len(words) < n; syl++ {
		limit := len(words) + min(n-len(words), 5000*syl*syl)
		for tries := 0; len(words) < limit && tries < 20*limit; tries++ {
			var sb strings.Builder
			for i := 0; i < syl; i++ {
				sb.WriteByte(cons[r.IntN(len(cons))])
				sb.WriteByte(vows[r.IntN(len(vows))])
				if r.IntN(3) == 0 {
					sb.WriteByte(cons[r.IntN(len(cons))])
				}
			}
			if w := sb.String(); !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	return words
}

var (
	methods = []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "HEAD"}
	dirs    = []string{"", "blog/", "static/js/", "static/css/", "img/", "api/v1/", "docs/", "talks/"}
	exts    = []string{".html", ".js", ".css", ".png", ".json", ""}
	status  = []string{"200", "200", "200", "200", "200", "200", "200", "304", "304", "404", "301", "500"}
	agents  = []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"curl/8.5.0",
		"Wget/1.21.4",
		"Googlebot/2.1 (+http://www.google.com/bot.html)",
	}
)

func logLine(st *state, b []byte) []byte {
	r := st.r
	for i := 0; i < 4; i++ {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(1+r.IntN(254)), 10)
	}
	b = append(b, " - - ["...)
	st.t = st.t.Add(time.Duration(r.IntN(40)) * time.Millisecond)
	b = st.t.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, methods[r.IntN(len(methods))]...)
	b = append(b, " /"...)
	u := st.zu.Uint64()
	b = append(b, dirs[u%uint64(len(dirs))]...)
	b = strconv.AppendUint(b, u, 10)
	b = append(b, exts[u%uint64(len(exts))]...)
	b = append(b, " HTTP/1.1\" "...)
	b = append(b, status[r.IntN(len(status))]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.IntN(60000)), 10)
	b = append(b, " \"https://example.org/"...)
	b = append(b, dirs[r.IntN(len(dirs))]...)
	b = append(b, "\" \""...)
	b = append(b, agents[r.IntN(len(agents))]...)
	return append(b, "\"\n"...)
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func appendRandom(r *rand.Rand, b []byte, set string, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, set[r.IntN(len(set))])
	}
	return b
}

func kvLine(st *state, b []byte) []byte {
	b = appendRandom(st.r, b, "abcdefghijklmnopqrstuvwxyz", 4+st.r.IntN(20))
	b = append(b, '\t')
	b = appendRandom(st.r, b, b64chars, 10+st.r.IntN(60))
	return append(b, '\n')
}

func wordLine(st *state, b []byte) []byte {
	b = append(b, st.vocab[st.zw.Uint64()]...)
	return append(b, "\t1\n"...)
}

func textLine(st *state, b []byte) []byte {
	n := 5 + st.r.IntN(11)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, st.vocab[st.zw.Uint64()]...)
	}
	return append(b, '\n')
}

func b64Line(st *state, b []byte) []byte {
	b = appendRandom(st.r, b, b64chars, 60+st.r.IntN(41))
	return append(b, '\n')
}
