//go:build !linux

package blocklists

import "testing"

func threadCPU(*testing.B) func() (float64, bool) {
	return func() (float64, bool) { return 0, false }
}

func processCPU() (int64, bool) { return 0, false }
