package querylog

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkWriteBytes measures what logging writes to storage per entry
// (the SD card's wear), from the process's I/O counters, log closed (so
// the last checkpoint counts), for two streams:
//
//   - school: a school's everyday traffic, ~200 queries a second, so
//     ~50 entries per 250 ms flush, from 1,000 devices over 50,000 names,
//     both Zipf-distributed;
//   - loadtest: bench/loadtest's fixed rate, 20,000 queries a second
//     (~5,000 entries per flush) from one client over 10,000 names.
//
// Each transaction holds exactly one flush's worth (BatchSize), as the
// writer commits it at that rate. wchar-B/entry is every byte passed to
// write(2) (WAL frames and checkpoints); write-B/entry what reached the
// block layer (0 on a tmpfs). The log already holds the stream's first
// entries (prefill, not measured), as a school's log does after hours, and
// the load test's after a round: on a small log every device's and name's
// last index entries share a few pages, which hides the amplification.
// Run with -benchtime 300000x.
func BenchmarkWriteBytes(b *testing.B) {
	for _, s := range []struct {
		name           string
		clients, names int
		zipf           bool
		batch          int
		rate           int // queries a second: the entries' time spacing
		prefill        int // entries already in the log
	}{
		{"school", 1000, 50000, true, 50, 200, 1_000_000},
		{"loadtest", 1, 10000, false, 5000, 20000, 2_000_000},
	} {
		b.Run(s.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "querylog.db")
			rng := rand.New(rand.NewPCG(uint64(s.clients), uint64(s.names)))
			pick := func(n int) func() int { return func() int { return rng.IntN(n) } }
			pickClient, pickName := pick(s.clients), pick(s.names)
			if s.zipf {
				zc, zn := rand.NewZipf(rng, 1.1, 20, uint64(s.clients-1)), rand.NewZipf(rng, 1.2, 5, uint64(s.names-1))
				pickClient, pickName = func() int { return int(zc.Uint64()) }, func() int { return int(zn.Uint64()) }
			}
			names := make([]string, s.names)
			for i := range names {
				names[i] = fmt.Sprintf("host%d.site%d.example.", i%13, i)
			}
			total := s.prefill + b.N
			start := time.Now().Add(-time.Duration(total) * time.Second / time.Duration(s.rate))
			e := fullEntry()
			e.Decision, e.Category, e.List, e.Matched = Allowed, "", "", ""
			i := 0
			next := func() Entry {
				c := pickClient()
				e.Client = netip.AddrFrom4([4]byte{10, 20, byte(c / 250), byte(c%250 + 1)})
				e.Hostname = "Y9-IPAD-" + strconv.Itoa(c)
				e.QName = names[pickName()]
				e.QType = dns.TypeA
				e.Time = start.Add(time.Duration(i) * time.Second / time.Duration(s.rate))
				i++
				return e
			}
			// The log a school (or the load test) has already written:
			// its indexes spread each device's and name's entries over
			// their own pages. Written in large batches, not measured.
			pre := Config{Path: path, BatchSize: 16384, WriterShare: 1, MaintenanceInterval: 24 * time.Hour}
			benchStaging(&pre)
			l, err := Open(pre)
			if err != nil {
				b.Fatal(err)
			}
			for range s.prefill {
				enqueueWait(l, next())
			}
			flush(b, l)
			mergeAll(b, l)
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			cfg := Config{Path: path, BatchSize: s.batch, WriterShare: 1, MaintenanceInterval: 24 * time.Hour}
			benchStaging(&cfg)
			if l, err = Open(cfg); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			io0, cpu0 := procIO(b), cpuTime()
			for b.Loop() {
				enqueueWait(l, next())
			}
			flush(b, l)
			mergeAll(b, l)
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			io1, cpu1 := procIO(b), cpuTime()
			n := float64(b.N)
			b.ReportMetric(float64(io1["wchar"]-io0["wchar"])/n, "wchar-B/entry")
			b.ReportMetric(float64(io1["write_bytes"]-io0["write_bytes"])/n, "write-B/entry")
			b.ReportMetric(float64(cpu1-cpu0)/float64(time.Microsecond)/n, "cpu-µs/entry")
			if hwm := procStatus(b)["VmHWM"]; hwm > 0 {
				b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
			}
		})
	}
}

// procStatus reads the kB figures of /proc/self/status (VmHWM: the peak
// resident set, prefill included).
func procStatus(b *testing.B) map[string]int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			m[k], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return m
}

// procIO reads the process's I/O counters (Linux /proc/self/io).
func procIO(b *testing.B) map[string]int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skipf("no I/O counters: %v", err)
	}
	defer f.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		m[k], _ = strconv.ParseInt(v, 10, 64)
	}
	return m
}

// benchStaging sets the merge settings from the environment, for
// measuring other choices than the defaults: QUERYLOG_BENCH_MERGE_ROWS,
// QUERYLOG_BENCH_MERGE_BATCH, QUERYLOG_BENCH_MERGE_SLICE (a duration) and
// QUERYLOG_BENCH_CACHE_KIB.
func benchStaging(cfg *Config) {
	cfg.MergeRows, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_MERGE_ROWS"))
	cfg.MergeBatch, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_MERGE_BATCH"))
	cfg.mergeSlice, _ = time.ParseDuration(os.Getenv("QUERYLOG_BENCH_MERGE_SLICE"))
	cfg.batchCacheKiB, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_CACHE_KIB"))
}
