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
	"gatehouse/safeguarding"
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

// With a safeguarding database, account changes made on the command line
// are in its audit chain, naming the operating-system user.
func TestUsersCommand_recordsInSafeguardingAudit(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfg, []byte("version: 1\nstate_dir: "+dir+"\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"), 0o644)
	if err := buildAuditDB(safeguardingDB(dir)); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if err := runWithStdin(stdin, append([]string{"gatehouse", "users"}, args...), &out, &errb); err != nil {
			t.Fatalf("users %v: %v\n%s", args, err, errb.String())
		}
	}
	run("long enough password\n", "add", "--config", cfg, "--role", "viewer", "--approver", "governor")
	run("", "approver", "--config", cfg, "--off", "governor")
	run("", "remove", "--config", cfg, "governor")

	e, err := safeguarding.Open(context.Background(), safeguarding.Config{Path: safeguardingDB(dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, _, err := e.VerifyAudit(context.Background()); err != nil {
		t.Fatalf("chain: %v", err)
	}
	recs, _ := e.AuditLog(context.Background(), 0, 0)
	var got []string
	for _, r := range recs {
		if r.Kind == "account" {
			if !strings.HasPrefix(r.Actor, "os:") {
				t.Errorf("actor %q does not name the OS user", r.Actor)
			}
			got = append(got, r.Subject+" "+string(r.Payload))
		}
	}
	want := []string{
		`account governor {"change":"added (role viewer, approver)"}`,
		`account governor {"change":"approver capability taken away"}`,
		`account governor {"change":"removed"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("account records\n got %q\nwant %q", got, want)
	}
}

// runWithStdin runs the command line with stdin read from text, as a
// technician piping a password in would.
func runWithStdin(text string, args []string, stdout, stderr *bytes.Buffer) error {
	f, err := os.CreateTemp("", "stdin")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	return run(context.Background(), args, stdout, stderr)
}
