package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// SSH is how the driver reaches hosts: the system's ssh client, so that
// the user's ~/.ssh/config, agent, known_hosts and ControlMaster apply.
// Host keys are checked as ssh is configured to check them; nothing here
// turns that off.
type SSH struct {
	// Command is the ssh command and its options (--ssh); empty means
	// "ssh".
	Command []string
}

// ParseSSH reads an --ssh value such as "ssh -F cfg -i key" into words,
// as a POSIX shell would split it (single and double quotes, backslash),
// without expanding anything.
func ParseSSH(s string) (SSH, error) {
	words, err := splitWords(s)
	if err != nil {
		return SSH{}, fmt.Errorf("--ssh %q: %w", s, err)
	}
	if len(words) == 0 {
		return SSH{}, fmt.Errorf("--ssh: empty command")
	}
	return SSH{Command: words}, nil
}

// Args returns the argument vector that runs the command line quoted
// from remote (see Quote) on l: the ssh command, BatchMode (never ask
// for a password or a host key confirmation), no pseudo-terminal, the
// port and user if l has them, then the host and the command line.
func (s SSH) Args(l Login, remote ...string) ([]string, error) {
	if l.Local {
		return nil, errors.New("the local machine is not reached with ssh")
	}
	line, err := Quote(remote...)
	if err != nil {
		return nil, err
	}
	args := append([]string(nil), s.Command...)
	if len(args) == 0 {
		args = []string{"ssh"}
	}
	args = append(args, "-T", "-o", "BatchMode=yes")
	if l.Port != 0 {
		args = append(args, "-p", strconv.Itoa(l.Port))
	}
	if l.User != "" {
		args = append(args, "-l", l.User)
	}
	return append(args, "--", l.Host, line), nil
}

// Cmd returns a command running remote on l with ssh.
func (s SSH) Cmd(ctx context.Context, l Login, remote ...string) (*exec.Cmd, error) {
	args, err := s.Args(l, remote...)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, args[0], args[1:]...), nil
}

// run runs remote on l with stdin as its input and returns its output; a
// failure reports ssh's or the command's stderr.
func (s SSH) run(ctx context.Context, l Login, stdin io.Reader, remote ...string) ([]byte, error) {
	c, err := s.Cmd(ctx, l, remote...)
	if err != nil {
		return nil, err
	}
	c.Stdin = stdin
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		msg := oneLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("%s: %s", l.Name(), msg)
	}
	return out, nil
}

// Binary is an executable the driver ships to hosts: normally its own.
type Binary struct {
	Path string
	// Sum is the hex SHA-256 of the file; hosts keep the binary under a
	// name holding it, so that another build is never mistaken for this
	// one.
	Sum string
}

var (
	selfOnce sync.Once
	self     Binary
	selfErr  error
)

// Self returns the running executable as a Binary.
func Self() (Binary, error) {
	selfOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			selfErr = err
			return
		}
		self, selfErr = NewBinary(p)
	})
	return self, selfErr
}

