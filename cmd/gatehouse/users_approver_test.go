package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/dashboard/store"
)

func TestUsersCommand_approver(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfg, []byte("version: 1\nstate_dir: "+dir+"\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"), 0o644)
	st, err := store.Open(store.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), "head", store.Viewer, "long enough password", time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"gatehouse", "users"}, args...), &out, &errb)
		return out.String(), err
	}
	approverColumn := func() string {
		out, err := cli("list", "--config", cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "head" {
				return f[2]
			}
		}
		t.Fatalf("head not listed:\n%s", out)
		return ""
	}
	if got := approverColumn(); got != "no" {
		t.Errorf("before: approver %q", got)
	}
	if out, err := cli("approver", "--config", cfg, "head"); err != nil || !strings.Contains(out, "head is now an approver") {
		t.Fatalf("approver: %q %v", out, err)
	}
	if got := approverColumn(); got != "yes" {
		t.Errorf("after: approver %q", got)
	}
	if _, err := cli("approver", "--config", cfg, "--off", "head"); err != nil {
		t.Fatal(err)
	}
	if got := approverColumn(); got != "no" {
		t.Errorf("after --off: approver %q", got)
	}
	if _, err := cli("approver", "--config", cfg, "nobody"); err == nil || !strings.Contains(err.Error(), "no such account") {
		t.Errorf("unknown account: %v", err)
	}
}
