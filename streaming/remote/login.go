package remote

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Login is one host of -hosts or -hostfile, in GNU parallel's sshlogin
// syntax:
//
//	[N/][user@]host[:port]     a host reached with ssh, N task slots
//	[N/]:                      the local machine
//
// host may be a name from ~/.ssh/config, an address, or an IPv6 address
// in brackets ([::1]:2222).
type Login struct {
	// Slots is the number of tasks the host runs at once; 0 means as
	// many as it has CPUs.
	Slots int
	// Local is the driver's own machine (":"); the other fields are then
	// empty.
	Local bool
	User  string
	Host  string
	// Port is 0 for ssh's default (or the one in ssh's config).
	Port int
}

// String returns the login in the syntax ParseLogins reads.
func (l Login) String() string {
	var b strings.Builder
	if l.Slots > 0 {
		fmt.Fprintf(&b, "%d/", l.Slots)
	}
	if l.Local {
		b.WriteByte(':')
		return b.String()
	}
	if l.User != "" {
		b.WriteString(l.User + "@")
	}
	h := l.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	b.WriteString(h)
	if l.Port != 0 {
		fmt.Fprintf(&b, ":%d", l.Port)
	}
	return b.String()
}

// Name is the login without its slots: how messages name the host.
func (l Login) Name() string {
	l.Slots = 0
	if l.Local {
		return "local"
	}
	return l.String()
}

// ParseLogins parses a comma-separated list of logins (-hosts). Spaces
// around items are ignored, as are empty items.
func ParseLogins(s string) ([]Login, error) {
	var ls []Login
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		l, err := ParseLogin(item)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no hosts in %q", s)
	}
	return ls, nil
}

// ReadHostfile reads logins from a -hostfile: one or more per line
// (comma-separated), blank lines and lines starting with # ignored.
func ReadHostfile(r io.Reader) ([]Login, error) {
	var ls []Login
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		l, err := ParseLogins(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ls = append(ls, l...)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no hosts")
	}
	return ls, nil
}

// ParseLogin parses one login.
func ParseLogin(s string) (Login, error) {
	var l Login
	orig := s
	bad := func(why string) (Login, error) {
		return Login{}, fmt.Errorf("bad host %q: %s", orig, why)
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 1 || s[:i][0] == '+' {
			return bad("slots before / must be a number ≥ 1")
		}
		l.Slots, s = n, s[i+1:]
	}
	if s == ":" {
		l.Local = true
		return l, nil
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		l.User, s = s[:i], s[i+1:]
		if l.User == "" {
			return bad("empty user before @")
		}
	}
	port := ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return bad("missing ]")
		}
		l.Host, s = s[1:end], s[end+1:]
		if s != "" {
			if s[0] != ':' {
				return bad("expected :port after ]")
			}
			port = s[1:]
		}
	default:
		h, p, ok := strings.Cut(s, ":")
		l.Host = h
		if ok {
			port = p
		}
	}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return bad("port must be a number from 1 to 65535")
		}
		l.Port = n
	}
	if l.Host == "" {
		return bad("empty host name")
	}
	if l.Host[0] == '-' || (l.User != "" && l.User[0] == '-') {
		return bad("a host or user may not start with -")
	}
	for _, c := range l.User + l.Host {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`/@'"\$;&|<>()*?[]{}`+"`", c) {
			return bad(fmt.Sprintf("character %q is not allowed", c))
		}
	}
	return l, nil
}
