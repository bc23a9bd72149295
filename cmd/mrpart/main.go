// Command mrpart partitions lines by key into R part files and a manifest,
// the map side of a MapReduce shuffle: Hadoop's HashPartitioner,
// KeyFieldBasedPartitioner or total order, optionally sorted and combined.
// See mrpart --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrpart/app"
)

func main() { os.Exit(app.Main()) }
