package procs

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name        string
		text        string
		idle, total uint64
		cpus        int
		err         string
	}{
		{
			name: "two CPUs, guest fields not counted twice",
			text: "cpu  100 5 50 800 20 1 2 3 40 0\ncpu0 50 2 25 400 10 0 1 1 20 0\ncpu1 50 3 25 400 10 1 1 2 20 0\nintr 12345\nctxt 99\n",
			idle: 820, total: 981, cpus: 2,
		},
		{
			name: "old kernel: only the first four fields",
			text: "cpu 10 0 10 80\ncpu0 10 0 10 80\n",
			idle: 80, total: 100, cpus: 1,
		},
		{name: "empty", text: "", err: "no cpu line"},
		{name: "per-CPU line first", text: "cpu0 1 2 3 4\n", err: "no cpu line"},
		{name: "too few fields", text: "cpu 1 2 3\ncpu0 1 2 3\n", err: "no cpu line"},
		{name: "not a number", text: "cpu 1 2 x 4\ncpu0 1 2 3 4\n", err: "cpu field 3"},
		{name: "negative", text: "cpu 1 2 -3 4\ncpu0 1 2 3 4\n", err: "cpu field 3"},
		{name: "no per-CPU lines", text: "cpu 1 2 3 4\nintr 5\n", err: "no per-CPU lines"},
		{name: "cpufreq-like line is not a CPU", text: "cpu 1 2 3 4\ncpux 1\ncpu0 1 2 3 4\n", idle: 4, total: 10, cpus: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle, total, cpus, err := parseProcStat([]byte(tc.text))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if idle != tc.idle || total != tc.total || cpus != tc.cpus {
				t.Errorf("= idle %d total %d cpus %d, want %d %d %d", idle, total, cpus, tc.idle, tc.total, tc.cpus)
			}
		})
	}
}

// Cores is the idle share of the time that passed between two readings,
// times the CPUs.
func TestSpare_coresBetweenReadings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	write := func(idle, busy int) {
		t.Helper()
		text := "cpu  " + strconv.Itoa(busy) + " 0 0 " + strconv.Itoa(idle) + " 0 0 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\ncpu2 0 0 0 0\ncpu3 0 0 0 0\n"
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1000, 1000)
	s := newSpare(path)
	write(1300, 1100) // 300 idle of 400: 3 of 4 CPUs idle
	if got, ok := s.Cores(); !ok || got != 3 {
		t.Errorf("Cores() = %v, %v; want 3, true", got, ok)
	}
	write(1300, 1500) // nothing idle: a saturated machine
	if got, ok := s.Cores(); !ok || got != 0 {
		t.Errorf("saturated: Cores() = %v, %v; want 0, true", got, ok)
	}
	if _, ok := s.Cores(); ok {
		t.Error("no time passed: Cores() reported a figure")
	}
	os.Remove(path)
	if _, ok := s.Cores(); ok {
		t.Error("unreadable file: Cores() reported a figure")
	}
	write(1400, 1600)
	if _, ok := s.Cores(); ok {
		t.Error("first reading after a failure has nothing to compare with, but reported a figure")
	}
	write(1500, 1600)
	if got, ok := s.Cores(); !ok || got != 4 {
		t.Errorf("after recovery: Cores() = %v, %v; want 4, true", got, ok)
	}
}

// On Linux, the real /proc/stat gives a figure between none and every CPU.
func TestSpare_thisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/stat is Linux's")
	}
	s := NewSpare()
	time.Sleep(50 * time.Millisecond)
	got, ok := s.Cores()
	if !ok {
		t.Fatal("no figure from /proc/stat")
	}
	if got < 0 || got > float64(s.cpus) {
		t.Errorf("Cores() = %v, outside 0..%d", got, s.cpus)
	}
}
