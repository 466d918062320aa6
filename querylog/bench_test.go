package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkEnqueue measures the query path's cost: copying an Entry into
// the ring under its mutex. The ring is emptied (not written) when full,
// so every operation is an accepted enqueue.
func BenchmarkEnqueue(b *testing.B) {
	newBare := func() *Log {
		l := &Log{now: time.Now, wake: make(chan struct{}, 1)}
		l.ring.buf = make([]Entry, 1<<16)
		l.ring.wakeAt = -1
		return l
	}
	reset := func(l *Log) {
		l.ring.mu.Lock()
		clear(l.ring.buf)
		l.ring.head, l.ring.n = 0, 0
		l.ring.mu.Unlock()
	}
	e := fullEntry()
	e.Answer = &fakeAnswer{}
	b.Run("serial", func(b *testing.B) {
		l := newBare()
		b.ReportAllocs()
		for b.Loop() {
			if !l.Enqueue(e) {
				reset(l)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := newBare()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !l.Enqueue(e) {
					reset(l)
				}
			}
		})
	})
}

// benchGen makes a deterministic, school-like stream of entries: devices
// in three groups with skewed activity, a long tail of names, about 7%
// blocked, 1% bypass attempts and 2% safe-search rewrites.
type benchGen struct {
	rng     *rand.Rand
	zc, zn  *rand.Zipf
	clients []benchClient
	names   []string
	answers []Text
}

type benchClient struct {
	addr        netip.Addr
	mac, host   string
	group, rule string
}

const (
	benchClients = 2000
	benchNames   = 50000
)

func newBenchGen(seed uint64) *benchGen {
	rng := rand.New(rand.NewPCG(seed, 7))
	g := &benchGen{rng: rng,
		zc: rand.NewZipf(rng, 1.1, 20, benchClients-1),
		zn: rand.NewZipf(rng, 1.2, 5, benchNames-1)}
	for i := range benchClients {
		c := benchClient{
			addr: netip.AddrFrom4([4]byte{10, 20, byte(i / 250), byte(i%250 + 1)}),
			mac:  fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256),
			host: fmt.Sprintf("Y%d-IPAD-%d", 7+i%7, i),
		}
		switch {
		case i%10 < 7:
			c.group, c.rule = "pupils", "subnet 10.20.0.0/16"
		case i%10 < 9:
			c.group, c.rule = "staff", "mac list staff"
		default:
			c.group, c.rule = "guests", "default"
		}
		g.clients = append(g.clients, c)
	}
	for i := range benchNames {
		g.names = append(g.names, fmt.Sprintf("host%d.site%d.example.", i%13, i))
	}
	for i := range 64 {
		g.answers = append(g.answers, Text(fmt.Sprintf("A 192.0.2.%d, A 198.51.100.%d", i, i*3)))
	}
	return g
}

func (g *benchGen) entry(t time.Time) Entry {
	c := &g.clients[g.zc.Uint64()]
	e := Entry{Time: t, Client: c.addr, MAC: c.mac, Hostname: c.host, Group: c.group, ClientRule: c.rule,
		QName: g.names[g.zn.Uint64()], QType: dns.TypeA, Proto: UDP, Decision: Allowed, Rcode: dns.RcodeSuccess,
		Answer: g.answers[g.rng.IntN(len(g.answers))], Source: SourceCache, DNSSEC: Insecure,
		Duration: time.Duration(g.rng.IntN(2000)) * time.Microsecond}
	switch r := g.rng.IntN(100); {
	case r < 7:
		e.Decision, e.Category, e.List, e.Matched, e.Answer, e.Source = Blocked, []string{"adult", "gambling", "social", "games"}[r%4], "list-"+strconv.Itoa(r%4), "*."+e.QName[6:], Text("NXDOMAIN"), SourceLocal
	case r < 8:
		e.Decision, e.Category, e.Answer, e.Source = BypassAttempt, []string{"doh", "private-relay", "vpn"}[g.rng.IntN(3)], Text("NXDOMAIN"), SourceLocal
	case r < 10:
		e.Decision, e.Category, e.Answer = Rewritten, "safesearch", Text("CNAME forcesafesearch.google.com.")
	}
	if g.rng.IntN(4) == 0 {
		e.QType = dns.TypeAAAA
	}
	return e
}

// enqueueWait enqueues e, waiting while the queue is full (benchmarks and
// generators must not drop).
func enqueueWait(l *Log, e Entry) {
	for !l.Enqueue(e) {
		time.Sleep(200 * time.Microsecond)
	}
}

// BenchmarkIngest measures end to end: enqueue, batch, intern, insert,
// rollups, commit. It reports entries per second and database bytes per
// entry.
func BenchmarkIngest(b *testing.B) {
	bs, _ := strconv.Atoi(os.Getenv("QUERYLOG_BENCH_BATCH"))
	l := openTest(b, Config{BatchSize: bs, WriterShare: 1}) // raw capacity
	g := newBenchGen(1)
	start := time.Now()
	entries := make([]Entry, 0, 1<<16)
	for len(entries) < cap(entries) {
		entries = append(entries, g.entry(start.Add(time.Duration(len(entries))*time.Millisecond)))
	}
	b.ResetTimer()
	t0, cpu0 := time.Now(), cpuTime()
	for i := 0; b.Loop(); i++ {
		e := entries[i%len(entries)]
		e.Time = start.Add(time.Duration(i) * 10 * time.Microsecond)
		enqueueWait(l, e)
	}
	flush(b, l)
	mergeAll(b, l) // every entry all the way into the indexed table
	elapsed := time.Since(t0)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	// CPU per entry (process user+system, producer included) is steadier
	// than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/entry")
	if st := l.Status(); st.Written > 10000 {
		b.ReportMetric(float64(st.DatabaseBytes)/float64(st.Written), "bytes/entry")
	}
}

