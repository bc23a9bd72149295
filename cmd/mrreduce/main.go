// Command mrreduce runs a command, or a built-in reducer, as a Hadoop
// Streaming reducer over sorted records. See mrreduce --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrreduce/app"
)

func main() { os.Exit(app.Main()) }
