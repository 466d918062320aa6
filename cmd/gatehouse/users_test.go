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

func TestReadPasswordLine(t *testing.T) {
	for in, want := range map[string]string{"secret password\n": "secret password", "crlf password\r\nnext\n": "crlf password", "no newline": "no newline"} {
		got, err := readPasswordLine(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("readPasswordLine(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := readPasswordLine(strings.NewReader("\n")); err == nil {
		t.Error("empty password accepted")
	}
}

func TestUsersCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(cfg, []byte("version: 1\nstate_dir: "+dir+"\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"), 0o644)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "users", "list", "--config", cfg}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no accounts; add the first with: gatehouse users add --role admin NAME") {
		t.Errorf("empty list: %q", out.String())
	}
	st, err := store.Open(store.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), "dsl", store.Safeguarding, "long enough password", time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	if err := run(context.Background(), []string{"gatehouse", "users", "list", "--config", cfg}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dsl") || !strings.Contains(out.String(), "safeguarding") || !strings.Contains(out.String(), "never") {
		t.Errorf("list: %q", out.String())
	}
	if err := run(context.Background(), []string{"gatehouse", "users", "add", "--config", cfg, "--role", "root", "x"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("bad role: %v", err)
	}
	if err := run(context.Background(), []string{"gatehouse", "users", "remove", "--config", cfg, "dsl"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"gatehouse", "users", "remove", "--config", cfg, "dsl"}, &out, &errb); err == nil {
		t.Error("removed an account twice")
	}
}
