package procs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Spare measures the CPU the whole machine leaves idle, from the kernel's
// counters in /proc/stat (Linux). Background work that must never slow
// DNS, such as the query log's writer, asks it how much it may take: all
// of what is idle, which under a flood that saturates the machine is
// nothing.
//
// It counts every CPU of the machine, not the process's cgroup quota; the
// appliance runs on its own Pi or VM. Safe for concurrent use.
type Spare struct {
	path string

	mu          sync.Mutex
	idle, total uint64 // at the last reading
	cpus        int
	ok          bool // the last reading worked
}

// NewSpare starts measuring from now.
func NewSpare() *Spare { return newSpare("/proc/stat") }

func newSpare(path string) *Spare {
	s := &Spare{path: path}
	s.idle, s.total, s.cpus, s.ok = s.read()
	return s
}

// Cores returns how many cores, on average, were idle since the previous
// call (or since NewSpare), and false when that is unknown: not Linux, an
// unreadable /proc/stat, or no time passed.
func (s *Spare) Cores() (float64, bool) {
	idle, total, cpus, ok := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	prevIdle, prevTotal, prevOK := s.idle, s.total, s.ok
	s.idle, s.total, s.cpus, s.ok = idle, total, cpus, ok
	if !ok || !prevOK || total <= prevTotal || idle < prevIdle {
		return 0, false
	}
	return float64(idle-prevIdle) / float64(total-prevTotal) * float64(cpus), true
}

func (s *Spare) read() (idle, total uint64, cpus int, ok bool) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return 0, 0, 0, false
	}
	idle, total, cpus, err = parseProcStat(b)
	return idle, total, cpus, err == nil
}

// parseProcStat returns the machine's idle and total CPU time (in the
// kernel's ticks; only their ratio is used) and its number of CPUs, from
// the text of /proc/stat: the first line, "cpu  user nice system idle
// iowait irq softirq steal ...", sums every CPU; one "cpuN" line follows
// per CPU. Idle counts iowait too: a CPU waiting for the disk is free to
// run something else. guest and guest_nice are already inside user and
// nice, so they are not added again.
func parseProcStat(b []byte) (idle, total uint64, cpus int, err error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, 0, errors.New("/proc/stat: no cpu line first")
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest, guest_nice
			break
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) > 3 && string(line[:3]) == "cpu" && line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	if cpus == 0 {
		return 0, 0, 0, errors.New("/proc/stat: no per-CPU lines")
	}
	return idle, total, cpus, nil
}
