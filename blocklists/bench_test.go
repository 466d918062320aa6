package blocklists

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// Benchmarks over synthetic lists of 1M and 5M names in 20 categories
// (see synth_test.go; BenchmarkMatch adds a 10k-name Set that stays in
// the cache). The list files are generated once per size and
// process, in a directory TestMain removes.
//
//	go test ./blocklists -run '^$' -bench . -benchtime 3x -count 5
//
// BenchmarkBuild reports, besides ns/op:
//
//	names/s         listed names (file lines with a name) compiled per second
//	names/cpu-s     the same per second of CPU time of the whole process
//	                (garbage collection included), steadier on a busy machine
//	heap-B/name     live heap added by the Set, per distinct name, after GC
//	rss-B/name      resident memory added by the Set, per distinct name, after GC
//	                and returning free memory to the OS (debug.FreeOSMemory)
//	peak-MiB        peak resident memory during a build above the baseline
//	                (VmHWM), i.e. the Set plus everything transient
//	huge-%          share of the resident memory of the table's mapping on
//	                transparent huge pages (Linux; see adviseHugePages)
//
// BenchmarkMatch reports cpu-ns/op next to ns/op: the CPU time of the
// benchmark's thread per lookup, which leaves out time spent waiting for a
// core on a busy machine.

var benchSizes = []int{1_000_000, 5_000_000}

// benchSink keeps the last Set built alive, as the Set in use is during a
// reload.
var benchSink *Set

var (
	benchMu    sync.Mutex
	benchDir   string
	benchSpecs = map[int][]ListSpec{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchLists(b *testing.B, n int) []ListSpec {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if specs, ok := benchSpecs[n]; ok {
		return specs
	}
	if benchDir == "" {
		d, err := os.MkdirTemp("", "blocklists-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	dir := fmt.Sprintf("%s/%d", benchDir, n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	specs := synthLists(b, dir, n, 20)
	benchSpecs[n] = specs
	return specs
}

func buildAll(b *testing.B, specs []ListSpec) *Set {
	bl := NewBuilder(nil)
	for _, spec := range specs {
		if _, err := bl.Add(spec); err != nil {
			b.Fatal(err)
		}
	}
	s, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// procStatus returns VmRSS and VmHWM in bytes.
func procStatus() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &rss
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &hwm
		default:
			continue
		}
		fields := bytes.Fields(line)
		if len(fields) >= 2 {
			kb, _ := strconv.ParseInt(string(fields[1]), 10, 64)
			*dst = kb << 10
		}
	}
	return rss, hwm
}

// settle collects garbage and returns free memory to the OS, so that heap
// and RSS readings show live data only.
func settle() (heap uint64, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _ = procStatus()
	return ms.HeapAlloc, rss
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("names=%dM", n/1_000_000), func(b *testing.B) {
			specs := benchLists(b, n)
			b.ReportAllocs()
			// As in a reload, the previous Set stays alive during a build.
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				benchSink = buildAll(b, specs)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "names/s")
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64(n)*float64(b.N)/(float64(cpu1-cpu0)/1e9), "names/cpu-s")
			}

			// Memory of one build from a settled heap, outside the timing.
			benchSink = nil
			heap0, rss0 := settle()
			// Reset the peak-RSS mark (Linux clear_refs "5").
			hwmOK := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
			s := buildAll(b, specs)
			_, hwm := procStatus()
			heap1, rss1 := settle()
			distinct := float64(s.Len())
			b.ReportMetric(float64(int64(heap1)-int64(heap0))/distinct, "heap-B/name")
			b.ReportMetric(float64(rss1-rss0)/distinct, "rss-B/name")
			if hwmOK {
				b.ReportMetric(float64(hwm-rss0)/(1<<20), "peak-MiB")
			}
			if share, ok := hugePageShare(unsafe.Pointer(&s.buckets[len(s.buckets)/2])); ok {
				b.ReportMetric(100*share, "huge-%")
			}
			runtime.KeepAlive(s)
		})
	}
}

// BenchmarkRebuild is a reload after one of the 20 lists changed: the
// other 19 are digested, found unchanged and carried over from the
// previous Set's table; only the changed one is parsed.
func BenchmarkRebuild(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("names=%dM/1-of-20-changed", n/1_000_000), func(b *testing.B) {
			specs := benchLists(b, n)
			prev := buildAll(b, specs)
			orig, err := os.ReadFile(specs[3].Sources[0].Name)
			if err != nil {
				b.Fatal(err)
			}
			changed := filepath.Join(b.TempDir(), "changed.txt")
			if err := os.WriteFile(changed, append(orig, "added.example\n"...), 0o644); err != nil {
				b.Fatal(err)
			}
			next := slices.Clone(specs)
			src := FileSource(changed, specs[3].Sources[0].Format)
			src.Name = specs[3].Sources[0].Name // same source, new content
			next[3].Sources = []Source{src}
			b.ReportAllocs()
			for b.Loop() {
				bl := NewBuilder(prev)
				for _, spec := range next {
					info, err := bl.Add(spec)
					if err != nil {
						b.Fatal(err)
					}
					if info.Reused == (spec.ID == 3) {
						b.Fatalf("list %s: reused %v", spec.Name, info.Reused)
					}
				}
				if benchSink, err = bl.Build(); err != nil {
					b.Fatal(err)
				}
			}
			benchSink = nil
		})
	}
}

