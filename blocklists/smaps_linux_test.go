package blocklists

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// hugePageShare returns the share of the resident memory of the mapping
// that holds p that is backed by transparent huge pages, from
// /proc/self/smaps. adviseHugePages splits its range into a mapping of its
// own, so for a Set's table that is the table (and the filter, when the
// kernel merges their neighbouring mappings).
func hugePageShare(p unsafe.Pointer) (float64, bool) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	addr := uint64(uintptr(p))
	in, found := false, false
	var rss, huge int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && !strings.HasSuffix(fields[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = a <= addr && addr < b
				found = found || in
				continue
			}
		}
		if !in || len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "Rss:":
			rss = kb
		case "AnonHugePages:":
			huge = kb
		}
	}
	if !found || rss == 0 {
		return 0, false
	}
	return float64(huge) / float64(rss), true
}

// thpMode returns the kernel's transparent huge page mode: always,
// madvise or never ("" where it cannot be read).
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	if _, after, ok := bytes.Cut(b, []byte("[")); ok {
		if mode, _, ok := bytes.Cut(after, []byte("]")); ok {
			return string(mode)
		}
	}
	return ""
}

// TestAdviseHugePages checks that memory advised before it is first
// written gets huge pages, where the kernel gives them on request. Without
// them a lookup in a large Set is about 15% slower (docs/performance.md).
func TestAdviseHugePages(t *testing.T) {
	if mode := thpMode(); mode != "always" && mode != "madvise" {
		t.Skipf("transparent huge pages are %q here, not always or madvise", mode)
	}
	w := make([]uint64, 16<<20/8)
	adviseHugePages(w)
	for i := range w {
		w[i] = uint64(i)
	}
	share, ok := hugePageShare(unsafe.Pointer(&w[len(w)/2]))
	if !ok {
		t.Fatal("no mapping in /proc/self/smaps holds the advised memory")
	}
	// Only the whole aligned 2 MiB inside the 16 MiB can be huge pages (7
	// of 8), and a kernel short of free 2 MiB runs may give some 4 KiB
	// pages instead; advice that came too late or not at all gives none.
	if share < 0.25 {
		t.Errorf("%.0f%% of the advised memory is on huge pages, want most of it", 100*share)
	}
}
