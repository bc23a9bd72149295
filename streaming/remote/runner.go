package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mrpipe/mrpipe/shuffle"
	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
)

// MaxHostFailures is the number of failed attempts after which a host
// is excluded for the job.
const MaxHostFailures = 3

// Runner runs a job's tasks on hosts (a job.Runner). A map task's split
// goes to the host through the driver; its output stays there, and only
// its manifest comes back. A reduce task gets its partition of every map
// output relayed by the driver from the host keeping it (or reads it
// where it is, on that host) and sends its output back. A lost host
// loses its running attempts, which the job retries, preferably on
// another host, and its map outputs, which the job makes again when a
// reduce task reports them lost (job.LostMapsError).
type Runner struct {
	// SharedInput makes hosts read their splits themselves, from the
	// same paths as the driver (see shared.go). Set it before the job.
	SharedInput bool

	hosts  []*Host
	warn   io.Writer
	closed atomic.Bool
	// relayed counts the bytes of part files the driver relayed.
	relayed atomic.Int64

	mu       sync.Mutex
	busy     map[*Host]int
	failures map[*Host]int
	excluded map[*Host]bool
	last     map[string]*Host // task → host of its last failed attempt
	changed  chan struct{}    // closed and replaced when a slot frees

	// running holds the hosts of each task's running attempts (made on
	// first use).
	running map[string][]*Host
}

var _ job.Runner = (*Runner)(nil)

// Dial starts a worker on every login, in parallel. Hosts that cannot be
// reached are reported on warn and left out; Dial fails only when none
// can be.
func Dial(ctx context.Context, logins []Login, o HostOptions, warn io.Writer) (*Runner, error) {
	if warn == nil {
		warn = io.Discard
	}
	hosts := make([]*Host, len(logins))
	errs := make([]error, len(logins))
	var wg sync.WaitGroup
	for i, l := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], errs[i] = Start(ctx, l, o)
		}()
	}
	wg.Wait()
	r := &Runner{warn: warn, busy: map[*Host]int{}, failures: map[*Host]int{}, excluded: map[*Host]bool{},
		last: map[string]*Host{}, changed: make(chan struct{})}
	var first error
	for i, h := range hosts {
		if errs[i] != nil {
			fmt.Fprintf(warn, "mrrun: warning: leaving out %s: %v\n", logins[i].Name(), errs[i])
			if first == nil {
				first = errs[i]
			}
			continue
		}
		r.hosts = append(r.hosts, h)
	}
	if len(r.hosts) == 0 {
		return nil, fmt.Errorf("no host can run tasks: %w", first)
	}
	if o.Direct {
		if err := r.startDirect(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	for _, h := range r.hosts {
		go func() {
			<-h.Lost()
			if err := h.Err(); err != nil && !r.closing() {
				fmt.Fprintf(warn, "mrrun: warning: %v\n", err)
			}
			r.signal()
		}()
	}
	return r, nil
}

// startDirect starts the direct shuffle on every host, with a new token
// for the job. A host where it cannot start (or whose address is not
// known) has its partitions relayed, with a warning.
func (r *Runner) startDirect(ctx context.Context) error {
	token, err := NewToken()
	if err != nil {
		return err
	}
	loopback := true
	for _, h := range r.hosts {
		loopback = loopback && h.Login.Local
	}
	errs := make([]error, len(r.hosts))
	var wg sync.WaitGroup
	for i, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.startDirect(ctx, token, loopback)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(r.warn, "mrrun: warning: %s: no direct shuffle, relaying: %v\n", r.hosts[i].Login.Name(), err)
		}
	}
	return ctx.Err()
}

// RelayedBytes returns the bytes of part files the driver relayed from
// one host to another so far.
func (r *Runner) RelayedBytes() int64 { return r.relayed.Load() }

// Hosts returns the hosts that started.
func (r *Runner) Hosts() []*Host { return r.hosts }

// Slots returns the number of tasks all hosts run at once.
func (r *Runner) Slots() int {
	n := 0
	for _, h := range r.hosts {
		n += h.Slots()
	}
	return n
}

func (r *Runner) closing() bool { return r.closed.Load() }

// Close ends every worker; each removes its scratch directory.
func (r *Runner) Close() error {
	r.closed.Store(true)
	var wg sync.WaitGroup
	for _, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Close(30 * time.Second)
		}()
	}
	wg.Wait()
	return nil
}

