package remote

import (
	"strings"
	"testing"
)

func TestParseLogins(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Login
	}{
		{"h1", []Login{{Host: "h1"}}},
		{"h1,user@h2:2222,4/h3", []Login{{Host: "h1"}, {User: "user", Host: "h2", Port: 2222}, {Slots: 4, Host: "h3"}}},
		{":", []Login{{Local: true}}},
		{"2/:", []Login{{Slots: 2, Local: true}}},
		{" h1 , ,h2,", []Login{{Host: "h1"}, {Host: "h2"}}},
		{"8/root@10.0.0.1:22", []Login{{Slots: 8, User: "root", Host: "10.0.0.1", Port: 22}}},
		{"[::1]", []Login{{Host: "::1"}}},
		{"u@[fe80::1]:2200", []Login{{User: "u", Host: "fe80::1", Port: 2200}}},
		{"host.example.com", []Login{{Host: "host.example.com"}}},
		{"first.last@h", []Login{{User: "first.last", Host: "h"}}},
	} {
		got, err := ParseLogins(c.in)
		if err != nil {
			t.Errorf("ParseLogins(%q): %v", c.in, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("ParseLogins(%q) = %+v, want %+v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("ParseLogins(%q)[%d] = %+v, want %+v", c.in, i, got[i], c.want[i])
			}
			// String gives back what parses to the same login.
			back, err := ParseLogin(got[i].String())
			if err != nil || back != got[i] {
				t.Errorf("ParseLogin(%q) = %+v, %v; want %+v", got[i].String(), back, err, got[i])
			}
		}
	}
}

func TestParseLoginsErrors(t *testing.T) {
	for _, in := range []string{
		"", ",", "0/h", "-1/h", "x/h", "/h", "+2/h",
		"h:", "h:0", "h:65536", "h:x", "h:1:2", "@h", "u@", "4/", "[::1", "[::1]x", "[::1]:",
		"-oProxyCommand=x", "u@-h", "-u@h", "h h", "h;rm", "h$(x)", "h`x`", "h'", "a\nb", "h/x",
	} {
		if got, err := ParseLogins(in); err == nil {
			t.Errorf("ParseLogins(%q) = %+v, want an error", in, got)
		}
	}
}

func TestReadHostfile(t *testing.T) {
	ls, err := ReadHostfile(strings.NewReader("# hosts\n\nh1\n  2/u@h2:2222 \n:,h3\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Login{{Host: "h1"}, {Slots: 2, User: "u", Host: "h2", Port: 2222}, {Local: true}, {Host: "h3"}}
	if len(ls) != len(want) {
		t.Fatalf("got %+v, want %+v", ls, want)
	}
	for i := range ls {
		if ls[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, ls[i], want[i])
		}
	}
	if _, err := ReadHostfile(strings.NewReader("h1\nbad host\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad hostfile: %v, want an error naming line 2", err)
	}
	if _, err := ReadHostfile(strings.NewReader("# nothing\n")); err == nil {
		t.Error("empty hostfile: no error")
	}
}
