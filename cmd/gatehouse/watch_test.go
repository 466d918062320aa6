package main

import (
	"path/filepath"
	"testing"

	"gatehouse/config"
)

// A downloaded list has neither a path nor a directory: following it must
// not watch the working directory, where any change would count as a list
// change.
func TestWatchSet_followSkipsDownloadedLists(t *testing.T) {
	dir := t.TempDir()
	ws, err := newWatchSet("")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.close()
	cfg := &config.Config{Lists: []config.List{
		{Name: "remote", Category: "gambling", URL: "http://127.0.0.1:1/list.txt"},
		{Name: "local", Category: "gambling", Path: filepath.Join(dir, "local.txt")},
	}}
	if errs := ws.follow(cfg); len(errs) != 0 {
		t.Fatalf("follow: %v", errs)
	}
	if len(ws.watching) != 1 || !ws.watching[dir] {
		t.Errorf("watching %v, want only %s", ws.watching, dir)
	}
	if len(ws.listDirs) != 0 {
		t.Errorf("list directories %v, want none", ws.listDirs)
	}
}
