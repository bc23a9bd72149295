package streaming

import (
	"context"
	"fmt"
	"io"

	"github.com/mrpipe/mrpipe/shuffle"
)

// CommandCombiner returns a shuffle.CombineFunc that runs the command of
// tmpl (a template: Cmd, Task, Stderr, Counters…) as a combiner, once per
// partition over its sorted records, ungrouped, like a reducer. Combine
// input and output records are added to tmpl.Counters.
func CommandCombiner(tmpl *Command, proto Protocol) shuffle.CombineFunc {
	if tmpl.Counters == nil {
		tmpl.Counters = NewCounters()
	}
	return func(ctx context.Context, p int, sorted io.Reader, out io.Writer) error {
		c := *tmpl
		c.Role = Combiner
		c.Task.IsMap = true
		c.InputName = fmt.Sprintf("sorted map output, partition %d", p)
		return RunReducer(ctx, &c, proto, sorted, func(chunk []byte) error {
			_, err := out.Write(chunk)
			return err
		})
	}
}

// BuiltinCombiner returns a shuffle.CombineFunc running the built-in b
// (made with combine set) over each partition. Combine input and output
// records are added to cs.
func BuiltinCombiner(b *Builtin, cs *Counters) shuffle.CombineFunc {
	return func(ctx context.Context, p int, sorted io.Reader, out io.Writer) error {
		return RunBuiltin(ctx, b, sorted, func(chunk []byte) error {
			_, err := out.Write(chunk)
			return err
		}, cs)
	}
}
