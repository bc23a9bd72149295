package extsort

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OutputFile is an output file that appears only when complete: lines are
// written to a temporary file beside it, renamed over it by Commit. A
// failed or interrupted sort leaves the previous file (if any) untouched,
// never a partial one. The path may also be one of the inputs (sort -o F F).
// Paths that are not regular files (a terminal, /dev/null, a FIFO) are
// written in place.
type OutputFile struct {
	*os.File
	path string
	temp bool
}

// CreateOutput opens path for writing as described for OutputFile.
func CreateOutput(path string) (*OutputFile, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
		}
		return &OutputFile{File: f, path: path}, nil
	}
	mode := os.FileMode(0o666)
	if err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
	}
	if err := f.Chmod(mode &^ umask()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
	}
	return &OutputFile{File: f, path: path, temp: true}, nil
}

// Write writes p to the file; errors name the output's path, not that of
// the temporary file.
func (o *OutputFile) Write(p []byte) (int, error) {
	n, err := o.File.Write(p)
	if err != nil {
		err = &os.PathError{Op: "write", Path: o.path, Err: unwrapPath(err)}
	}
	return n, err
}

// Commit makes the output visible under its path.
func (o *OutputFile) Commit() error {
	if err := o.File.Close(); err != nil {
		o.Abort()
		return fmt.Errorf("write failed: %s: %s", o.path, errText(unwrapPath(err)))
	}
	if o.temp {
		if err := os.Rename(o.File.Name(), o.path); err != nil {
			os.Remove(o.File.Name())
			return fmt.Errorf("write failed: %s: %s", o.path, errText(unwrapPath(err)))
		}
	}
	return nil
}

// Abort discards the output.
func (o *OutputFile) Abort() {
	o.File.Close()
	if o.temp {
		os.Remove(o.File.Name())
	}
}

// umask reads the process's file mode mask from /proc (setting it to read
// it would race with other goroutines creating files).
func umask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(m)
				}
			}
		}
	}
	return 0o022
}
