//go:build linux

package blocklists

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks the kernel to back b with transparent huge pages
// before it is first written, when the system allows it ("madvise" mode).
// Lookups touch random places all over tables of megabytes; with 4 KiB
// pages nearly every probe also misses the TLB, which on a virtual machine
// costs a two-level page walk. It is only a hint: errors are ignored.
func adviseHugePages[E any](b []E) {
	const huge = 2 << 20
	var e E
	size := uintptr(len(b)) * unsafe.Sizeof(e)
	if size < 2*huge {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(b))
	start := uintptr(base)
	// madvise wants a page-aligned start; round in to whole pages.
	const page = 4096
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + size) &^ (page - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo), unix.MADV_HUGEPAGE)
}
