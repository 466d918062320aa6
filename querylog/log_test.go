package querylog

import (
	"context"
	"database/sql"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/internal/syncbuf"
)

// t0 is a fixed instant for deterministic entries: Monday 2025-03-10
// 10:00 UTC (also 10:00 in London, before the clocks change).
var t0 = time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC)

func openTest(t testing.TB, cfg Config) *Log {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "querylog.db")
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func flush(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// fullEntry sets every field to a non-zero value.
func fullEntry() Entry {
	return Entry{
		Time:       t0.Add(1234567 * time.Nanosecond),
		Client:     netip.MustParseAddr("10.20.3.4"),
		MAC:        "aa:bb:cc:dd:ee:ff",
		Hostname:   "Y9-IPAD-12",
		Group:      "pupils",
		ClientRule: "subnet 10.20.0.0/16",
		QName:      "www.example.org.",
		QType:      dns.TypeAAAA,
		Proto:      TCP,
		Decision:   Blocked,
		Category:   "adult",
		List:       "adult-list",
		Matched:    "*.example.org",
		Rcode:      dns.RcodeNameError,
		Answer:     Text("NXDOMAIN"),
		Source:     SourceLocal,
		DNSSEC:     Insecure,
		Duration:   1500 * time.Microsecond,
	}
}

func mustSearch(t testing.TB, l *Log, f Filter) Page {
	t.Helper()
	p, err := l.Search(context.Background(), f)
	if err != nil {
		t.Fatalf("Search(%+v): %v", f, err)
	}
	return p
}

func TestLog_roundTrip(t *testing.T) {
	l := openTest(t, Config{})
	want := fullEntry()
	id, ok := l.EnqueueID(want)
	if !ok || id == 0 {
		t.Fatalf("EnqueueID = %d, %v", id, ok)
	}
	v6 := fullEntry()
	v6.Client = netip.MustParseAddr("2001:db8::1")
	v6.MAC, v6.Hostname, v6.Answer, v6.Category = "", "", nil, ""
	v6.Time = v6.Time.Add(time.Second)
	if !l.Enqueue(v6) {
		t.Fatal("Enqueue = false")
	}
	flush(t, l)
	p := mustSearch(t, l, Filter{})
	if len(p.Entries) != 2 {
		t.Fatalf("got %d entries, want 2", len(p.Entries))
	}
	want.ID = id
	if got := p.Entries[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	v6.ID = p.Entries[0].ID
	if got := p.Entries[0]; !reflect.DeepEqual(got, v6) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, v6)
	}
	if p.Entries[0].ID <= id {
		t.Errorf("IDs not increasing: %d then %d", id, p.Entries[0].ID)
	}
	if got := IDTime(id); !got.Equal(want.Time.Truncate(time.Millisecond)) {
		t.Errorf("IDTime(%d) = %v, want %v", id, got, want.Time.Truncate(time.Millisecond))
	}
}

func TestLog_idsUniqueAndOrdered(t *testing.T) {
	l := openTest(t, Config{QueueSize: 1 << 16})
	var wg sync.WaitGroup
	ids := make([][]uint64, 4)
	for g := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				id, ok := l.EnqueueID(Entry{QName: "a.example."})
				if !ok {
					t.Error("dropped")
					return
				}
				ids[g] = append(ids[g], id)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, s := range ids {
		for i, id := range s {
			if seen[id] {
				t.Fatalf("duplicate id %d", id)
			}
			seen[id] = true
			if i > 0 && id <= s[i-1] {
				t.Fatalf("ids from one goroutine not increasing: %d after %d", id, s[i-1])
			}
		}
	}
	// IDs continue above the stored maximum after a restart, even if the
	// clock went backwards.
	flush(t, l)
	path := l.cfg.Path
	l.Close()
	l2 := openTest(t, Config{Path: path})
	var maxID uint64
	for id := range seen {
		maxID = max(maxID, id)
	}
	id, ok := l2.EnqueueID(Entry{Time: time.Unix(1000, 0)})
	if !ok || id <= maxID {
		t.Errorf("after reopen EnqueueID = %d, want > %d", id, maxID)
	}
}

