// Command mrmerge is the reduce side of a MapReduce shuffle: it merges
// partition P of several map outputs to standard output, verifying every
// file against its manifest. See mrmerge --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrmerge/app"
)

func main() { os.Exit(app.Main()) }
