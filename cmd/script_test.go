// The testscript harness: every testdata/script/*.txtar runs with each
// mrpipe binary on its PATH (in-process, through RunMain), beside the
// system's sort, uniq, awk and friends, so scripts can check our tools
// against the GNU ones side by side.
//
// Scripts that name the condition sshlab ([sshlab], [!sshlab]) get the
// SSH lab (scripts/sshlab.sh, through package sshlabtest): three hosts
// started once for the whole test binary, when the first such script
// begins, and removed when the last script has ended. They see $HOSTS
// (h1,h2,h3), $SSH (the ssh command with the lab's config, for --ssh) and
// $SSHLAB_CONFIG (for exec ssh -F). [sshlab] is false where the lab cannot
// run (not root, no sshd), so such scripts start with
// [!sshlab] skip 'needs root and sshd'.
package cmd_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	mrmap "github.com/mrpipe/mrpipe/cmd/mrmap/app"
	mrmerge "github.com/mrpipe/mrpipe/cmd/mrmerge/app"
	mrpart "github.com/mrpipe/mrpipe/cmd/mrpart/app"
	mrreduce "github.com/mrpipe/mrpipe/cmd/mrreduce/app"
	mrrun "github.com/mrpipe/mrpipe/cmd/mrrun/app"
	mrsort "github.com/mrpipe/mrpipe/cmd/mrsort/app"
	mrsplit "github.com/mrpipe/mrpipe/cmd/mrsplit/app"
	"github.com/mrpipe/mrpipe/streaming/remote"
	"github.com/mrpipe/mrpipe/streaming/remote/sshlabtest"
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
	// mrrun -hosts ships its own executable, this test binary, to the
	// hosts and runs it there as "BINARY worker".
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(remote.WorkerMain(os.Args[2:]))
	}
	os.Exit(testscript.RunMain(m, commands))
}

const scriptDir = "../testdata/script"

func TestScripts(t *testing.T) {
	lab := &scriptLab{t: t}
	testscript.Run(t, testscript.Params{
		Dir: scriptDir,
		Setup: func(env *testscript.Env) error {
			// GNU tools compare bytes, as ours always do.
			env.Setenv("LC_ALL", "C")
			return lab.setup(env)
		},
		Condition: func(cond string) (bool, error) {
			if cond == "sshlab" {
				why := labMissing()
				if why != "" && sshlabtest.Required() {
					return false, fmt.Errorf("the SSH lab is required (%s is set), but %s", sshlabtest.RequireEnv, why)
				}
				return why == "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

var labMissing = sync.OnceValue(sshlabtest.Missing)

// scriptLab is the SSH lab the scripts share.
type scriptLab struct {
	t    *testing.T // TestScripts: the lab is removed when it ends
	once sync.Once
	lab  *sshlabtest.Lab
	err  error
}

// setup gives a script that names the sshlab condition the lab's
// variables, starting the lab if it is the first.
func (s *scriptLab) setup(env *testscript.Env) error {
	name := strings.TrimPrefix(filepath.Base(env.WorkDir), "script-")
	src, err := os.ReadFile(filepath.Join(scriptDir, name+".txtar"))
	if err != nil {
		return err
	}
	if !bytes.Contains(src, []byte("sshlab]")) || labMissing() != "" {
		return nil
	}
	lab, err := s.get()
	if err != nil {
		return fmt.Errorf("sshlab: %v", err)
	}
	env.Setenv("HOSTS", strings.Join(lab.Hosts, ","))
	env.Setenv("SSH", "ssh -F "+lab.Config)
	env.Setenv("SSHLAB_CONFIG", lab.Config)
	return nil
}

// get starts the lab once. Its cleanups belong to TestScripts, whose
// scripts (parallel subtests) have all ended when they run; a failure to
// start is returned to every script that needs the lab.
func (s *scriptLab) get() (*sshlabtest.Lab, error) {
	s.once.Do(func() {
		tb := &labTB{TB: s.t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.lab = sshlabtest.Start(tb, 3)
		}()
		<-done
		if s.lab == nil {
			s.err = errors.New(tb.msg)
		}
	})
	return s.lab, s.err
}

// labTB is TestScripts' testing.TB for sshlabtest.Start, which runs on a
// goroutine of its own: Fatal and Skip end that goroutine with a message
// instead of the test (a parent test cannot be failed from a subtest).
type labTB struct {
	testing.TB
	msg string
}

func (t *labTB) Helper()                   {}
func (t *labTB) Fatal(a ...any)            { t.stop(fmt.Sprint(a...)) }
func (t *labTB) Fatalf(f string, a ...any) { t.stop(fmt.Sprintf(f, a...)) }
func (t *labTB) FailNow()                  { t.stop("failed") }
func (t *labTB) Skip(a ...any)             { t.stop(fmt.Sprint(a...)) }
func (t *labTB) Skipf(f string, a ...any)  { t.stop(fmt.Sprintf(f, a...)) }
func (t *labTB) SkipNow()                  { t.stop("skipped") }
func (t *labTB) stop(msg string)           { t.msg = msg; runtime.Goexit() }
