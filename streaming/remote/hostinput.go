package remote

import (
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

	"github.com/mrpipe/mrpipe/split"
	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
)

// Inputs on hosts (-input HOST:PATH): files already on one of the job's
// hosts, named by the host as given in -hosts (host or user@host) and a
// path there (relative paths start in the remote user's home directory).
// A local name whose part before the first colon is not a host's stays a
// local name.
//
// The driver resolves such inputs on the host, over the host's session
// (the files, their sizes and compression: [Runner.ExpandInputs]), and
// plans their splits like any other. A split of such a file is mapped on
// its host when that host has a free slot, reading the file there; else
// on another host, its records read on the file's host, brought to the
// driver and sent on. The commands see HOST:PATH as map_input_file.

// expandMsg asks a worker to resolve input paths (split.Expand).
type expandMsg struct {
	Paths []string `json:"paths"`
}

// readMsg asks a worker for the records of a split of one of its files.
type readMsg struct {
	Split split.Split `json:"split"`
	Term  byte        `json:"term"`
}

// Names of the files expand and read requests send back.
const (
	expandResult = "inputs.json"
	readResult   = "input"
)

// hostInput returns the host, host name and path of an input named
// HOST:PATH, where HOST is one of the job's ssh hosts.
func (r *Runner) hostInput(in string) (h *Host, name, path string, ok bool) {
	name, path, found := strings.Cut(in, ":")
	if !found || name == "" || path == "" {
		return nil, "", "", false
	}
	for _, h := range r.hosts {
		l := h.Login
		if !l.Local && (l.Host == name || l.User != "" && l.User+"@"+l.Host == name) {
			return h, name, path, true
		}
	}
	return nil, "", "", false
}

// ExpandInputs implements job.InputExpander: inputs on hosts are
// resolved there, the others here.
func (r *Runner) ExpandInputs(ctx context.Context, inputs []string) ([]split.Input, error) {
	var out []split.Input
	for _, in := range inputs {
		h, name, path, ok := r.hostInput(in)
		if !ok {
			files, err := split.Expand([]string{in})
			if err != nil {
				return nil, err
			}
			out = append(out, files...)
			continue
		}
		dir, err := os.MkdirTemp("", "mrpipe-expand-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if _, err := h.request(ctx, msgExpand, expandMsg{Paths: []string{path}}, dir, "", nil); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, expandResult))
		if err != nil {
			return nil, fmt.Errorf("%s: protocol error: %w", name, err)
		}
		var files []split.Input
		if err := json.Unmarshal(b, &files); err != nil {
			return nil, fmt.Errorf("%s: protocol error: %w", name, err)
		}
		for _, f := range files {
			f.Path = name + ":" + f.Path
			out = append(out, f)
		}
	}
	return out, nil
}

// runHostMap runs a map task attempt over a split of a file on host src:
// on src if it has a free slot, else on another host, with the split's
// records fetched from src.
func (r *Runner) runHostMap(ctx context.Context, t *job.MapTask, src *Host, path string) (*job.Result, error) {
	key := "m" + strconv.Itoa(t.Index)
	h := r.acquireHost(src, key)
	if h == nil {
		var err error
		if h, err = r.acquire(ctx, key); err != nil {
			return nil, err
		}
	}
	res, err := r.runHostMapOn(ctx, h, t, src, path)
	r.release(h, key, err, ctx)
	return atHost(h, res, err)
}

// acquireHost takes a slot of h, as acquire does, if h has a free one
// and may run the task (it is not the host of the task's last failed
// attempt, nor runs another attempt of it), or returns nil.
func (r *Runner) acquireHost(h *Host, task string) *Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.excluded[h] || h.Err() != nil || r.busy[h] >= h.Slots() || r.last[task] == h ||
		slices.Contains(r.running[task], h) {
		return nil
	}
	r.busy[h]++
	if r.running == nil {
		r.running = map[string][]*Host{}
	}
	r.running[task] = append(r.running[task], h)
	return h
}

func (r *Runner) runHostMapOn(ctx context.Context, h *Host, t *job.MapTask, src *Host, path string) (*job.Result, error) {
	info := &streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
	if h == src {
		if t.Spec.WorkDir != "" {
			if err := h.sendWork(ctx, t.Spec.WorkDir); err != nil {
				return nil, err
			}
		}
		tc := *t
		tc.Input = info
		return r.sendSharedMap(ctx, h, &tc, path)
	}
	// The records come from src to a file here, then go to h as any
	// split does.
	dir, err := os.MkdirTemp("", "mrpipe-fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sp := t.Split
	sp.Path = path
	if _, err := src.request(ctx, msgRead, readMsg{Split: sp, Term: t.Spec.Proto.Terminator()}, dir, "", nil); err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", t.Split, src.Login.Name(), err)
	}
	fi, err := os.Stat(filepath.Join(dir, readResult))
	if err != nil {
		return nil, fmt.Errorf("reading %s on %s: protocol error: %w", t.Split, src.Login.Name(), err)
	}
	tc := *t
	tc.Input = info
	tc.Split = split.Split{Path: filepath.Join(dir, readResult), Length: fi.Size()}
	return r.runMap(ctx, h, &tc)
}

// expandTask resolves the paths of an expand request on the worker's
// host, as absolute paths, into out.
func expandTask(task json.RawMessage, out string) (*job.Result, error) {
	var m expandMsg
	if err := json.Unmarshal(task, &m); err != nil {
		return nil, err
	}
	files, err := split.Expand(m.Paths)
	if err != nil {
		return nil, err
	}
	for i := range files {
		if files[i].Path, err = filepath.Abs(files[i].Path); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(files)
	if err != nil {
		return nil, err
	}
	return &job.Result{}, os.WriteFile(filepath.Join(out, expandResult), b, 0o600)
}

// readTask writes the records of a split of a file on the worker's host
// into out.
func readTask(ctx context.Context, task json.RawMessage, out string) (*job.Result, error) {
	var m readMsg
	if err := json.Unmarshal(task, &m); err != nil {
		return nil, err
	}
	in, err := split.OpenDelim(m.Split, m.Term)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	f, err := os.OpenFile(filepath.Join(out, readResult), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, ctxReader{ctx, in})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("reading %s", m.Split), err)
	}
	return &job.Result{Bytes: n}, nil
}
