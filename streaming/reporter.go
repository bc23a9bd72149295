package streaming

import (
	"bytes"
	"fmt"
	"strconv"
)

// DefaultReporterPrefix is stream.stderr.reporter.prefix's default.
const DefaultReporterPrefix = "reporter:"

// ReportKind says what a stderr line is.
type ReportKind int

const (
	// NotReport is an ordinary stderr line, passed through.
	NotReport ReportKind = iota
	// CounterReport is reporter:counter:GROUP,NAME,AMOUNT.
	CounterReport
	// StatusReport is reporter:status:MESSAGE.
	StatusReport
	// BadReport is a line with the reporter prefix that does not parse; it
	// is passed through with a warning.
	BadReport
)

// Report is a parsed stderr line. Group, Name and Status alias the line.
type Report struct {
	Kind        ReportKind
	Group, Name []byte
	Amount      int64
	Status      []byte
	// Problem says why a BadReport line was refused.
	Problem string
}

// ParseReport parses one stderr line (without its line terminator) as
// Hadoop Streaming does: after prefix, "counter:" followed by exactly three
// comma-separated parts GROUP,NAME,AMOUNT (the part after "counter:" is
// trimmed of surrounding white space; AMOUNT is a signed decimal integer
// with nothing around it), or "status:" followed by a message (trimmed).
// A line with the prefix that is neither, or does not parse, is a
// BadReport. An empty prefix means [DefaultReporterPrefix].
func ParseReport(line []byte, prefix string) Report {
	if prefix == "" {
		prefix = DefaultReporterPrefix
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return Report{}
	}
	rest := line[len(prefix):]
	switch {
	case bytes.HasPrefix(rest, []byte("counter:")):
		rest = bytes.TrimSpace(rest[len("counter:"):])
		g, r1, ok1 := bytes.Cut(rest, []byte{','})
		n, a, ok2 := bytes.Cut(r1, []byte{','})
		if !ok1 || !ok2 || bytes.IndexByte(a, ',') >= 0 {
			return Report{Kind: BadReport, Problem: "cannot parse counter line (want GROUP,NAME,AMOUNT)"}
		}
		amount, err := parseInt(a)
		if err != nil {
			return Report{Kind: BadReport, Problem: fmt.Sprintf("cannot parse counter increment %q", a)}
		}
		return Report{Kind: CounterReport, Group: g, Name: n, Amount: amount}
	case bytes.HasPrefix(rest, []byte("status:")):
		return Report{Kind: StatusReport, Status: bytes.TrimSpace(rest[len("status:"):])}
	}
	return Report{Kind: BadReport, Problem: "cannot parse reporter line (want counter: or status:)"}
}

// parseInt parses a decimal int64 like Java's Long.parseLong: optional
// sign, digits, nothing else.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, strconv.ErrSyntax
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	if i == len(b) {
		return 0, strconv.ErrSyntax
	}
	var n uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, strconv.ErrSyntax
		}
		if n > (1<<63)/10 {
			return 0, strconv.ErrRange
		}
		n = n*10 + uint64(c)
		if n > 1<<63 {
			return 0, strconv.ErrRange
		}
	}
	if neg {
		return -int64(n), nil
	}
	if n > 1<<63-1 {
		return 0, strconv.ErrRange
	}
	return int64(n), nil
}
