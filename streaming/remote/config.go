package remote

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Config holds mrrun's flags for running a job on hosts.
type Config struct {
	// Hosts is -hosts: logins in GNU parallel's sshlogin syntax.
	Hosts string
	// Hostfile is -hostfile: a file of logins.
	Hostfile string
	// SSH is --ssh: the ssh command and options ("" means ssh).
	SSH string
	// HostTimeout is --host-timeout: how long a host may stay silent
	// before it is lost (0 means 30 seconds).
	HostTimeout time.Duration
	// SharedInput is --shared-input: the hosts read the inputs at the
	// driver's paths themselves (see [Runner].SharedInput).
	SharedInput bool
	// Direct is --shuffle direct: partitions go straight from host to
	// host instead of through the driver.
	Direct bool
}

// Enabled says whether the job runs on hosts.
func (c Config) Enabled() bool { return c.Hosts != "" || c.Hostfile != "" }

// Logins returns the hosts of -hosts followed by those of -hostfile.
func (c Config) Logins() ([]Login, error) {
	var ls []Login
	if c.Hosts != "" {
		l, err := ParseLogins(c.Hosts)
		if err != nil {
			return nil, fmt.Errorf("-hosts: %w", err)
		}
		ls = append(ls, l...)
	}
	if c.Hostfile != "" {
		f, err := os.Open(c.Hostfile)
		if err != nil {
			return nil, fmt.Errorf("-hostfile: %w", err)
		}
		defer f.Close()
		l, err := ReadHostfile(f)
		if err != nil {
			return nil, fmt.Errorf("-hostfile %s: %w", c.Hostfile, err)
		}
		ls = append(ls, l...)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no hosts given")
	}
	return ls, nil
}

// Options returns the hosts' options.
func (c Config) Options() (HostOptions, error) {
	o := HostOptions{Timeout: c.HostTimeout, Direct: c.Direct}
	if c.SSH != "" {
		s, err := ParseSSH(c.SSH)
		if err != nil {
			return o, err
		}
		o.SSH = s
	}
	if c.HostTimeout < 0 {
		return o, fmt.Errorf("--host-timeout must not be negative")
	}
	return o, nil
}

// Dial checks the flags and starts a worker on every host (see Dial);
// warnings about hosts left out go to warn. The caller closes the
// Runner when the job is over, also when it fails or is interrupted.
func (c Config) Dial(ctx context.Context, warn io.Writer) (*Runner, error) {
	ls, err := c.Logins()
	if err != nil {
		return nil, err
	}
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	r, err := Dial(ctx, ls, o, warn)
	if err != nil {
		return nil, err
	}
	r.SharedInput = c.SharedInput
	return r, nil
}