func TestLog_flushInterval(t *testing.T) {
	// A batch commits on its own after FlushInterval without Flush.
	l := openTest(t, Config{FlushInterval: 20 * time.Millisecond, BatchSize: 1000})
	l.Enqueue(fullEntry())
	deadline := time.Now().Add(10 * time.Second)
	for l.Status().Written == 0 {
		if time.Now().After(deadline) {
			t.Fatal("entry not written within 10s of a 20ms flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLog_batchSizeWakesWriter(t *testing.T) {
	// With a flush interval far beyond the test, only a full batch can
	// wake the writer.
	var mu sync.Mutex
	var batches []int
	l := openTest(t, Config{FlushInterval: time.Hour, BatchSize: 10,
		testBeforeWrite: func() { mu.Lock(); batches = append(batches, 1); mu.Unlock() }})
	for range 10 {
		l.Enqueue(fullEntry())
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Status().Written != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("full batch not written: status %+v", l.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 25 {
		l.Enqueue(fullEntry())
	}
	flush(t, l)
	if got := l.Status().Written; got != 35 {
		t.Errorf("written = %d, want 35", got)
	}
	mu.Lock()
	defer mu.Unlock()
	// 10, then 25 at most 10 at a time: at least 4 batches.
	if len(batches) < 4 {
		t.Errorf("%d batches, want >= 4 (batch size 10)", len(batches))
	}
}

func TestLog_fullQueueDropsWithoutBlocking(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logged syncbuf.Buffer
	l := openTest(t, Config{QueueSize: 8, BatchSize: 4, FlushInterval: 10 * time.Millisecond, Metrics: m,
		Logger:          slog.New(slog.NewTextHandler(&logged, nil)),
		testBeforeWrite: func() { once.Do(func() { close(entered); <-release }) }})
	// The writer takes the first entry and stalls in the hook; the queue
	// then holds 8 and the rest must drop, without Enqueue waiting.
	if !l.Enqueue(fullEntry()) {
		t.Fatal("first Enqueue dropped")
	}
	<-entered
	accepted, dropped := 0, 0
	for range 100 {
		if l.Enqueue(fullEntry()) {
			accepted++
		} else {
			dropped++
		}
	}
	if accepted != 8 || dropped != 92 {
		t.Errorf("accepted %d dropped %d, want 8 and 92", accepted, dropped)
	}
	if st := l.Status(); st.Dropped != 92 || st.Queued != 8 {
		t.Errorf("Status = dropped %d queued %d, want 92 and 8", st.Dropped, st.Queued)
	}
	close(release)
	flush(t, l)
	if got := l.Status().Written; got != 9 {
		t.Errorf("written = %d, want 9", got)
	}
	if got := testutil.ToFloat64(m.dropped); got != 92 {
		t.Errorf("dropped_total = %v, want 92", got)
	}
	if got := testutil.ToFloat64(m.written); got != 9 {
		t.Errorf("written_total = %v, want 9", got)
	}
	// The application log says so, once (warnings are a minute apart).
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logged.String(), "dropped=92") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := logged.String(); strings.Count(got, "query log queue full") != 1 || !strings.Contains(got, "dropped=92") {
		t.Errorf("application log, want one warning of 92 dropped entries:\n%s", got)
	}
}

func TestLog_enqueueAllocs(t *testing.T) {
	l := openTest(t, Config{QueueSize: 1 << 20, BatchSize: 1 << 20, FlushInterval: time.Hour})
	e := fullEntry()
	e.Answer = &fakeAnswer{}
	allocs := testing.AllocsPerRun(1000, func() { l.Enqueue(e) })
	if allocs != 0 {
		t.Errorf("Enqueue allocates %v times, want 0", allocs)
	}
}

type fakeAnswer struct{ calls atomic.Int32 }

func (a *fakeAnswer) Summary() string { a.calls.Add(1); return "A 192.0.2.1" }

func TestLog_summarizerCalledOnWriter(t *testing.T) {
	l := openTest(t, Config{})
	a := &fakeAnswer{}
	e := fullEntry()
	e.Answer = a
	l.Enqueue(e)
	if a.calls.Load() != 0 {
		t.Fatal("Summary called on the query path")
	}
	flush(t, l)
	if n := a.calls.Load(); n != 1 {
		t.Errorf("Summary called %d times, want 1", n)
	}
	p := mustSearch(t, l, Filter{})
	if got := p.Entries[0].Answer; got != Text("A 192.0.2.1") {
		t.Errorf("Answer = %v", got)
	}
}

type panicAnswer struct{}

func (panicAnswer) Summary() string { panic("boom") }

func TestLog_panickingSummarizer(t *testing.T) {
	l := openTest(t, Config{})
	e := fullEntry()
	e.Answer = panicAnswer{}
	l.Enqueue(e)
	l.Enqueue(fullEntry())
	flush(t, l)
	if got := len(mustSearch(t, l, Filter{}).Entries); got != 2 {
		t.Errorf("got %d entries, want 2", got)
	}
}

func TestMigrations(t *testing.T) {
	if len(migrations) != schemaVersion {
		t.Fatalf("schemaVersion = %d, len(migrations) = %d", schemaVersion, len(migrations))
	}
	path := filepath.Join(t.TempDir(), "q.db")
	for i := range 3 { // empty DB, then idempotent re-opens
		l, err := Open(Config{Path: path})
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		l.Enqueue(fullEntry())
		if err := l.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i, err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var versions, n int
	var mode string
	db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&versions)
	db.QueryRow(`SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM recent)`).Scan(&n)
	db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	if versions != schemaVersion || n != 3 || mode != "wal" {
		t.Errorf("versions %d entries %d journal %q, want %d, 3, wal", versions, n, mode, schemaVersion)
	}
	// A database from a newer program is refused, not damaged.
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Path: path}); err == nil {
		t.Error("Open of a v99 database succeeded")
	}
	if _, err := OpenReadOnly(path); err == nil {
		t.Error("OpenReadOnly of a v99 database succeeded")
	}
}

func TestDecision_parse(t *testing.T) {
	for d := Allowed; d < numDecisions; d++ {
		got, err := ParseDecision(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDecision(%q) = %v, %v", d.String(), got, err)
		}
	}
	if _, err := ParseDecision("nope"); err == nil {
		t.Error("ParseDecision(nope) succeeded")
	}
}

func TestWriter_keepsToItsCPUShare(t *testing.T) {
	// Each batch "takes" 20ms; with a 1% share the writer then rests for
	// about two seconds (below the flush interval), leaving later entries
	// queued, while Flush still writes everything at once.
	var batches atomic.Int32
	l := openTest(t, Config{WriterShare: 0.01, FlushInterval: 5 * time.Second,
		testBeforeWrite: func() { batches.Add(1); time.Sleep(20 * time.Millisecond) }})
	l.Enqueue(fullEntry())
	flush(t, l)
	l.Enqueue(fullEntry())
	l.wake <- struct{}{}
	time.Sleep(100 * time.Millisecond)
	if st := l.Status(); st.Queued != 1 || batches.Load() != 1 {
		t.Errorf("writer did not rest: queued %d, batches %d", st.Queued, batches.Load())
	}
	flush(t, l)
	if st := l.Status(); st.Written != 2 {
		t.Errorf("written %d after Flush, want 2", st.Written)
	}
}

// A flush that falls due while the writer rests waits, asleep, for the
// rest to end. The loop used to find the flush due (a pass that outlasted
// FlushInterval, or a wake-up), the writer resting, and a wait of zero
// until the flush's time, which had passed: it spun without parking until
// the rest ended, holding a P (on one P, DNS waited up to 20 ms at 20,000
// queries a second).
func TestWriter_sleepsThroughItsRest(t *testing.T) {
	var turns atomic.Int64
	l := openTest(t, Config{WriterShare: 0.01, FlushInterval: 100 * time.Millisecond, BatchSize: 1,
		testBeforeWrite: func() { time.Sleep(50 * time.Millisecond) },
		testLoop:        func() { turns.Add(1) }})
	flush(t, l)
	before := turns.Load()
	// Two batches of one entry, 50 ms each, each followed by a rest of
	// FlushInterval (99 times the batch, at most FlushInterval): the
	// next flush falls due during a rest.
	l.Enqueue(fullEntry())
	l.Enqueue(fullEntry())
	time.Sleep(500 * time.Millisecond)
	if n := turns.Load() - before; n > 50 {
		t.Errorf("the writer's loop turned %d times in 500 ms: it spins while resting", n)
	}
	if st := l.Status(); st.Written != 2 {
		t.Errorf("written %d, want 2", st.Written)
	}
}

// With Spare set, the writer takes what the machine leaves idle: with a
// core idle it does not rest after a slow batch, however small its
// WriterShare; with nothing idle, or nothing known, it keeps to
// WriterShare as before.
func TestWriter_takesWhatTheMachineLeavesIdle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		idle  float64
		known bool
		rests bool
	}{
		{"a core idle", 1.2, true, false},
		{"nothing idle", 0, true, true},
		{"unknown", 2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked atomic.Int32
			l := openTest(t, Config{WriterShare: 0.01, FlushInterval: 5 * time.Second,
				Spare:           func() (float64, bool) { asked.Add(1); return tc.idle, tc.known },
				testBeforeWrite: func() { time.Sleep(20 * time.Millisecond) }})
			l.Enqueue(fullEntry())
			flush(t, l)
			l.Enqueue(fullEntry())
			l.wake <- struct{}{}
			deadline := time.Now().Add(time.Second)
			for l.Status().Written < 2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if rested := l.Status().Written < 2; rested != tc.rests {
				t.Errorf("rested %v (written %d), want %v", rested, l.Status().Written, tc.rests)
			}
			if asked.Load() == 0 {
				t.Error("Spare never asked")
			}
		})
	}
}