const (
	bigEntries = 10_000_000
	bigDays    = 30
	// bigStaged is how many of the newest entries bigLog leaves staged:
	// DefaultMergeRows, the most a school has staged between merges.
	bigStaged = DefaultMergeRows
)

var bigOnce sync.Once

// bigLog opens (building once, then caching under os.TempDir, keyed by
// schema version and size) a 10-million-entry log spread over 30 days.
func bigLog(b *testing.B) (*Log, time.Time) {
	b.Helper()
	n := bigEntries
	if s := os.Getenv("QUERYLOG_BENCH_ENTRIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("gatehouse-querylog-bench-v%d-%d.db", schemaVersion, n))
	end := time.Date(2025, 3, 14, 16, 0, 0, 0, time.UTC) // a Friday afternoon
	var err error
	bigOnce.Do(func() {
		if _, e := os.Stat(path + ".done"); e == nil {
			return
		}
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		err = buildBig(path, n, end)
	})
	if err != nil {
		b.Fatal(err)
	}
	l, err := OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l, end
}

func buildBig(path string, n int, end time.Time) error {
	start := time.Now()
	l, err := Open(Config{Path: path, QueueSize: 1 << 18, BatchSize: 1 << 15, FlushInterval: time.Second, WriterShare: 1,
		Retention: Retention{Default: 3650}, MaintenanceInterval: 24 * time.Hour,
		MergeRows: 1 << 20, MergeInterval: 24 * time.Hour})
	if err != nil {
		return err
	}
	g := newBenchGen(42)
	first := end.Add(-bigDays * 24 * time.Hour)
	step := end.Sub(first) / time.Duration(n)
	for i := range n {
		if i == n-bigStaged {
			// The last entries stay staged, as a merge interval's worth
			// are at any time: searches scan them without an index.
			if err := l.ask(context.Background(), request{kind: reqMerge}); err != nil {
				return err
			}
		}
		enqueueWait(l, g.entry(first.Add(time.Duration(i)*step)))
	}
	if err := l.Flush(context.Background()); err != nil {
		return err
	}
	if err := l.ask(context.Background(), request{kind: reqExec, fn: execSQL("PRAGMA optimize=0x10002")}); err != nil {
		return err
	}
	st := l.Status()
	if err := l.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "built %s: %d entries in %v, %d bytes (%.0f bytes/entry)\n",
		path, n, time.Since(start).Round(time.Second), fileBytes(path), float64(fileBytes(path))/float64(n))
	_ = st
	return os.WriteFile(path+".done", nil, 0o644)
}

func execSQL(q string) func(context.Context, *sql.Conn) error {
	return func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, q)
		return err
	}
}

// BenchmarkSearch is the technician's question on a 10M-entry log: what
// did one device look up over 24 hours (first page), in a 15-minute
// window, and what was blocked.
func BenchmarkSearch(b *testing.B) {
	l, end := bigLog(b)
	day := end.Add(-24 * time.Hour)
	// A device of ordinary activity (not the busiest).
	dev := newBenchGen(0).clients[137]
	for _, bc := range []struct {
		name string
		f    Filter
	}{
		{"client_ip_24h", Filter{Client: dev.addr.String(), From: day, To: end}},
		{"client_mac_24h", Filter{Client: dev.mac, From: day, To: end}},
		{"client_hostname_24h", Filter{Client: dev.host, From: day, To: end}},
		{"client_ip_15min", Filter{Client: dev.addr.String(), From: end.Add(-6 * time.Hour), To: end.Add(-6*time.Hour + 15*time.Minute)}},
		{"client_ip_24h_blocked", Filter{Client: dev.addr.String(), From: day, To: end, Decision: Blocked}},
		{"busiest_client_24h", Filter{Client: newBenchGen(0).clients[0].addr.String(), From: day, To: end}},
		{"domain_suffix_24h", Filter{Domain: "*.site7.example", From: day, To: end}},
		{"blocked_24h", Filter{Decision: Blocked, From: day, To: end}},
		{"category_24h", Filter{Category: "gambling", From: day, To: end}},
		{"group_guests_24h", Filter{Group: "guests", From: day, To: end}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				p, err := l.Search(context.Background(), bc.f)
				if err != nil {
					b.Fatal(err)
				}
				n = len(p.Entries)
			}
			b.ReportMetric(float64(n), "results")
		})
	}
}

// BenchmarkReport is the weekly report on the 10M-entry log.
func BenchmarkReport(b *testing.B) {
	l, end := bigLog(b)
	loc := l.loc
	y, m, d := end.In(loc).Date()
	monday := time.Date(y, m, d-int(end.In(loc).Weekday()-time.Monday), 0, 0, 0, 0, loc)
	for _, group := range []string{"", "pupils"} {
		b.Run("weekly_"+map[string]string{"": "all", "pupils": "pupils"}[group], func(b *testing.B) {
			for b.Loop() {
				r, err := l.Report(context.Background(), monday, monday.AddDate(0, 0, 7), group)
				if err != nil {
					b.Fatal(err)
				}
				if r.Total == 0 {
					b.Fatal("empty report")
				}
			}
		})
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