// BenchmarkMatch looks up 65,536 five-label names, all under a listed
// name (hit) or none (miss), against a Set of 10k, 1M or 5M names. The
// 10k Set (about 150 KB) stays in the cache, so names=10k is the lookup's
// compute alone; the 1M and 5M Sets (16 and 70 MB) add the wait for
// memory, which BenchmarkMemoryLatency measures on its own.
func BenchmarkMatch(b *testing.B) {
	for _, n := range append([]int{10_000}, benchSizes...) {
		size := fmt.Sprintf("%dM", n/1_000_000)
		if n < 1_000_000 {
			size = fmt.Sprintf("%dk", n/1_000)
		}
		for _, hit := range []bool{true, false} {
			kind := "miss"
			if hit {
				kind = "hit"
			}
			b.Run(fmt.Sprintf("names=%s/%s", size, kind), func(b *testing.B) {
				specs := benchLists(b, n)
				s := buildAll(b, specs)
				qs := synthQueries(b, specs, 1<<16, hit)
				for n < 1_000_000 && len(qs) < 1<<16 && len(qs) > 0 {
					// A small Set has fewer listed names: repeat them.
					qs = append(qs, qs[:min(len(qs), 1<<16-len(qs))]...)
				}
				qs = packed(qs)
				if len(qs) < 1<<16 {
					b.Fatalf("only %d queries", len(qs))
				}
				for _, q := range qs[:100] {
					if got := s.Match(q, ^Mask(0), 0); (got.Action != NoAction) != hit {
						b.Fatalf("Match(%q) = %+v, want hit %v", q, got, hit)
					}
				}
				all := ^Mask(0)
				b.ReportAllocs()
				i := 0
				stop := threadCPU(b)
				for b.Loop() {
					s.Match(qs[i&(1<<16-1)], all, 0)
					i++
				}
				if ns, ok := stop(); ok {
					b.ReportMetric(ns, "cpu-ns/op")
				}
			})
		}
	}
}

// BenchmarkMatchPath takes a 5M-name hit apart (see docs/performance.md,
// "Sixth pass"): "chained" makes each lookup's query depend on the
// previous lookup's result, so that consecutive lookups cannot overlap in
// the core (BenchmarkMatch's "free" loop lets them, as far as the reorder
// buffer reaches); "listed=D" are hits whose most specific listed suffix
// has D labels, the rest of the five labels being common subdomains.
func BenchmarkMatchPath(b *testing.B) {
	const n = 5_000_000
	specs := benchLists(b, n)
	s := buildAll(b, specs)
	run := func(name string, qs []string, chain bool) {
		b.Run(fmt.Sprintf("names=5M/%s", name), func(b *testing.B) {
			for len(qs) < 1<<16 {
				qs = append(qs, qs[:min(len(qs), 1<<16-len(qs))]...)
			}
			qs = packed(qs[:1<<16])
			all := ^Mask(0)
			i := 0
			stop := threadCPU(b)
			for b.Loop() {
				m := s.Match(qs[i&(1<<16-1)], all, 0)
				i++
				if chain {
					i += int(m.Kind >> 7) // always 0, but not before m is known
				}
			}
			if ns, ok := stop(); ok {
				b.ReportMetric(ns, "cpu-ns/op")
			}
		})
	}
	hits := synthQueries(b, specs, 1<<16, true)
	run("free", hits, false)
	run("chained", hits, true)
	// More queries than needed, so that every depth has enough distinct
	// names not to fit in the cache.
	byDepth := map[int][]string{}
	for _, q := range synthQueries(b, specs, 1<<19, true) {
		m := s.Match(q, ^Mask(0), 0)
		d := strings.Count(m.Suffix, ".")
		byDepth[d] = append(byDepth[d], q)
	}
	for d := 2; d <= 5; d++ {
		if len(byDepth[d]) < 1<<14 {
			b.Logf("listed=%d: only %d queries, skipped", d, len(byDepth[d]))
			continue
		}
		run(fmt.Sprintf("listed=%d", d), byDepth[d], false)
	}
}

// packed returns qs with their bytes back to back in one string, in order.
// The resolver matches a name it has just parsed from the packet, so the
// name is in cache; names scattered over the heap among other allocations
// (as synthQueries's hits are) would add a cache miss per lookup that only
// the benchmark pays. Read in order, packed names stream from memory.
func packed(qs []string) []string {
	all := strings.Join(qs, "")
	out := make([]string, len(qs))
	off := 0
	for i, q := range qs {
		out[i] = all[off : off+len(q)]
		off += len(q)
	}
	return out
}

// BenchmarkMemoryLatency is the floor under BenchmarkMatch on the machine
// it runs on: one dependent load from a random place in 64 MiB, the size
// of the 5M-name Set. Match needs at least one such load for a name whose
// suffix is listed (the filter can only rule names out), and on a busy
// virtual machine it costs hundreds of nanoseconds.
//
// The 16 MiB variants are the size of the 1M-name table, the 4 MiB ones
// about that of the 5M-name filter (fresh from being written, so in the
// last-level cache if anything is); "huge" asks for
// transparent huge pages as the Set does, which removes most TLB misses.
func BenchmarkMemoryLatency(b *testing.B) {
	for _, size := range []int{4 << 20, 16 << 20, 64 << 20} {
		for _, huge := range []bool{false, true} {
			pages := "4k"
			if huge {
				pages = "huge"
			}
			b.Run(fmt.Sprintf("MiB=%d/pages=%s", size>>20, pages), func(b *testing.B) {
				n := size / 8
				next := make([]uint64, n)
				if huge {
					adviseHugePages(next)
				}
				perm := rand.Perm(n)
				for i := range n {
					next[perm[i]] = uint64(perm[(i+1)%n])
				}
				p := uint64(0)
				stop := threadCPU(b)
				for b.Loop() {
					p = next[p]
				}
				if ns, ok := stop(); ok {
					b.ReportMetric(ns, "cpu-ns/op")
				}
				runtime.KeepAlive(p)
			})
		}
	}
}
