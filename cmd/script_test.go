// The testscript harness: every testdata/script/*.txtar runs with each
// mrpipe binary on its PATH (in-process, through RunMain), beside the
// system's sort, uniq, awk and friends, so scripts can check our tools
// against the GNU ones side by side.
package cmd_test

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	mrmap "github.com/mrpipe/mrpipe/cmd/mrmap/app"
	mrmerge "github.com/mrpipe/mrpipe/cmd/mrmerge/app"
	mrpart "github.com/mrpipe/mrpipe/cmd/mrpart/app"
	mrreduce "github.com/mrpipe/mrpipe/cmd/mrreduce/app"
	mrrun "github.com/mrpipe/mrpipe/cmd/mrrun/app"
	mrsort "github.com/mrpipe/mrpipe/cmd/mrsort/app"
	mrsplit "github.com/mrpipe/mrpipe/cmd/mrsplit/app"
)

// commands lists every binary the scripts can call. Each new binary adds
// its app.Main here.
var commands = map[string]func() int{
	"mrsort":   mrsort.Main,
	"mrsplit":  mrsplit.Main,
	"mrmap":    mrmap.Main,
	"mrreduce": mrreduce.Main,
	"mrpart":   mrpart.Main,
	"mrmerge":  mrmerge.Main,
	"mrrun":    mrrun.Main,
}

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, commands))
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../testdata/script",
		Setup: func(env *testscript.Env) error {
			// GNU tools compare bytes, as ours always do.
			env.Setenv("LC_ALL", "C")
			return nil
		},
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}
