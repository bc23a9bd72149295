package remote

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mrpipe/mrpipe/streaming"
	"github.com/mrpipe/mrpipe/streaming/job"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestSharedInput: with SharedInput the hosts open their splits
// themselves. Each lab host has a /tmp of its own, so the same /tmp path
// names one file on the driver and another, of the same size, on the
// hosts: the output is the hosts' data, and that of a local job over it.
// Streamed, the same job maps the driver's file.
func TestSharedInput(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	dir, err := os.MkdirTemp("/tmp", "mrpipe-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var driverData, hostData bytes.Buffer
	for i := 0; i < 4000; i++ {
		driverData.WriteString("aa bb cc\n")
		hostData.WriteString([]string{"xx yy zz\n", "xx xx xx\n", "it's $(q\n"}[i%3])
	}
	in := filepath.Join(dir, "in put's.txt")
	if err := os.WriteFile(in, driverData.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range lab.Hosts {
		hdir := filepath.Join(lab.HostDir(h), dir) // the host's /tmp is HostDir/tmp
		if err := os.MkdirAll(hdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hdir, filepath.Base(in)), hostData.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hostCopy := filepath.Join(t.TempDir(), "in put's.txt")
	if err := os.WriteFile(hostCopy, hostData.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ls, err := ParseLogins(strings.Join(lab.Hosts, ","))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wc := jobs[0].o
	streamed := runJob(t, in, filepath.Join(t.TempDir(), "streamed"), wc, r, r.Slots())
	local := runJob(t, in, filepath.Join(t.TempDir(), "local"), wc, nil, 2)
	if !maps.Equal(streamed, local) {
		t.Fatalf("streamed input: output differs from the local job's")
	}
	r.SharedInput = true
	shared := runJob(t, in, filepath.Join(t.TempDir(), "shared"), wc, r, r.Slots())
	want := runJob(t, hostCopy, filepath.Join(t.TempDir(), "want"), wc, nil, 2)
	if !maps.Equal(shared, want) {
		t.Errorf("shared input: output\n%v\nwant the hosts' data's\n%v", shared, want)
	}
	for _, h := range r.Hosts() {
		if h.Done.Load() == 0 {
			t.Errorf("%s ran no task", h.Login.Name())
		}
	}

	// A file the hosts do not have: the job fails and says why.
	only := filepath.Join(dir, "driver only.txt")
	if err := os.WriteFile(only, driverData.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	o := wc
	o.Inputs, o.Output, o.Runner, o.Parallel = []string{only}, filepath.Join(t.TempDir(), "fail"), r, r.Slots()
	o.Conf = append(o.Conf, streaming.KV{Key: "mapreduce.map.maxattempts", Value: "2"})
	var stderr bytes.Buffer
	o.Stderr, o.Name, o.Progress = &stderr, "mrrun", job.ProgressOff
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := job.Run(ctx, &o); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a shared input the hosts lack: %v, want an error saying no such file\n%s", err, stderr.String())
	}
}