// NewBinary checksums the executable at path.
func NewBinary(path string) (Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Binary{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Binary{}, err
	}
	return Binary{Path: path, Sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// probeHead starts probeScript and launchScript: it prints the host's
// `uname -sm` and sets p to the path of the binary with checksum $1 in
// the user's cache directory.
const probeHead = `uname -sm || exit 1
d=${XDG_CACHE_HOME:-$HOME/.cache}/mrpipe
p=$d/mrrun-$1
`

// probeScript prints the host's `uname -sm`, then "have PATH" or "need
// PATH" for the binary with checksum $1 in the user's cache directory.
const probeScript = probeHead + `if [ -x "$p" ]; then echo "have $p"; else echo "need $p"; fi`

// launchScript prints what probeScript prints and, when the host has the
// binary, runs it in the same session with the arguments after $1 (the
// worker's): its output follows the two lines. When the host needs the
// binary it ends after them.
const launchScript = probeHead + `if [ -x "$p" ]; then
	echo "have $p"
	shift
	exec "$p" "$@"
	exit 126
fi
echo "need $p"`

// installScript writes its stdin to the cache directory as the binary
// with checksum $1: into a temporary file first, checked, then renamed,
// so that a host never runs a partly written binary, even with several
// drivers installing at once.
const installScript = `set -e
umask 077
d=${XDG_CACHE_HOME:-$HOME/.cache}/mrpipe
mkdir -p "$d"
p=$d/mrrun-$1
t=$d/.mrrun-$1.$$
trap 'rm -f "$t"' EXIT
cat >"$t"
if command -v sha256sum >/dev/null 2>&1; then
	s=$(sha256sum <"$t")
	s=${s%% *}
	if [ "$s" != "$1" ]; then
		echo "copied binary has checksum $s, not $1" >&2
		exit 1
	fi
fi
chmod 700 "$t"
mv -f "$t" "$p"
trap - EXIT
echo "$p"`

// Install makes sure l has bin in the user's cache directory and returns
// its path there. It copies bin when the host lacks it (a missing or
// other build has another checksum, hence another name) and fails when
// the host's `uname -sm` is not this build's OS and architecture.
// ([Start] probes the host and starts the worker in one session instead
// when the host has bin.)
func (s SSH) Install(ctx context.Context, l Login, bin Binary) (path string, copied bool, err error) {
	path, have, err := s.probe(ctx, l, bin)
	if err != nil || have {
		return path, false, err
	}
	if err := s.copy(ctx, l, bin, path); err != nil {
		return "", false, err
	}
	return path, true, nil
}

// probe runs probeScript on l: it returns the path of bin there and
// whether l has it.
func (s SSH) probe(ctx context.Context, l Login, bin Binary) (path string, have bool, err error) {
	out, err := s.run(ctx, l, nil, "sh", "-c", probeScript, "mrpipe", bin.Sum)
	if err != nil {
		return "", false, fmt.Errorf("cannot probe host: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", false, fmt.Errorf("%s: unexpected answer to the probe: %q", l.Name(), out)
	}
	return probeAnswer(l, lines[0], lines[1], out)
}

// probeAnswer reads the two lines probeScript and launchScript print,
// uname and state (out is all they printed, for errors): the path of the
// binary on l and whether l has it. It fails when l's `uname -sm` is not
// this build's.
func probeAnswer(l Login, uname, state string, out []byte) (path string, have bool, err error) {
	if !unameMatches(runtime.GOOS, runtime.GOARCH, uname) {
		return "", false, fmt.Errorf("%s is %s, this mrrun is built for %s/%s: build one for that host (GOOS, GOARCH)",
			l.Name(), uname, runtime.GOOS, runtime.GOARCH)
	}
	st, path, _ := strings.Cut(state, " ")
	if st != "have" && st != "need" || path == "" {
		return "", false, fmt.Errorf("%s: unexpected answer to the probe: %q", l.Name(), out)
	}
	return path, st == "have", nil
}

// copy copies bin to l, where the probe said it goes to path.
func (s SSH) copy(ctx context.Context, l Login, bin Binary, path string) error {
	f, err := os.Open(bin.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := s.run(ctx, l, f, "sh", "-c", installScript, "mrpipe", bin.Sum)
	if err != nil {
		return fmt.Errorf("cannot copy mrrun: %w", err)
	}
	if got := strings.TrimSpace(string(out)); got != path {
		return fmt.Errorf("%s: copied mrrun to %q, expected %q", l.Name(), got, path)
	}
	return nil
}

// unameMatches reports whether `uname -sm` output names the OS and
// architecture of a Go build.
func unameMatches(goos, goarch, uname string) bool {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return false
	}
	osNames := map[string]string{"linux": "Linux", "darwin": "Darwin", "freebsd": "FreeBSD",
		"openbsd": "OpenBSD", "netbsd": "NetBSD", "dragonfly": "DragonFly", "solaris": "SunOS", "illumos": "SunOS"}
	if osNames[goos] != f[0] {
		return false
	}
	machines := map[string][]string{
		"amd64":   {"x86_64", "amd64"},
		"386":     {"i386", "i486", "i586", "i686", "x86"},
		"arm64":   {"aarch64", "arm64"},
		"arm":     {"armv6l", "armv7l", "armv7", "armv8l", "arm"},
		"riscv64": {"riscv64"},
		"ppc64le": {"ppc64le"},
		"ppc64":   {"ppc64"},
		"s390x":   {"s390x"},
		"mips64":  {"mips64"},
		"loong64": {"loongarch64"},
	}
	for _, m := range machines[goarch] {
		if f[1] == m {
			return true
		}
	}
	return false
}

// splitWords splits s into words as a POSIX shell would, honouring
// quotes and backslashes but expanding nothing.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					w.WriteByte(s[i])
				}
			}
		case c == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			in = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		default:
			in = true
			w.WriteByte(c)
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}
