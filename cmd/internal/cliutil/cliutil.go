package cliutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// Exit statuses shared by the mrpipe binaries, as the GNU tools use them.
const (
	StatusOK     = 0
	StatusFailed = 1 // a job, command or check failed
	StatusUsage  = 2 // bad usage or unreadable input
)

// ExitError is an error with the exit status the binary should end with.
type ExitError struct {
	Status int
	Err    error
	// Quiet suppresses the message (e.g. sort -C reports only by status).
	Quiet bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err so that [Run] exits with status. A nil err stays nil.
func Exit(status int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Status: status, Err: err}
}

// Silent is an error that makes [Run] exit with status without a message.
func Silent(status int) error {
	return &ExitError{Status: status, Err: errors.New("silent"), Quiet: true}
}

// UsageError reports a bad command line; [Run] adds the "Try --help" line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// Version is printed by --version.
const Version = "mrpipe 0.1.0"

// Run runs app with GNU-style args (args[0] is the program name), writing
// diagnostics to stderr, and returns the exit status. SIGINT and SIGTERM
// cancel the context given to the app; an app that returns because of them
// exits 130 or 143, as a shell reports a process killed by the signal.
func Run(app *cli.App, args []string, stdout, stderr io.Writer) int {
	return RunStyle(app, args, stdout, stderr, Style{})
}

// RunStyle is [Run] with the arguments read as style says.
func RunStyle(app *cli.App, args []string, stdout, stderr io.Writer, style Style) int {
	name := app.Name
	app.HideHelp = true
	app.HideHelpCommand = true
	app.HideVersion = true
	// Our own --help and --version replace urfave/cli's global flags, so
	// that -h and -v stay free for the tools' own options.
	app.Flags = append(app.Flags,
		&cli.BoolFlag{Name: "help", Usage: "show this help and exit", DisableDefaultText: true},
		&cli.BoolFlag{Name: "version", Usage: "print the version and exit", DisableDefaultText: true})
	app.Writer = stdout
	app.ErrWriter = stderr
	app.DisableSliceFlagSeparator = true
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return &UsageError{Msg: err.Error()}
	}
	action := app.Action
	app.Action = func(c *cli.Context) error {
		if c.Bool("help") {
			return cli.ShowAppHelp(c)
		}
		if c.Bool("version") {
			fmt.Fprintf(stdout, "%s (%s)\n", name, Version)
			return nil
		}
		return action(c)
	}

	norm, err := NormalizeStyle(app.Flags, args[1:], style)
	if err != nil {
		return report(name, stderr, err)
	}

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			stop(&signalError{sig: sig})
			// The app cleans up and returns; a second signal, or an app
			// blocked where it cannot see the context, ends it anyway.
			select {
			case <-sigs:
			case <-time.After(GraceAfterSignal):
			case <-done:
				return
			}
			os.Exit(128 + int(sig))
		case <-done:
		}
	}()

	err = app.RunContext(ctx, append([]string{args[0]}, norm...))
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return 128 + int(se.sig)
	}
	if err == nil {
		return StatusOK
	}
	return report(name, stderr, err)
}

// GraceAfterSignal is how long Run waits, after SIGINT or SIGTERM, for the
// app to clean up and return before it exits anyway.
const GraceAfterSignal = 5 * time.Second

type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

// report prints err the way GNU tools do and returns the exit status.
func report(name string, stderr io.Writer, err error) int {
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", name, ue.Msg, name)
		return StatusUsage
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if !ee.Quiet {
			fmt.Fprintf(stderr, "%s: %s\n", name, ee.Err)
		}
		return ee.Status
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, err)
	return StatusUsage
}

// Normalize rewrites GNU-style arguments into the form the flag package
// parses: every option first, each as "-x VALUE" or "--name=VALUE", then
// "--" and the operands in their original order. It expands clusters of
// short options (-nr, -k2,2n, -t,), accepts values attached to short options
// and unambiguous prefixes of long options (--para=2), and keeps everything
// after "--" as operands. A lone "-" is an operand (standard input).
func Normalize(flags []cli.Flag, args []string) ([]string, error) {
	return NormalizeStyle(flags, args, Style{})
}

