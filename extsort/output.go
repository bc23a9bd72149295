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
	if fdLink(path) {
		// /dev/stdout, /dev/fd/N: an open descriptor, whatever it is,
		// written in place (and truncated, as sort -o does).
		return openInPlace(path)
	}
	name := path // where the temporary file goes and what it replaces
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		real, rerr := filepath.EvalSymlinks(path)
		if rerr != nil {
			// A link to nothing yet: create what it names.
			return openInPlace(path)
		}
		name = real
	}
	fi, err = os.Stat(name)
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

// fdLink reports whether path names an open file descriptor: a name in a
// /proc/PID/fd directory (/dev/fd is a link to /proc/self/fd), or a link
// that leads through one (/dev/stdout is a link to /proc/self/fd/1).
func fdLink(path string) bool {
	p := path
	for range 40 { // as the kernel, give up on long chains
		abs, err := filepath.Abs(p)
		if err != nil {
			return false
		}
		dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
		if err != nil {
			return false
		}
		if strings.HasPrefix(dir, "/proc/") && filepath.Base(dir) == "fd" {
			return true
		}
		full := filepath.Join(dir, filepath.Base(abs))
		t, err := os.Readlink(full)
		if err != nil {
			return false // not a link: the end of the chain
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(dir, t)
		}
		p = t
	}
	return false
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
