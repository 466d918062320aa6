//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// procCPU is a whole process's CPU time (all its threads, living and
// exited) in clock ticks, from /proc/PID/stat: in user space and in the
// kernel on its behalf. The split shows where a server's time goes: on
// loopback most of it is the kernel's, sending, receiving and waking.
type procCPU struct {
	User, System int64
}

func (c procCPU) total() int64 { return c.User + c.System }

func (c procCPU) sub(d procCPU) procCPU {
	return procCPU{User: c.User - d.User, System: c.System - d.System}
}

func cpuTicks(pid int) (procCPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procCPU{}, fmt.Errorf("reading cpu time: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads fields 14 (utime) and 15 (stime) of /proc/PID/stat.
// The command name (field 2) is in parentheses and may hold spaces, so the
// fields are counted from the last ')'.
func parseStatCPU(b []byte) (procCPU, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procCPU{}, errors.New("parsing /proc/PID/stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return procCPU{}, fmt.Errorf("parsing /proc/PID/stat: %d fields after the name", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procCPU{}, fmt.Errorf("parsing /proc/PID/stat: %w", err)
	}
	return procCPU{User: ut, System: st}, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: getconf's
// answer, or 100, which it is on every Linux architecture Go supports.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// udpDrops maps the inode of every IPv4 UDP socket bound to port (one per
// SO_REUSEPORT socket) to its kernel drop counter: packets discarded
// because that socket's receive buffer was full.
func udpDrops(port int) (map[uint64]int64, error) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return nil, fmt.Errorf("reading udp sockets: %w", err)
	}
	defer f.Close()
	return parseUDPDrops(f, port)
}

// parseUDPDrops reads /proc/net/udp: "sl local_address rem_address st
// tx_queue:rx_queue tr tm->when retrnsmt uid timeout inode ref pointer
// drops", addresses as hex "0100007F:1F90".
func parseUDPDrops(r io.Reader, port int) (map[uint64]int64, error) {
	sc := bufio.NewScanner(r)
	drops := map[uint64]int64{}
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 13 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		inode, err1 := strconv.ParseUint(f[9], 10, 64)
		d, err2 := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("parsing /proc/net/udp line %q: %w", sc.Text(), err)
		}
		drops[inode] = d
	}
	return drops, sc.Err()
}

// udpCounters are the host-wide UDP counters of /proc/net/snmp that tell
// where packets were lost.
type udpCounters struct {
	InDatagrams  int64 `json:"in_datagrams"`
	RcvbufErrors int64 `json:"rcvbuf_errors"` // dropped: a receive buffer was full
	SndbufErrors int64 `json:"sndbuf_errors"`
	InErrors     int64 `json:"in_errors"`
}

func (a udpCounters) sub(b udpCounters) udpCounters {
	return udpCounters{a.InDatagrams - b.InDatagrams, a.RcvbufErrors - b.RcvbufErrors, a.SndbufErrors - b.SndbufErrors, a.InErrors - b.InErrors}
}

func readUDPCounters() (udpCounters, error) {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return udpCounters{}, fmt.Errorf("reading udp counters: %w", err)
	}
	defer f.Close()
	return parseSNMP(f)
}

// parseSNMP reads the two "Udp:" lines of /proc/net/snmp: names, then
// values.
func parseSNMP(r io.Reader) (udpCounters, error) {
	sc := bufio.NewScanner(r)
	var names []string
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Udp: ")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		vals := strings.Fields(rest)
		if len(vals) != len(names) {
			return udpCounters{}, errors.New("parsing /proc/net/snmp: Udp names and values differ in number")
		}
		var c udpCounters
		for i, n := range names {
			v, err := strconv.ParseInt(vals[i], 10, 64)
			if err != nil {
				return udpCounters{}, fmt.Errorf("parsing /proc/net/snmp Udp %s: %w", n, err)
			}
			switch n {
			case "InDatagrams":
				c.InDatagrams = v
			case "RcvbufErrors":
				c.RcvbufErrors = v
			case "SndbufErrors":
				c.SndbufErrors = v
			case "InErrors":
				c.InErrors = v
			}
		}
		return c, nil
	}
	if err := sc.Err(); err != nil {
		return udpCounters{}, err
	}
	return udpCounters{}, errors.New("parsing /proc/net/snmp: no Udp lines")
}

// hostCPU is the machine-wide CPU time of /proc/stat's "cpu" line, in clock
// ticks summed over all CPUs.
type hostCPU struct {
	Total int64 // every state
	Idle  int64 // idle and iowait
	Tasks int64 // user, nice and system: time charged to processes
	IRQ   int64 // irq and softirq (packet processing not charged to a process)
	Steal int64 // taken by the hypervisor for other guests
}

func readHostCPU() (hostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, fmt.Errorf("reading host cpu time: %w", err)
	}
	return parseHostCPU(b)
}

// parseHostCPU reads "cpu  user nice system idle iowait irq softirq steal
// guest guest_nice". Guest time is already counted in user and nice.
func parseHostCPU(b []byte) (hostCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("parsing /proc/stat: first line %q", line)
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("parsing /proc/stat: %w", err)
		}
		v[i] = n
	}
	var c hostCPU
	for _, n := range v {
		c.Total += n
	}
	c.Tasks = v[0] + v[1] + v[2]
	c.Idle = v[3] + v[4]
	c.IRQ = v[5] + v[6]
	c.Steal = v[7]
	return c, nil
}
