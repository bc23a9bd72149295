package streaming

import (
	"fmt"
	"strings"
	"testing"
)

// TestPreCombinerFlushed checks what Flushed promises: false while every
// key is still in the table, so that Flush writes each key once; true
// once the table has outgrown its bound and written states out.
func TestPreCombinerFlushed(t *testing.T) {
	for _, name := range []string{"sum", "max", "collect"} {
		b, err := NewBuiltin(name, Protocol{}, BuiltinOptions{}, true)
		if err != nil {
			t.Fatal(err)
		}
		var big strings.Builder
		for i := range 20000 {
			fmt.Fprintf(&big, "key%d\t%d\n", i%5000, i)
		}
		for _, tc := range []struct {
			limit   int
			flushed bool
		}{{64 << 20, false}, {64 << 10, true}} {
			var out strings.Builder
			p := NewPreCombiner(b, tc.limit, func(c []byte) error { out.Write(c); return nil })
			if err := p.Write([]byte(big.String())); err != nil {
				t.Fatal(err)
			}
			if p.Flushed() != tc.flushed {
				t.Errorf("%s, limit %d: Flushed() = %v before Flush", name, tc.limit, p.Flushed())
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			keys := map[string]int{}
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				k, _, _ := strings.Cut(l, "\t")
				keys[k]++
			}
			dups := 0
			for _, n := range keys {
				if n > 1 {
					dups++
				}
			}
			if len(keys) != 5000 || !tc.flushed && dups > 0 {
				t.Errorf("%s, limit %d: %d keys, %d written more than once", name, tc.limit, len(keys), dups)
			}
			p.Release()
		}
	}
}