func (r *Runner) signal() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// acquire picks a host with a free slot, not excluded nor lost,
// avoiding the host of the task's last failed attempt when another has
// room. A backup attempt (speculative execution) waits for another host
// than the task's running attempt's, unless there is none.
func (r *Runner) acquire(ctx context.Context, task string) (*Host, error) {
	return r.acquireNear(ctx, task, nil)
}

// acquireNear is acquire choosing prefer among the least busy hosts.
func (r *Runner) acquireNear(ctx context.Context, task string, prefer *Host) (*Host, error) {
	for {
		r.mu.Lock()
		avoid := r.last[task]
		others := false
		for _, h := range r.hosts {
			others = others || !r.excluded[h] && h.Err() == nil && !slices.Contains(r.running[task], h)
		}
		var pick, fallback *Host
		alive := 0
		for _, h := range r.hosts {
			if r.excluded[h] || h.Err() != nil {
				continue
			}
			alive++
			if r.busy[h] >= h.Slots() || others && slices.Contains(r.running[task], h) {
				continue
			}
			if h == avoid {
				fallback = h
				continue
			}
			if pick == nil || r.busy[h]*pick.Slots() < r.busy[pick]*h.Slots() ||
				h == prefer && r.busy[h]*pick.Slots() == r.busy[pick]*h.Slots() {
				pick = h
			}
		}
		if pick == nil {
			pick = fallback
		}
		if pick != nil {
			r.busy[pick]++
			if r.running == nil {
				r.running = map[string][]*Host{}
			}
			r.running[task] = append(r.running[task], pick)
			r.mu.Unlock()
			return pick, nil
		}
		ch := r.changed
		r.mu.Unlock()
		if alive == 0 {
			return nil, errors.New("no host left to run tasks (all lost or excluded)")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (r *Runner) release(h *Host, task string, err error, ctx context.Context) {
	r.mu.Lock()
	r.busy[h]--
	var lost *job.LostMapsError
	if err != nil && ctx.Err() == nil && !errors.As(err, &lost) {
		r.last[task] = h
		if !errors.Is(err, ErrHostLost) {
			r.failures[h]++
			if r.failures[h] >= MaxHostFailures && !r.excluded[h] {
				r.excluded[h] = true
				fmt.Fprintf(r.warn, "mrrun: warning: %s failed %d attempts; excluded for this job\n", h.Login.Name(), r.failures[h])
			}
		}
	} else if err == nil {
		delete(r.last, task)
		h.Done.Add(1)
	}
	if i := slices.Index(r.running[task], h); i >= 0 {
		r.running[task] = slices.Delete(r.running[task], i, i+1)
		if len(r.running[task]) == 0 {
			delete(r.running, task)
		}
	}
	r.mu.Unlock()
	r.signal()
}

// RunMap runs a map task attempt on a host: the split's records are sent
// to it and its output files come back into t.Dir.
func (r *Runner) RunMap(ctx context.Context, t *job.MapTask) (*job.Result, error) {
	if src, _, path, ok := r.hostInput(t.Split.Path); ok && t.Input == nil {
		return r.runHostMap(ctx, t, src, path)
	}
	key := "m" + strconv.Itoa(t.Index)
	h, err := r.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	res, err := r.runMap(ctx, h, t)
	r.release(h, key, err, ctx)
	return atHost(h, res, err)
}

// atHost names h in the attempt's result or error.
func atHost(h *Host, res *job.Result, err error) (*job.Result, error) {
	if err != nil {
		return nil, &job.HostError{Host: h.Login.Name(), Err: err}
	}
	res.Host = h.Login.Name()
	return res, nil
}

func (r *Runner) runMap(ctx context.Context, h *Host, t *job.MapTask) (*job.Result, error) {
	if t.Spec.WorkDir != "" {
		if err := h.sendWork(ctx, t.Spec.WorkDir); err != nil {
			return nil, err
		}
	}
	if r.SharedInput && t.Input == nil {
		return r.runSharedMap(ctx, h, t)
	}
	in, err := split.OpenDelim(t.Split, t.Spec.Proto.Terminator())
	if err != nil {
		return nil, &streaming.InputError{Err: fmt.Errorf("cannot read: %w", err)}
	}
	defer in.Close()
	msg := *t
	if msg.Input == nil {
		msg.Input = &streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
	}
	m, err := h.request(ctx, msgMap, &msg, t.Dir, t.Log, func(id uint32) error {
		return h.wire.sendReader(id, "input", 0o600, ctxReader{ctx, in}, func(n int) {
			if t.Read != nil {
				t.Read.Add(int64(n))
			}
		})
	})
	if err != nil {
		return nil, err
	}
	if err := h.keptAt(m.Key).write(t.Dir); err != nil {
		return nil, err
	}
	return result(m)
}

// LocationName is the file beside a map output's manifest in the
// driver's map directory that says which host keeps its part files.
const LocationName = "location.json"

// location is where a map output is kept: in the scratch directory of
// a worker, under a key.
type location struct {
	// Host is the host's login name, Scratch the worker's scratch
	// directory (each worker has its own).
	Host    string `json:"host"`
	Scratch string `json:"scratch"`
	Key     string `json:"key"`
}

// keptAt is the location of the map output h keeps under key, or the
// zero location when key is "" (the part files came back).
func (h *Host) keptAt(key string) location {
	if key == "" {
		return location{}
	}
	return location{Host: h.Login.Name(), Scratch: h.Hello.Scratch, Key: key}
}

// write records l in the map output directory dir; the zero location
// (the part files are in dir) writes nothing.
func (l location) write(dir string) error {
	if l.Key == "" {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, LocationName), b, 0o600)
}

// readLocation returns where the part files of the map output in dir
// are kept, or nil when they are in dir.
func readLocation(dir string) (*location, error) {
	b, err := os.ReadFile(filepath.Join(dir, LocationName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l location
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LocationName), err)
	}
	return &l, nil
}

// holder returns the host of this runner that keeps what l locates, or
// nil: a map output of an earlier run of the driver.
func (r *Runner) holder(l *location) *Host {
	for _, h := range r.hosts {
		if h.Login.Name() == l.Host && h.Hello.Scratch == l.Scratch {
			return h
		}
	}
	return nil
}

// RunReduce runs a reduce task attempt on a host: partition p of every
// map output is sent to it (relayed from the host that keeps it, or
// read there when it keeps it, and the manifest from the driver) and its
// output comes back as t.Output. Map outputs kept by lost hosts make a
// *job.LostMapsError.
func (r *Runner) RunReduce(ctx context.Context, t *job.ReduceTask) (*job.Result, error) {
	ins, err := r.reduceInputs(t)
	if err != nil {
		return nil, err
	}
	if err := lostMaps(ins); err != nil {
		return nil, err
	}
	key := "r" + strconv.Itoa(t.Partition)
	h, err := r.acquireNear(ctx, key, nearest(ins))
	if err != nil {
		return nil, err
	}
	res, err := r.runReduce(ctx, h, t, ins)
	if err != nil && h.Err() == nil {
		// A source host lost while relaying loses its map outputs.
		if lerr := lostMaps(ins); lerr != nil {
			err = lerr
		}
	}
	r.release(h, key, err, ctx)
	return atHost(h, res, err)
}

// nearest returns the host keeping the most bytes of the inputs, or nil.
func nearest(ins []reduceInput) *Host {
	bytes := map[*Host]int64{}
	var best *Host
	for _, in := range ins {
		if in.holder == nil {
			continue
		}
		bytes[in.holder] += in.part.Info.FileBytes
		if best == nil || bytes[in.holder] > bytes[best] {
			best = in.holder
		}
	}
	return best
}

// reduceInput is partition p of map output i, as the driver knows it.
type reduceInput struct {
	manifest []byte
	part     *shuffle.Part
	loc      *location // nil: the part file is in the driver's directory
	holder   *Host     // the host keeping it, nil if none of this runner's
}

func (r *Runner) reduceInputs(t *job.ReduceTask) ([]reduceInput, error) {
	ins := make([]reduceInput, len(t.Maps))
	for i, d := range t.Maps {
		in := &ins[i]
		var err error
		if in.part, err = shuffle.FindPart(d, t.Partition); err != nil {
			return nil, err
		}
		if in.manifest, err = os.ReadFile(filepath.Join(d, shuffle.ManifestName)); err != nil {
			return nil, err
		}
		if in.loc, err = readLocation(d); err != nil {
			return nil, err
		}
		if in.loc != nil {
			in.holder = r.holder(in.loc)
		}
	}
	return ins, nil
}

// lostMaps returns a *job.LostMapsError for the inputs kept by hosts that
// are lost (or by none of this runner's), or nil.
func lostMaps(ins []reduceInput) error {
	var lost job.LostMapsError
	for i, in := range ins {
		if in.loc != nil && (in.holder == nil || in.holder.Err() != nil) {
			lost.Maps = append(lost.Maps, i)
			lost.Hosts = append(lost.Hosts, in.loc.Host)
		}
	}
	if len(lost.Maps) == 0 {
		return nil
	}
	return &lost
}

func (r *Runner) runReduce(ctx context.Context, h *Host, t *job.ReduceTask, ins []reduceInput) (*job.Result, error) {
	if t.Spec.WorkDir != "" {
		if err := h.sendWork(ctx, t.Spec.WorkDir); err != nil {
			return nil, err
		}
	}
	msg := reduceMsg{ReduceTask: t}
	direct := make([]bool, len(ins))
	for i, in := range ins {
		switch {
		case in.holder == nil:
		case in.holder == h:
			msg.Local = append(msg.Local, localPart{Map: i, Key: in.loc.Key, File: in.part.Info.File})
		case h.Direct && in.holder.DirectAddr != "":
			if n, ok := mapOutputNumber(in.loc.Key); ok {
				msg.Direct = append(msg.Direct, directPart{Map: i, Addr: in.holder.DirectAddr, Output: n})
				direct[i] = true
			}
		}
	}
	m, err := h.request(ctx, msgReduce, msg, filepath.Dir(t.Output), t.Log, func(id uint32) error {
		for i, in := range ins {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			sub := "m" + strconv.Itoa(i) + "/"
			if err := h.wire.sendReader(id, sub+shuffle.ManifestName, 0o600, bytes.NewReader(in.manifest), nil); err != nil {
				return err
			}
			switch {
			case in.loc == nil:
				if _, err := os.Stat(in.part.Path); err == nil {
					if err := h.wire.sendFile(id, sub+filepath.Base(in.part.Path), in.part.Path, nil); err != nil {
						return err
					}
				}
			case in.holder != h && !direct[i]:
				file := in.part.Info.File
				if err := in.holder.fetch(ctx, in.loc.Key, file, h.wire, id, sub+file); err != nil {
					return fmt.Errorf("map output %d: %w", i, err)
				}
				r.relayed.Add(in.part.Info.FileBytes)
			}
		}
		return nil
	})
	if err != nil && len(m.Lost) > 0 {
		// Partitions the worker could not fetch straight from their
		// hosts, or that were bad there: those map outputs are lost.
		lost := &job.LostMapsError{Bad: m.LostBad}
		for _, i := range m.Lost {
			if i >= 0 && i < len(ins) && ins[i].loc == nil && m.LostBad {
				// A partition the driver sent from its own copy was bad:
				// not a map output kept on a host; the attempt fails.
				return nil, fmt.Errorf("map output %d: %w", i, err)
			}
			if i < 0 || i >= len(ins) || ins[i].loc == nil {
				return nil, fmt.Errorf("protocol error: lost map %d: %w", i, err)
			}
			lost.Maps = append(lost.Maps, i)
			lost.Hosts = append(lost.Hosts, ins[i].loc.Host)
		}
		return nil, fmt.Errorf("%w: %v", lost, err)
	}
	if err != nil {
		return nil, err
	}
	return result(m)
}

// mapOutputNumber returns n for the key MapOutputName(n) a worker gives
// its map outputs.
func mapOutputNumber(key string) (int, bool) {
	s, ok := strings.CutPrefix(key, "map-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= MaxMaps || MapOutputName(n) != key {
		return 0, false
	}
	return n, true
}

func result(m resultMsg) (*job.Result, error) {
	res := &job.Result{Bytes: m.Bytes, Counters: streaming.NewCounters()}
	if len(m.Counters) > 0 {
		cs, err := streaming.ReadJSON(bytes.NewReader(m.Counters))
		if err != nil {
			return nil, fmt.Errorf("protocol error: counters: %w", err)
		}
		res.Counters = cs
	}
	return res, nil
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
