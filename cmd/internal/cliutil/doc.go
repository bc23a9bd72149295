// Package cliutil holds what every mrpipe binary shares around
// github.com/urfave/cli/v2: GNU-style command lines (clustered short options
// such as -nrk2,2, attached values such as -t, or -S256M, options after
// operands, unambiguous prefixes of long options), GNU-style diagnostics
// ("mrsort: invalid option -- 'q'") and exit statuses.
//
// A binary builds its *cli.App, then calls [Run], which rewrites the
// arguments with [Normalize] into the form the flag package accepts, runs the
// app and turns the returned error into a message on stderr and an exit
// status. Errors made with [Exit] carry their own status; any other error
// exits with [StatusUsage].
package cliutil
