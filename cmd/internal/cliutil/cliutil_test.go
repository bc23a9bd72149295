package cliutil

import (
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func testFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "input"},
		&cli.StringFlag{Name: "numReduceTasks"},
		&cli.BoolFlag{Name: "lazyOutput"},
		&cli.StringSliceFlag{Name: "D"},
		&cli.StringFlag{Name: "jobs", Aliases: []string{"j"}},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
		&cli.BoolFlag{Name: "n"},
		&cli.StringFlag{Name: "key", Aliases: []string{"k"}},
	}
}

func TestNormalizeGNU(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		err  string
	}{
		{[]string{"-nvk2,2", "f"}, []string{"-n", "-v", "-k", "2,2", "--", "f"}, ""},
		{[]string{"--verb", "--num=3", "x"}, []string{"--verbose", "--numReduceTasks=3", "--", "x"}, ""},
		{[]string{"-j", "4", "--", "-v"}, []string{"-j", "4", "--", "-v"}, ""},
		// Without the style, a single-dash long name is a cluster.
		{[]string{"-input", "x"}, nil, "invalid option -- 'i'"},
		{[]string{"--verbose=1"}, nil, "option '--verbose' doesn't allow an argument"},
	} {
		got, err := Normalize(testFlags(), tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Normalize(%q) error = %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
}

func TestNormalizeSingleDashLong(t *testing.T) {
	style := Style{SingleDashLong: true}
	for _, tc := range []struct {
		args []string
		want []string
		err  string
	}{
		{[]string{"-input", "a", "-input=b", "-numReduceTasks", "2", "-lazyOutput"},
			[]string{"--input=a", "--input=b", "--numReduceTasks=2", "--lazyOutput", "--"}, ""},
		// Short options and GNU long options still work.
		{[]string{"-D", "k=v", "-Dx=y", "-j2", "-v", "--verbose", "--num", "3"},
			[]string{"-D", "k=v", "-D", "x=y", "-j", "2", "-v", "--verbose", "--numReduceTasks=3", "--"}, ""},
		// A single-dash word that is a long name's full spelling is that
		// option; a prefix is not.
		{[]string{"-jobs", "3", "-nv"}, []string{"--jobs=3", "-n", "-v", "--"}, ""},
		{[]string{"-inpt", "3"}, nil, "unrecognized option '-inpt'"},
		{[]string{"-numReduce", "3"}, nil, "invalid option -- 'u'"},
		{[]string{"-lazyOutput=1"}, nil, "option '-lazyOutput' doesn't allow an argument"},
		{[]string{"-input"}, nil, "option '-input' requires an argument"},
		{[]string{"-x"}, nil, "invalid option -- 'x'"},
		{[]string{"-", "op"}, []string{"--", "-", "op"}, ""},
	} {
		got, err := NormalizeStyle(testFlags(), tc.args, style)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("NormalizeStyle(%q) error = %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NormalizeStyle(%q) = %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
}

func TestRunStyle(t *testing.T) {
	var got []string
	app := &cli.App{
		Name:  "tool",
		Flags: []cli.Flag{&cli.StringSliceFlag{Name: "input"}, &cli.BoolFlag{Name: "lazyOutput"}},
		Action: func(c *cli.Context) error {
			got = c.StringSlice("input")
			if !c.Bool("lazyOutput") {
				t.Error("lazyOutput not set")
			}
			return nil
		},
	}
	var stderr strings.Builder
	if st := RunStyle(app, []string{"tool", "-input", "a,b", "-lazyOutput", "-input=c"}, &strings.Builder{}, &stderr, Style{SingleDashLong: true}); st != 0 {
		t.Fatalf("status %d: %s", st, stderr.String())
	}
	if want := []string{"a,b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("input = %q, want %q", got, want)
	}
}
