//go:build linux

package benchproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MemStatus reads VmHWM (peak RSS) and VmRSS, in KiB, from /proc/PID/status.
func MemStatus(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory status: %w", err)
	}
	defer f.Close()
	return ParseStatus(f)
}

// ParseStatus reads VmHWM and VmRSS (KiB) from the text of /proc/PID/status.
func ParseStatus(r io.Reader) (hwm, rss int64, err error) {
	sc := bufio.NewScanner(r)
	var gotHWM, gotRSS bool
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		kib, err := strconv.ParseInt(strings.Fields(val + " x")[0], 10, 64) // "  12345 kB"
		if err != nil {
			return 0, 0, fmt.Errorf("parsing /proc/PID/status %s: %w", key, err)
		}
		if key == "VmHWM" {
			hwm, gotHWM = kib, true
		} else {
			rss, gotRSS = kib, true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !gotHWM || !gotRSS {
		return 0, 0, errors.New("parsing /proc/PID/status: no VmHWM or VmRSS")
	}
	return hwm, rss, nil
}