// While its share is below one CPU, the writer takes batches it can
// write within that share before its longest rest, not BatchSize: a
// full batch and the longest rest would use more than the share.
func TestWriter_batchesFitTheShare(t *testing.T) {
	l := openTest(t, Config{WriterShare: 0.1, FlushInterval: 250 * time.Millisecond,
		testBeforeWrite: func() { time.Sleep(20 * time.Millisecond) }})
	for range 1000 {
		l.Enqueue(fullEntry())
	}
	flush(t, l) // one full batch: about 20 µs an entry
	for range 5000 {
		l.Enqueue(fullEntry())
	}
	l.wake <- struct{}{}
	// Read as soon as the batch commits: the writer then rests at least
	// nine times the 20 ms it took before the next one.
	deadline := time.Now().Add(5 * time.Second)
	for l.Status().Written == 1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// 250 ms × 0.1/0.9 ≈ 28 ms at ≥ 20 µs an entry: at most ~1,400 entries.
	st := l.Status()
	if got := st.Written - 1000; got == 0 || got > 1500 {
		t.Errorf("first batch at a 0.1 share wrote %d entries, want 1 to 1500 (of 5000 queued)", got)
	}
	flush(t, l)
	if st := l.Status(); st.Written != 6000 {
		t.Errorf("written %d after Flush, want 6000", st.Written)
	}
}

