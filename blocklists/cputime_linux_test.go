package blocklists

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// threadCPU measures the CPU time of the calling goroutine's thread, which
// on a shared, busy machine is a steadier figure than wall time: it leaves
// out the time the benchmark spent waiting for a core. Call stop once.
func threadCPU(b *testing.B) (stop func() (nsPerOp float64, ok bool)) {
	runtime.LockOSThread()
	start, ok := threadTime()
	return func() (float64, bool) {
		end, ok2 := threadTime()
		runtime.UnlockOSThread()
		if !ok || !ok2 || b.N == 0 {
			return 0, false
		}
		return float64(end-start) / float64(b.N), true
	}
}

func threadTime() (int64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

// processCPU returns the CPU time the process has used, in nanoseconds.
func processCPU() (int64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
