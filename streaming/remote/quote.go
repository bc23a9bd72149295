package remote

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL is returned for an argument that holds a NUL byte: no argument
// vector can carry one (the kernel ends each argument at the first NUL),
// so no command line can pass it through.
var ErrNUL = errors.New("argument contains a NUL byte")

// Quote returns a command line for a POSIX shell (sh, dash, bash, ksh,
// zsh in sh mode) that runs args[0] with the arguments args[1:], each
// passed through exactly as given, byte for byte: spaces, quotes,
// newlines, $, `, \, glob characters, a leading - or ~, empty strings and
// bytes that are not UTF-8 included. This is the only way the package
// builds a command line that a remote shell reads (ssh hands its command
// to the remote user's login shell, which must be a POSIX shell).
//
// A word made only of characters no shell treats specially is left as it
// is; every other word, and shell reserved words, is put in single quotes,
// each single quote inside it written as a quote, a backslash and two
// quotes (close, escaped quote, reopen). An argument holding a NUL byte
// makes Quote fail with ErrNUL.
func Quote(args ...string) (string, error) {
	var b strings.Builder
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("cannot quote argument %d %q: %w", i, a, ErrNUL)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteTo(&b, a)
	}
	return b.String(), nil
}

// MustQuote is Quote for arguments known to hold no NUL byte; it panics
// on one.
func MustQuote(args ...string) string {
	s, err := Quote(args...)
	if err != nil {
		panic(err)
	}
	return s
}

func quoteTo(b *strings.Builder, s string) {
	if bare(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte('\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(`'\''`)
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('\'')
}

// bare reports whether s needs no quotes: it is not empty, not a reserved
// word of any common shell, and made of letters, digits and -_./:,+@%
// only (not =, which would make a first word an assignment, nor ~, ^, #,
// which some shells expand or treat as a comment or pipe).
func bare(s string) bool {
	if s == "" || reserved[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_./:,+@%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields("case do done elif else esac fi for if in then until while " +
		"function select time coproc foreach end repeat nocorrect noglob") {
		reserved[w] = true
	}
}
