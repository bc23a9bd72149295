// Command mrmap runs a command as a Hadoop Streaming mapper over records:
// Hadoop's environment, counters and status from reporter lines on
// stderr, record counts and one clear report when the command fails. See
// mrmap --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrmap/app"
)

func main() { os.Exit(app.Main()) }
