// Command mrsort sorts lines of text files, like GNU sort under LC_ALL=C,
// with an external merge sort that uses every core and a fixed memory
// budget. See mrsort --help.
package main

import (
	"os"

	"github.com/mrpipe/mrpipe/cmd/mrsort/app"
)

func main() { os.Exit(app.Main()) }
