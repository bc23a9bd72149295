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
// A symbolic link to a regular file is written through: the file it names
// is replaced, the link stays. Other paths (a terminal, /dev/null, a FIFO,
// /dev/stdout and /dev/fd/N whatever they are) are written in place.
type OutputFile struct {
	*os.File
	path   string // as given, for messages
	rename string // what the temporary file replaces: path, or the file its link names
	temp   bool
}

// CreateOutput opens path for writing as described for OutputFile.
func CreateOutput(path string) (*OutputFile, error) {
	name := path // where the temporary file goes and what it replaces
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		// /dev/stdout names whatever standard output is: only a link
		// that leads to a regular file may be replaced through.
		real, rerr := filepath.EvalSymlinks(path)
		var rfi os.FileInfo
		if rerr == nil {
			rfi, rerr = os.Lstat(real)
		}
		if rerr == nil && rfi.Mode().IsRegular() && !strings.HasPrefix(real, "/proc/") && !strings.HasPrefix(real, "/dev/") {
			name, fi = real, rfi
		} else {
			fi, err = os.Stat(path)
			if err != nil || fi.Mode().IsRegular() {
				// A /proc/self/fd link to a file: write it in place.
				return openInPlace(path)
			}
		}
	}
	if err == nil && !fi.Mode().IsRegular() {
		return openInPlace(path)
	}
	mode := os.FileMode(0o666)
	if err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
	}
	if err := f.Chmod(mode &^ umask()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
	}
	return &OutputFile{File: f, path: path, rename: name, temp: true}, nil
}

// openInPlace opens path for writing as it is, truncated.
func openInPlace(path string) (*OutputFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open failed: %s: %s", path, errText(unwrapPath(err)))
	}
	return &OutputFile{File: f, path: path}, nil
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
		if err := os.Rename(o.File.Name(), o.rename); err != nil {
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
