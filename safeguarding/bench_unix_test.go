//go:build unix

package safeguarding

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"gatehouse/querylog"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchEntries is a traffic mix: 98% allowed lookups, 2% blocked
// (gambling, low priority) spread over 2000 devices.
func benchEntries(n int, start time.Time) []querylog.Entry {
	out := make([]querylog.Entry, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, 20, byte(i % 2000 / 250), byte(i % 250)})
		e := querylog.Entry{Time: start, Client: a, Hostname: fmt.Sprintf("DEV-%d", i%2000), Group: "pupils",
			QName: fmt.Sprintf("www.site%d.example.", i%5000), QType: 1, Decision: querylog.Allowed, Proto: querylog.UDP}
		if i%50 == 0 {
			e.Decision, e.Category, e.List = querylog.Blocked, "gambling", "ut1/gambling"
		}
		out[i] = e
	}
	return out
}

// BenchmarkQueryLogIngest measures the query log's writer with and
// without the safeguarding engine subscribed to its live feed (the
// engine's only link to the query path), in the same run: compare the
// two as a ratio.
func BenchmarkQueryLogIngest(b *testing.B) {
	for _, withEngine := range []bool{false, true} {
		name := "no-subscriber"
		if withEngine {
			name = "safeguarding"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			l, err := querylog.Open(querylog.Config{Path: filepath.Join(dir, "q.db"), WriterShare: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var e *Engine
			if withEngine {
				e, err = Open(ctx, Config{Path: filepath.Join(dir, "s.db"), Holder: l, Tick: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				ch, unsub := l.Subscribe(16384)
				defer unsub()
				go e.Follow(ctx, ch)
				go e.Run(ctx)
			}
			entries := benchEntries(1<<14, time.Now())
			b.ResetTimer()
			t0, cpu0 := time.Now(), cpuTime()
			n := 0
			for i := 0; b.Loop(); i++ {
				for !l.Enqueue(entries[i%len(entries)]) {
					runtime.Gosched()
				}
				n++
			}
			for l.Status().Written < uint64(n) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(t0)
			b.ReportMetric(float64(n)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(n), "cpu-µs/entry")
			if e != nil {
				b.ReportMetric(testutilCounter(e.m.dropped.WithLabelValues("queue")), "dropped")
			}
		})
	}
}

// BenchmarkObserve is the cost of offering one entry to the engine from
// the feed goroutine: most entries are not signals and stop at once.
func BenchmarkObserve(b *testing.B) {
	e, err := Open(context.Background(), Config{Path: filepath.Join(b.TempDir(), "s.db"), QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, tc := range []struct {
		name string
		d    querylog.Decision
	}{{"allowed", querylog.Allowed}, {"blocked", querylog.Blocked}} {
		b.Run(tc.name, func(b *testing.B) {
			en := querylog.Entry{Decision: tc.d, Category: "gambling", Client: netip.MustParseAddr("10.0.0.1")}
			for b.Loop() {
				e.Observe(en)
				if len(e.queue) == cap(e.queue) {
					for len(e.queue) > 0 {
						<-e.queue
					}
				}
			}
		})
	}
}

// BenchmarkDetector is the detector's cost per signal (one goroutine).
func BenchmarkDetector(b *testing.B) {
	s := testSettings()
	var d Detector
	entries := benchEntries(1<<14, time.Now())
	for i := range entries {
		entries[i].Decision, entries[i].Category = querylog.Blocked, "gambling"
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		o := d.Observe(entries[i%len(entries)], &s)
		if o.Verdict == Raise {
			d.Bind(o.Key, int64(i+1))
		}
	}
}

// BenchmarkRaise is the cost of storing one new concern (a transaction
// with the concern, its evidence, its outbox rows and an fsync), with
// one recipient on two channels: the rate beyond which a flood of
// distinct concerns fills the engine's queue.
func BenchmarkRaise(b *testing.B) {
	ctx := context.Background()
	e, err := Open(ctx, Config{Path: filepath.Join(b.TempDir(), "s.db"), Initial: Settings{Recipients: []Recipient{
		{Name: "dsl", Role: TeamSafeguarding, Email: []string{"dsl@school.example"}, Syslog: true}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		e.handle(ctx, querylog.Entry{ID: uint64(i + 1), Time: start, Client: a, Group: "pupils", QName: "x.example.",
			Decision: querylog.Blocked, Category: "self-harm", List: "l"})
	}
}
