// Command mrsplit plans input splits on record boundaries, prints one
// split's records, and cuts input into chunk files or pipes chunks to a
// command in parallel, with GNU split's options. See mrsplit --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrsplit/app"
)

func main() { os.Exit(app.Main()) }