func TestWriter_share(t *testing.T) {
	idle, known, asked := 0.0, true, 0
	w := &writer{l: &Log{cfg: Config{WriterShare: 0.1,
		Spare: func() (float64, bool) { asked++; return idle, known }}}}
	for _, tc := range []struct {
		idle  float64
		known bool
		want  float64
	}{
		{0.5, true, 0.5},
		{3, true, 1},      // never more than one CPU: the writer is one goroutine
		{0.02, true, 0.1}, // never less than WriterShare
		{0.7, false, 0.1}, // unknown: WriterShare
	} {
		idle, known = tc.idle, tc.known
		w.shareAt = time.Time{} // as if spareEvery had passed
		if got := w.share(); got != tc.want {
			t.Errorf("idle %v (known %v): share %v, want %v", tc.idle, tc.known, got, tc.want)
		}
	}
	// Within spareEvery the last figure stands, without asking again.
	n := asked
	idle, known = 1, true
	if got := w.share(); got != 0.1 || asked != n {
		t.Errorf("within spareEvery: share %v after %d more questions, want 0.1 after none", got, asked-n)
	}
	w.l.cfg.Spare = nil
	if got := w.share(); got != 0.1 {
		t.Errorf("no Spare: share %v, want WriterShare", got)
	}
}

