// Command mrrun runs a Hadoop-Streaming-style MapReduce job on this
// machine: map tasks on every core, the shuffle, reduce tasks, and an
// all-or-nothing output directory. See mrrun --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrrun/app"
)

func main() { os.Exit(app.Main()) }
