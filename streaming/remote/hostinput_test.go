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

	"github.com/mrpipe/mrpipe/streaming/job"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
)

// TestHostInputs maps files that only h1 has (in its private /tmp),
// named h1:PATH: h1 maps what its one slot can, h2 the rest with the
// records fetched from h1 through the driver. The output is that of a
// local job over the same files.
func TestHostInputs(t *testing.T) {
	lab := sshlabtest.Start(t, 2)
	src := genInput(t)                                        // three files, odd names among them
	data := filepath.Join(lab.HostDir("h1"), "tmp", "in put") // h1's /tmp/in put
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := ParseLogins("1/h1,2/h2")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Dial(context.Background(), ls, HostOptions{SSH: SSH{Command: lab.SSH()}}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Planning sees the files as they are on the host, modification
	// times included (what --resume compares).
	ins, err := r.ExpandInputs(context.Background(), []string{"h1:/tmp/in put"})
	if err != nil || len(ins) != len(es) {
		t.Fatalf("ExpandInputs: %d files, %v; want %d", len(ins), err, len(es))
	}
	for _, in := range ins {
		name, ok := strings.CutPrefix(in.Path, "h1:/tmp/in put/")
		fi, err := os.Stat(filepath.Join(data, name))
		if !ok || err != nil {
			t.Fatalf("ExpandInputs gave %q (%v)", in.Path, err)
		}
		if in.Size != fi.Size() || in.ModTime != fi.ModTime().UnixNano() {
			t.Errorf("%s: size %d, modified %d; the host has %d, %d", in.Path, in.Size, in.ModTime, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	for _, j := range jobs {
		if j.name == "index" {
			continue // names the input files, which differ
		}
		t.Run(j.name, func(t *testing.T) {
			want := runJob(t, src, filepath.Join(t.TempDir(), "local"), j.o, nil, 2)
			out := filepath.Join(t.TempDir(), "remote")
			got := runJob(t, "h1:/tmp/in put", out, j.o, r, r.Slots())
			if !maps.Equal(got, want) {
				t.Errorf("output differs from the local job's")
			}
			// Every attempt names its host, and h1 maps its own files
			// first: it runs map attempts whenever its slot is free.
			onH1 := 0
			for _, tr := range readReport(t, out).Tasks {
				for _, a := range tr.Attempts {
					if a.Host != "h1" && a.Host != "h2" {
						t.Errorf("_job.json: attempt %s ran on host %q", a.ID, a.Host)
					}
					if tr.Type == "map" && a.Host == "h1" {
						onH1++
					}
				}
			}
			if onH1 == 0 {
				t.Errorf("_job.json: h1 ran no map attempt over its own files")
			}
		})
	}
	for _, h := range r.Hosts() {
		if h.Done.Load() == 0 {
			t.Errorf("%s ran no task", h.Login.Name())
		}
	}

	// A path the host lacks is a usage error, named.
	o := jobs[0].o
	o.Inputs, o.Output, o.Runner = []string{"h1:/tmp/nosuch"}, filepath.Join(t.TempDir(), "fail"), r
	var stderr bytes.Buffer
	o.Stderr, o.Name, o.Progress = &stderr, "mrrun", job.ProgressOff
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := job.Run(ctx, &o); !job.IsConfigError(err) || !strings.Contains(err.Error(), "h1: ") || !strings.Contains(err.Error(), "/tmp/nosuch") {
		t.Errorf("an input the host lacks: %v, want a config error naming h1 and the path", err)
	}
}
