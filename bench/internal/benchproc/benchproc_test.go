//go:build linux

package benchproc

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartStopLogTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	// The child forks a grandchild; Stop must end the whole group.
	p, err := Start("child", log, []string{"BENCHPROC_WORD=ready"}, "/bin/sh", "-c", `echo "$BENCHPROC_WORD"; sleep 60 & wait`)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.LogTail(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("log tail = %q, want the child's output", p.LogTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatal("child reported exited while running")
	}
	pgid := p.Pid()
	p.Stop(2 * time.Second)
	if !p.Exited() || p.Err() == nil {
		t.Errorf("after Stop: exited %v err %v, want exited by a signal", p.Exited(), p.Err())
	}
	// Zombies waiting for a reaper count as gone: only a member still
	// running would be a leak.
	deadline = time.Now().Add(2 * time.Second)
	for running(t, pgid) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of the child's group still run after Stop", running(t, pgid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running counts the processes of group pgid that are not zombies.
func running(t *testing.T, pgid int) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ")".
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			n++
		}
	}
	return n
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("udp %s: %v", addr, err)
	}
	defer u.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tcp %s: %v", addr, err)
	}
	l.Close()
}

func TestParseStatus(t *testing.T) {
	hwm, rss, err := ParseStatus(bytes.NewReader(readTestdata(t, "proc-pid-status.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if hwm != 20684 || rss != 20684 {
		t.Errorf("hwm, rss = %d, %d; want 20684, 20684", hwm, rss)
	}
	if _, _, err := ParseStatus(strings.NewReader("Name:\tx\nVmRSS:\t 12 kB\n")); err == nil {
		t.Error("ParseStatus without VmHWM succeeded")
	}
	if _, _, err := ParseStatus(strings.NewReader("VmHWM:\t lots kB\nVmRSS:\t 12 kB\n")); err == nil {
		t.Error("ParseStatus with a bad VmHWM succeeded")
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
