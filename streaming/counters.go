package streaming

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// Hadoop's display names for the built-in counters.
const (
	GroupFramework = "Map-Reduce Framework"
	GroupInput     = "File Input Format Counters"
	GroupOutput    = "File Output Format Counters"

	MapInputRecords      = "Map input records"
	MapOutputRecords     = "Map output records"
	MapOutputBytes       = "Map output bytes"
	CombineInputRecords  = "Combine input records"
	CombineOutputRecords = "Combine output records"
	ReduceInputGroups    = "Reduce input groups"
	ReduceInputRecords   = "Reduce input records"
	ReduceOutputRecords  = "Reduce output records"
	SpilledRecords       = "Spilled Records"
	BytesRead            = "Bytes Read"
	BytesWritten         = "Bytes Written"
)

// Counters is a set of named counters in groups, safe for concurrent use.
type Counters struct {
	mu     sync.Mutex
	groups map[string]map[string]int64
	status string
}

// NewCounters returns an empty set.
func NewCounters() *Counters {
	return &Counters{groups: map[string]map[string]int64{}}
}

// Add adds n to counter name of group, creating it if needed.
func (c *Counters) Add(group, name string, n int64) {
	c.mu.Lock()
	c.add(group, name, n)
	c.mu.Unlock()
}

func (c *Counters) add(group, name string, n int64) {
	g := c.groups[group]
	if g == nil {
		g = map[string]int64{}
		c.groups[group] = g
	}
	g[name] += n
}

// addBytes is Add without allocating when the counter exists.
func (c *Counters) addBytes(group, name []byte, n int64) {
	c.mu.Lock()
	if g := c.groups[string(group)]; g != nil {
		if _, ok := g[string(name)]; ok {
			g[string(name)] += n
			c.mu.Unlock()
			return
		}
	}
	c.add(string(group), string(name), n)
	c.mu.Unlock()
}

// Get returns a counter's value.
func (c *Counters) Get(group, name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[group][name]
}

// SetStatus records the last status message.
func (c *Counters) SetStatus(s string) {
	c.mu.Lock()
	c.status = s
	c.mu.Unlock()
}

// Status returns the last status message.
func (c *Counters) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Merge adds every counter of o to c.
func (c *Counters) Merge(o *Counters) {
	if o == c {
		return
	}
	snap := o.Snapshot()
	c.mu.Lock()
	for g, m := range snap {
		for n, v := range m {
			c.add(g, n, v)
		}
	}
	if s := o.Status(); s != "" {
		c.status = s
	}
	c.mu.Unlock()
}

// Snapshot returns a copy of the counters.
func (c *Counters) Snapshot() map[string]map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]int64, len(c.groups))
	for g, m := range c.groups {
		cm := make(map[string]int64, len(m))
		for n, v := range m {
			cm[n] = v
		}
		out[g] = cm
	}
	return out
}

// countersFile is the JSON form written by WriteJSON.
type countersFile struct {
	Counters map[string]map[string]int64 `json:"counters"`
	Status   string                      `json:"status,omitempty"`
}

// WriteJSON writes the counters as {"counters": {GROUP: {NAME: N}},
// "status": MSG}, indented, keys sorted.
func (c *Counters) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(countersFile{Counters: c.Snapshot(), Status: c.Status()}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteJSONFile writes the counters to the file path, replacing it.
func (c *Counters) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	err = c.WriteJSON(f)
	fi, serr := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// No partial file is left to be read as the counters (a device
		// such as /dev/full stays).
		if serr == nil && fi.Mode().IsRegular() {
			os.Remove(path)
		}
		return fmt.Errorf("counters: %w", err)
	}
	return nil
}

// ReadJSON reads counters written by WriteJSON.
func ReadJSON(r io.Reader) (*Counters, error) {
	var f countersFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, err
	}
	c := NewCounters()
	for g, m := range f.Counters {
		for n, v := range m {
			c.add(g, n, v)
		}
	}
	c.status = f.Status
	return c, nil
}

// WriteSummary writes the counters as Hadoop's client prints them: the
// built-in groups first, then the others sorted, each "\tGROUP" followed
// by "\t\tNAME=VALUE" lines.
func (c *Counters) WriteSummary(w io.Writer) error {
	snap := c.Snapshot()
	var names []string
	for g := range snap {
		names = append(names, g)
	}
	rank := func(g string) int {
		switch g {
		case GroupFramework:
			return 0
		case GroupInput:
			return 1
		case GroupOutput:
			return 2
		}
		return 3
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	for _, g := range names {
		if _, err := fmt.Fprintf(w, "\t%s\n", g); err != nil {
			return err
		}
		var cn []string
		for n := range snap[g] {
			cn = append(cn, n)
		}
		sort.Strings(cn)
		for _, n := range cn {
			if _, err := fmt.Fprintf(w, "\t\t%s=%d\n", n, snap[g][n]); err != nil {
				return err
			}
		}
	}
	if s := c.Status(); s != "" {
		if _, err := fmt.Fprintf(w, "\tStatus: %s\n", s); err != nil {
			return err
		}
	}
	return nil
}
