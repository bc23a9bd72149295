package remote

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	hf := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hf, []byte("# lab\n2/h3\n"), 0o644)
	c := Config{Hosts: "h1,u@h2:2222", Hostfile: hf, SSH: "ssh -F 'my cfg'", HostTimeout: 5 * time.Second}
	if !c.Enabled() || (Config{}).Enabled() {
		t.Error("Enabled")
	}
	ls, err := c.Logins()
	if err != nil {
		t.Fatal(err)
	}
	want := []Login{{Host: "h1"}, {User: "u", Host: "h2", Port: 2222}, {Slots: 2, Host: "h3"}}
	if !reflect.DeepEqual(ls, want) {
		t.Errorf("Logins = %+v, want %+v", ls, want)
	}
	o, err := c.Options()
	if err != nil || !reflect.DeepEqual(o.SSH.Command, []string{"ssh", "-F", "my cfg"}) || o.Timeout != 5*time.Second {
		t.Errorf("Options = %+v, %v", o, err)
	}
	for _, bad := range []Config{
		{Hosts: "h1,,-x"},
		{Hostfile: filepath.Join(t.TempDir(), "missing")},
		{Hosts: "h1", SSH: "ssh 'x"},
		{Hosts: "h1", HostTimeout: -1},
	} {
		if _, err := bad.Dial(t.Context(), nil); err == nil {
			t.Errorf("Dial(%+v): no error", bad)
		} else if strings.Contains(err.Error(), "leaving out") {
			t.Errorf("Dial(%+v) tried hosts: %v", bad, err)
		}
	}
}
