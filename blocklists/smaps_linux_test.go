package blocklists

import (
	"bufio"
	"bytes"
	"os"
	"slices"
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
	m, ok := smapsOf(p)
	if !ok || m.rssKiB == 0 {
		return 0, false
	}
	return float64(m.hugeKiB) / float64(m.rssKiB), true
}

// mapping is what /proc/self/smaps says of one mapping.
type mapping struct {
	rssKiB, hugeKiB int64
	advised         bool // VmFlags has hg: madvise(MADV_HUGEPAGE) applies
}

// smapsOf reads /proc/self/smaps for the mapping that holds p.
func smapsOf(p unsafe.Pointer) (mapping, bool) {
	var m mapping
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return m, false
	}
	defer f.Close()
	addr := uint64(uintptr(p))
	in, found := false, false
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
			m.rssKiB = kb
		case "AnonHugePages:":
			m.hugeKiB = kb
		case "VmFlags:":
			m.advised = slices.Contains(fields[1:], "hg")
		}
	}
	return m, found
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
// written is marked for huge pages and gets some, where the kernel gives
// them on request. Without them a lookup in a large Set is about 15%
// slower (docs/performance.md).
func TestAdviseHugePages(t *testing.T) {
	if mode := thpMode(); mode != "always" && mode != "madvise" {
		t.Skipf("transparent huge pages are %q here, not always or madvise", mode)
	}
	w := make([]uint64, 16<<20/8)
	adviseHugePages(w)
	for i := range w {
		w[i] = uint64(i)
	}
	m, ok := smapsOf(unsafe.Pointer(&w[len(w)/2]))
	if !ok || m.rssKiB == 0 {
		t.Fatal("no mapping in /proc/self/smaps holds the advised memory")
	}
	if !m.advised {
		t.Error("the mapping holding the advised memory lacks the hg flag (MADV_HUGEPAGE)")
	}
	// Only the whole aligned 2 MiB inside the 16 MiB can be huge pages (7
	// of 8), and a kernel short of free 2 MiB runs gives 4 KiB pages
	// instead: 12% once, with other test binaries running beside this one.
	// Advice that came too late (after the first write) gives none.
	if m.hugeKiB == 0 {
		t.Errorf("none of the advised memory (%d KiB resident) is on huge pages", m.rssKiB)
	}
	t.Logf("%d of %d KiB on huge pages", m.hugeKiB, m.rssKiB)
}
