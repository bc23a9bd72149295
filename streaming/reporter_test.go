package streaming

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseReport(t *testing.T) {
	tests := []struct {
		line   string
		prefix string
		kind   ReportKind
		group  string
		name   string
		amount int64
		status string
	}{
		{line: "plain line", kind: NotReport},
		{line: "", kind: NotReport},
		{line: "reporter", kind: NotReport},
		{line: "Reporter:counter:g,c,1", kind: NotReport},
		{line: "reporter:counter:g,c,1", kind: CounterReport, group: "g", name: "c", amount: 1},
		{line: "reporter:counter:My Group,My Counter,-42", kind: CounterReport, group: "My Group", name: "My Counter", amount: -42},
		{line: "reporter:counter:  g,c,7  ", kind: CounterReport, group: "g", name: "c", amount: 7},
		{line: "reporter:counter:g,c,+7", kind: CounterReport, group: "g", name: "c", amount: 7},
		{line: "reporter:counter:g,c,9223372036854775807", kind: CounterReport, group: "g", name: "c", amount: 9223372036854775807},
		{line: "reporter:counter:g,c,-9223372036854775808", kind: CounterReport, group: "g", name: "c", amount: -9223372036854775808},
		{line: "reporter:counter:g,c,1\r", kind: CounterReport, group: "g", name: "c", amount: 1},
		{line: "reporter:counter:,,0", kind: CounterReport, group: "", name: "", amount: 0},
		{line: "reporter:counter:g,c,9223372036854775808", kind: BadReport},
		{line: "reporter:counter:g,c, 1", kind: BadReport},
		{line: "reporter:counter:g,c,1 x", kind: BadReport},
		{line: "reporter:counter:g,c,", kind: BadReport},
		{line: "reporter:counter:g,c,1.5", kind: BadReport},
		{line: "reporter:counter:g,c", kind: BadReport},
		{line: "reporter:counter:g,c,d,1", kind: BadReport},
		{line: "reporter:counter:", kind: BadReport},
		{line: "reporter:status:working hard", kind: StatusReport, status: "working hard"},
		{line: "reporter:status:  padded  ", kind: StatusReport, status: "padded"},
		{line: "reporter:status:", kind: StatusReport, status: ""},
		{line: "reporter:statu:x", kind: BadReport},
		{line: "reporter:", kind: BadReport},
		{line: "reporter:whatever", kind: BadReport},
		{line: "my:counter:g,c,3", prefix: "my:", kind: CounterReport, group: "g", name: "c", amount: 3},
		{line: "reporter:counter:g,c,3", prefix: "my:", kind: NotReport},
	}
	for _, tt := range tests {
		r := ParseReport([]byte(tt.line), tt.prefix)
		if r.Kind != tt.kind {
			t.Errorf("%q: kind %d, want %d (%s)", tt.line, r.Kind, tt.kind, r.Problem)
			continue
		}
		switch r.Kind {
		case CounterReport:
			if string(r.Group) != tt.group || string(r.Name) != tt.name || r.Amount != tt.amount {
				t.Errorf("%q: got %q,%q,%d", tt.line, r.Group, r.Name, r.Amount)
			}
		case StatusReport:
			if string(r.Status) != tt.status {
				t.Errorf("%q: status %q", tt.line, r.Status)
			}
		case BadReport:
			if r.Problem == "" {
				t.Errorf("%q: bad report without a problem", tt.line)
			}
		}
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{"reporter:counter:g,c,1", "reporter:status:x", "reporter:", "x", "reporter:counter:a,b,-0", "reporter:counter: a , b ,1 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		r := ParseReport(line, "")
		if !bytes.Equal(orig, line) {
			t.Fatal("line modified")
		}
		hasPrefix := bytes.HasPrefix(line, []byte(DefaultReporterPrefix))
		if hasPrefix == (r.Kind == NotReport) {
			t.Fatalf("kind %d for %q", r.Kind, line)
		}
		switch r.Kind {
		case CounterReport:
			if bytes.IndexByte(r.Group, ',') >= 0 || bytes.IndexByte(r.Name, ',') >= 0 {
				t.Fatalf("comma in counter name: %q", line)
			}
			// Re-formatting the counter parses back to the same one.
			s := "reporter:counter:" + string(r.Group) + "," + string(r.Name) + "," + itoa(r.Amount)
			r2 := ParseReport([]byte(s), "")
			if strings.TrimSpace(string(r.Group)) == string(r.Group) && strings.TrimSpace(string(r.Name)) == string(r.Name) {
				if r2.Kind != CounterReport || string(r2.Group) != string(r.Group) || string(r2.Name) != string(r.Name) || r2.Amount != r.Amount {
					t.Fatalf("round trip of %q: %+v", line, r2)
				}
			}
		case BadReport:
			if r.Problem == "" {
				t.Fatal("no problem")
			}
		}
	})
}

func itoa(n int64) string {
	var b [24]byte
	return string(appendInt(b[:0], n))
}

func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		u := uint64(-n)
		if n == -n {
			u = 1 << 63
		}
		return appendUint(b, u)
	}
	return appendUint(b, uint64(n))
}

func appendUint(b []byte, u uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}
