//go:build !linux

package blocklists

import "unsafe"

func hugePageShare(unsafe.Pointer) (float64, bool) { return 0, false }
