package remote

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
)

// Shared inputs (--shared-input): the input files are readable on every
// host at the same paths as on the driver, e.g. an NFS export mounted at
// the same place everywhere. The driver still plans the splits, from its
// own view of the files (their sizes, and for compressed files their
// first bytes), so it must see them too; a map task then tells the
// worker to open its split itself instead of streaming the split's
// records to it. The commands see the input names as the driver does, so
// the output is the same as in local mode.

// mapMsg is the message of a map task.
type mapMsg struct {
	job.MapTask
	// SharedInput says Split.Path is an absolute path the worker opens
	// itself: no input follows the message.
	SharedInput bool `json:"shared_input,omitempty"`
}

// runSharedMap runs a map task attempt on h, which reads the split from
// its own file system.
func (r *Runner) runSharedMap(ctx context.Context, h *Host, t *job.MapTask) (*job.Result, error) {
	abs, err := filepath.Abs(t.Split.Path)
	if err != nil {
		return nil, &streaming.InputError{Err: fmt.Errorf("cannot read: %w", err)}
	}
	return r.sendSharedMap(ctx, h, t, abs)
}

// sendSharedMap sends h a map task whose split h reads from path.
func (r *Runner) sendSharedMap(ctx context.Context, h *Host, t *job.MapTask, path string) (*job.Result, error) {
	msg := mapMsg{MapTask: *t, SharedInput: true}
	if msg.Input == nil {
		msg.Input = &streaming.InputInfo{Name: t.Split.Path, Start: t.Split.Start, Length: t.Split.Length, IsSplit: true}
	}
	msg.Split.Path = path
	m, err := h.request(ctx, msgMap, &msg, t.Dir, t.Log, func(uint32) error { return nil })
	if err != nil {
		return nil, err
	}
	// The map output stays on h, as in runMap.
	if err := h.keptAt(m.Key).write(t.Dir); err != nil {
		return nil, err
	}
	if t.Read != nil {
		t.Read.Add(t.Split.Length)
	}
	return result(m)
}