// A large batch (thousands of queries a second) tells the process to use
// every core; a small one does not.
func TestLog_busyOnLargeBatches(t *testing.T) {
	var calls atomic.Int64
	l := openTest(t, Config{FlushInterval: time.Hour, Busy: func() { calls.Add(1) }})
	for range busyBatch - 1 {
		l.Enqueue(fullEntry())
	}
	flush(t, l)
	if n := calls.Load(); n != 0 {
		t.Fatalf("Busy called %d times for a batch of %d", n, busyBatch-1)
	}
	for range busyBatch {
		l.Enqueue(fullEntry())
	}
	flush(t, l)
	if n := calls.Load(); n != 1 {
		t.Fatalf("Busy called %d times for a batch of %d, want 1", n, busyBatch)
	}
}

// The writer's batch connection and the connection Hold and Release use
// take turns at SQLite's write lock: holds taken while batches commit
// neither fail nor cost entries.
func TestWriter_holdsWhileWriting(t *testing.T) {
	l := openTest(t, Config{BatchSize: 256, FlushInterval: time.Millisecond})
	const n = 5000
	done := make(chan struct{})
	var ids []uint64
	go func() {
		defer close(done)
		for i := range n {
			e := fullEntry()
			e.Time = t0.Add(time.Duration(i) * time.Millisecond)
			e.QName = "n" + strconv.Itoa(i%300) + ".example."
			id, ok := l.EnqueueID(e)
			for !ok {
				time.Sleep(time.Millisecond)
				id, ok = l.EnqueueID(e)
			}
			if i%250 == 0 {
				ids = append(ids, id)
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
		default:
			ref := "INC-" + strconv.Itoa(i)
			if err := l.Hold(t.Context(), ref, "dsl", uint64(i)+1); err != nil {
				t.Fatalf("Hold while writing: %v", err)
			}
			if _, err := l.Release(t.Context(), ref); err != nil {
				t.Fatalf("Release while writing: %v", err)
			}
			continue
		}
		break
	}
	flush(t, l)
	if st := l.Status(); st.Written != n || st.Errors != 0 {
		t.Errorf("written %d of %d, %d errors (%s)", st.Written, n, st.Errors, st.LastError)
	}
	if err := l.Hold(t.Context(), "INC-final", "dsl", ids...); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Held(t.Context(), "INC-final"); !slices.Equal(got, ids) {
		t.Errorf("held %v, want %v", got, ids)
	}
}

// At a steady rate the writer commits about once a FlushInterval, however
// short its rests: a pass writes what was queued when it began, and what
// arrives during its rests waits for the next pass. Writing whatever came
// in during each rest instead made every transaction carry only the few
// entries of one rest (at 20,000 queries a second about 60, against 4,000).
func TestWriter_steadyRateCommitsOncePerInterval(t *testing.T) {
	var batches atomic.Int32
	l := openTest(t, Config{FlushInterval: 200 * time.Millisecond,
		// Half a core spare: the writer rests as long as each batch took.
		Spare:           func() (float64, bool) { return 0.5, true },
		testBeforeWrite: func() { batches.Add(1); time.Sleep(2 * time.Millisecond) }})
	start := time.Now()
	for time.Since(start) < time.Second {
		for range 20 {
			l.Enqueue(fullEntry())
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := batches.Load()
	// One pass per 200 ms, plus slack for a slow machine's late timers.
	if limit := int32(elapsed/(200*time.Millisecond)) + 3; got > limit {
		t.Errorf("%d transactions in %v at a steady rate, want at most %d (one per FlushInterval)", got, elapsed.Round(time.Millisecond), limit)
	}
	flush(t, l)
	if st := l.Status(); st.Written == 0 || st.Queued != 0 {
		t.Errorf("after Flush: written %d, queued %d", st.Written, st.Queued)
	}
}
