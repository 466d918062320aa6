package main

import (
	"os"
	"syscall"
)

// giveToStateDirOwner hands files root just created or touched in the
// state directory to the directory's owner (the service account), so that
// "sudo gatehouse users add" does not leave a database, or its WAL files,
// the server cannot open. It does nothing unless running as root.
func giveToStateDirOwner(dir string, paths ...string) {
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return
	}
	for _, p := range paths {
		os.Lchown(p, int(st.Uid), int(st.Gid)) // missing WAL files are fine
	}
}
