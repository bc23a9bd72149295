package streaming

import (
	"bytes"
	"context"
	"io"
)

// RunMapper runs c as a mapper over the records of in, giving batches of
// its output records to out, and adds Hadoop's map counters (Map input
// records, Map output records and bytes, Bytes Read) to c.Counters.
func RunMapper(ctx context.Context, c *Command, in io.Reader, out func(chunk []byte) error) error {
	c.Role = Mapper
	c.Task.IsMap = true
	if c.Counters == nil {
		c.Counters = NewCounters()
	}
	st, err := c.Run(ctx, in, out, nil)
	cs := c.Counters
	cs.Add(GroupFramework, MapInputRecords, st.InRecords)
	cs.Add(GroupFramework, MapOutputRecords, st.OutRecords)
	cs.Add(GroupFramework, MapOutputBytes, st.OutBytes)
	cs.Add(GroupInput, BytesRead, st.InBytes)
	return err
}

// groupCounter counts runs of equal keys across batches of records.
type groupCounter struct {
	proto  Protocol
	key    []byte
	any    bool
	groups int64
}

func (g *groupCounter) chunk(chunk []byte) {
	term := g.proto.Terminator()
	var last []byte
	_ = Lines(chunk, term, func(line []byte) error {
		k, _, _ := g.proto.Split(line)
		if last == nil {
			if !g.any || !bytes.Equal(k, g.key) {
				g.groups++
			}
		} else if !bytes.Equal(k, last) {
			g.groups++
		}
		last = k
		return nil
	})
	if last != nil {
		g.key = append(g.key[:0], last...)
		g.any = true
	}
}

// RunReducer runs c as a reducer (or, with c.Role Combiner, a combiner)
// once over all the sorted records of in, ungrouped, as Hadoop Streaming
// does, and adds the reduce (or combine) counters to c.Counters: Reduce
// input groups (runs of equal keys as cut by proto), Reduce input records,
// Reduce output records, Bytes Written.
func RunReducer(ctx context.Context, c *Command, proto Protocol, in io.Reader, out func(chunk []byte) error) error {
	if c.Role != Combiner {
		c.Role = Reducer
		c.Task.IsMap = false
	}
	if c.Counters == nil {
		c.Counters = NewCounters()
	}
	gc := &groupCounter{proto: proto}
	st, err := c.Run(ctx, in, out, gc.chunk)
	addReduceCounters(c.Counters, c.Role == Combiner, ReduceStats{
		InRecords: st.InRecords, InGroups: gc.groups, OutRecords: st.OutRecords, OutBytes: st.OutBytes,
	})
	return err
}

// RunBuiltin runs the built-in b over the sorted records of in and adds
// its counters (reduce or combine ones) to cs.
func RunBuiltin(ctx context.Context, b *Builtin, in io.Reader, out func(chunk []byte) error, cs *Counters) error {
	st, err := b.Run(ctx, in, out)
	if cs != nil {
		addReduceCounters(cs, b.Combine, st)
	}
	return err
}

func addReduceCounters(cs *Counters, combine bool, st ReduceStats) {
	if combine {
		cs.Add(GroupFramework, CombineInputRecords, st.InRecords)
		cs.Add(GroupFramework, CombineOutputRecords, st.OutRecords)
		return
	}
	cs.Add(GroupFramework, ReduceInputGroups, st.InGroups)
	cs.Add(GroupFramework, ReduceInputRecords, st.InRecords)
	cs.Add(GroupFramework, ReduceOutputRecords, st.OutRecords)
	cs.Add(GroupOutput, BytesWritten, st.OutBytes)
}