// Style says how [NormalizeStyle] reads options beyond GNU's rules.
type Style struct {
	// SingleDashLong also accepts long options after a single dash, as
	// Hadoop's tools write them: "-input DIR", "-numReduceTasks=2",
	// "-lazyOutput". Only a long name spelled out in full counts (no
	// prefixes); any other single-dash word is read as short options.
	SingleDashLong bool
}

// NormalizeStyle is [Normalize] with the extensions style asks for.
func NormalizeStyle(flags []cli.Flag, args []string, style Style) ([]string, error) {
	short := map[byte]cli.Flag{}
	long := map[string]cli.Flag{}
	var longNames []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) == 1 {
				short[n[0]] = f
			} else {
				long[n] = f
				longNames = append(longNames, n)
			}
		}
	}
	sort.Strings(longNames)

	var opts, operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"), style.SingleDashLong && isLongWord(long, a):
			dash := "--"
			name, val, hasVal := strings.Cut(a[2:], "=")
			f, full, err := lookupLong(long, longNames, name)
			if !strings.HasPrefix(a, "--") {
				// A single-dash long name, spelled out in full.
				dash = "-"
				name, val, hasVal = strings.Cut(a[1:], "=")
				f, full, err = long[name], name, nil
			}
			if err != nil {
				return nil, err
			}
			if isBool(f) {
				if hasVal {
					return nil, Usagef("option '%s%s' doesn't allow an argument", dash, full)
				}
				opts = append(opts, "--"+full)
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return nil, Usagef("option '%s%s' requires an argument", dash, full)
				}
				i++
				val = args[i]
			}
			opts = append(opts, "--"+full+"="+val)
		case len(a) > 2 && a[0] == '-' && style.SingleDashLong && short[a[1]] == nil:
			name, _, _ := strings.Cut(a[1:], "=")
			return nil, Usagef("unrecognized option '-%s'", name)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				f, ok := short[a[j]]
				if !ok {
					return nil, Usagef("invalid option -- '%c'", a[j])
				}
				if isBool(f) {
					opts = append(opts, "-"+string(a[j]))
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, Usagef("option requires an argument -- '%c'", a[j])
					}
					i++
					val = args[i]
				}
				opts = append(opts, "-"+string(a[j]), val)
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	out := append(opts, "--")
	return append(out, operands...), nil
}

// isLongWord reports whether a is a single dash and a long option's full
// name, with or without "=VALUE".
func isLongWord(long map[string]cli.Flag, a string) bool {
	if len(a) < 3 || a[0] != '-' || a[1] == '-' {
		return false
	}
	name, _, _ := strings.Cut(a[1:], "=")
	_, ok := long[name]
	return ok
}

func lookupLong(long map[string]cli.Flag, names []string, name string) (cli.Flag, string, error) {
	if f, ok := long[name]; ok {
		return f, name, nil
	}
	var match []string
	for _, n := range names {
		if strings.HasPrefix(n, name) {
			match = append(match, n)
		}
	}
	if len(match) == 1 {
		return long[match[0]], match[0], nil
	}
	if len(match) > 1 && name != "" {
		return nil, "", Usagef("option '--%s' is ambiguous; possibilities: '--%s'", name, strings.Join(match, "' '--"))
	}
	return nil, "", Usagef("unrecognized option '--%s'", name)
}

func isBool(f cli.Flag) bool {
	switch f.(type) {
	case *cli.BoolFlag:
		return true
	}
	return false
}

// Strerror spells err's cause as the C library's strerror does ("No such
// file or directory"), without the operation and path of an *os.PathError
// or *os.LinkError, for messages that name the file themselves.
func Strerror(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	s := err.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
