package querylog

import (
	"context"
	"database/sql"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func maintain(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Maintain(context.Background()); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
}

// aged is an entry of group from client, days before now (enqueue in
// chronological order: IDs follow enqueue order).
func aged(now time.Time, days float64, group, client string) Entry {
	e := fullEntry()
	e.Time = now.Add(-time.Duration(days * 24 * float64(time.Hour)))
	e.Group = group
	e.Client = netip.MustParseAddr(client)
	e.Hostname = "host-" + client
	e.MAC = ""
	e.QName = group + "-" + client + ".example.org."
	return e
}

func TestRetention_perGroupWithHolds(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	l := openTest(t, Config{Now: clk.Now, MaintenanceBatch: 3,
		Retention: Retention{Default: 30, Groups: map[string]int{"pupils": 90, "guests": 7}}})
	type row struct {
		days   float64
		group  string
		keep   bool
		held   bool
		client string
	}
	rows := []row{
		{120, "pupils", true, true, "10.0.0.1"},
		{100, "pupils", false, false, "10.0.0.2"},
		{100, "pupils", false, false, "10.0.0.3"},
		{95, "pupils", false, false, "10.0.0.2"},
		{91, "pupils", false, false, "10.0.0.2"},
		{89, "pupils", true, false, "10.0.0.2"},
		{40, "staff", false, false, "10.1.0.1"},
		{35, "", false, false, "10.1.0.9"}, // no group: default
		{20, "staff", true, false, "10.1.0.1"},
		{10, "guests", false, false, "10.2.0.1"},
		{8, "guests", false, true, "10.2.0.2"}, // held, released below
		{5, "guests", true, false, "10.2.0.1"},
		{0, "pupils", true, false, "10.0.0.3"},
	}
	var ids []uint64
	for _, r := range rows {
		id, _ := l.EnqueueID(aged(now, r.days, r.group, r.client))
		ids = append(ids, id)
	}
	flush(t, l)
	for i, r := range rows {
		if r.held {
			if err := l.Hold(t.Context(), "INC-"+r.group, "dsl@school", ids[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	maintain(t, l)
	remaining := func() []uint64 {
		var got []uint64
		for _, e := range mustSearch(t, l, Filter{Limit: 100}).Entries {
			got = append(got, e.ID)
		}
		slices.Sort(got)
		return got
	}
	var want []uint64
	for i, r := range rows {
		if r.keep || r.held {
			want = append(want, ids[i])
		}
	}
	if got := remaining(); !slices.Equal(got, want) {
		t.Errorf("after purge: %v\nwant %v", got, want)
	}
	if st := l.Status(); st.Purged != uint64(len(rows)-len(want)) {
		t.Errorf("Status.Purged = %d, want %d", st.Purged, len(rows)-len(want))
	}
	// Purged clients and names are gone from the dimension tables too.
	var n int
	l.rdb.QueryRow(`SELECT count(*) FROM clients WHERE addr = '10.1.0.9'`).Scan(&n)
	if n != 0 {
		t.Error("client of purged entries still stored")
	}
	l.rdb.QueryRow(`SELECT count(*) FROM names WHERE name = '-10.1.0.9.example.org.'`).Scan(&n)
	if n != 0 {
		t.Error("name of purged entries still stored")
	}

	// Holds list and release.
	if got, _ := l.Held(t.Context(), "INC-guests"); !slices.Equal(got, []uint64{ids[10]}) {
		t.Errorf("Held = %v", got)
	}
	if n, err := l.Release(t.Context(), "INC-guests"); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	maintain(t, l)
	want = slices.DeleteFunc(want, func(id uint64) bool { return id == ids[10] })
	if got := remaining(); !slices.Equal(got, want) {
		t.Errorf("after release: %v\nwant %v", got, want)
	}
	// An entry under two references stays until both are released.
	l.Hold(t.Context(), "A", "x", ids[0])
	l.Release(t.Context(), "INC-pupils")
	maintain(t, l)
	if got := remaining(); got[0] != ids[0] {
		t.Errorf("entry held under a second ref was purged")
	}
	l.Release(t.Context(), "A")
	maintain(t, l)
	if got := remaining(); got[0] == ids[0] {
		t.Errorf("entry still kept after all holds released")
	}
	// Ingest goes on after maintenance.
	l.Enqueue(aged(now, 0, "pupils", "10.0.0.9"))
	flush(t, l)
}

func TestPseudonymise(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	l := openTest(t, Config{Now: clk.Now, PseudonymiseAfter: 14, MaintenanceBatch: 2,
		Retention: Retention{Default: 365}})
	mk := func(days float64, client, mac, host string, d Decision) Entry {
		e := aged(now, days, "pupils", client)
		e.MAC, e.Hostname, e.Decision = mac, host, d
		if d == BypassAttempt {
			e.Category = "doh"
		}
		return e
	}
	entries := []Entry{
		0: mk(30, "10.0.0.1", "aa:aa:aa:aa:aa:01", "Y9-IPAD-12", Blocked),
		1: mk(29, "10.0.0.2", "aa:aa:aa:aa:aa:02", "Y9-IPAD-13", Blocked),
		2: mk(28, "10.0.0.1", "aa:aa:aa:aa:aa:01", "Y9-IPAD-12", BypassAttempt),
		3: mk(27, "10.0.0.3", "aa:aa:aa:aa:aa:03", "Y9-IPAD-14", Blocked), // held
		4: mk(20, "10.0.0.1", "aa:aa:aa:aa:aa:01", "Y9-IPAD-12", Allowed),
		5: mk(5, "10.0.0.1", "aa:aa:aa:aa:aa:01", "Y9-IPAD-12", Blocked), // recent
	}
	for i := range entries {
		entries[i].ID, _ = l.EnqueueID(entries[i])
	}
	flush(t, l)
	l.Hold(t.Context(), "INC-7", "dsl", entries[3].ID)
	maintain(t, l)
	maintain(t, l) // a second pass changes nothing
	if st := l.Status(); st.Pseudonymised != 4 {
		t.Errorf("Status.Pseudonymised = %d, want 4", st.Pseudonymised)
	}
	byID := map[uint64]Entry{}
	for _, e := range mustSearch(t, l, Filter{}).Entries {
		byID[e.ID] = e
	}
	pseud := func(i int) Entry { return byID[entries[i].ID] }
	for _, i := range []int{0, 1, 2, 4} {
		e := pseud(i)
		if e.Client.IsValid() || !strings.HasPrefix(e.Pseudonym, "anon-") ||
			!strings.HasPrefix(e.MAC, "anon-") || !strings.HasPrefix(e.Hostname, "anon-") {
			t.Errorf("entry %d not pseudonymised: %+v", i, e)
		}
		if e.QName != entries[i].QName || e.Decision != entries[i].Decision {
			t.Errorf("entry %d lost non-identity fields: %+v", i, e)
		}
	}
	// One device, one pseudonym; another device, another.
	if pseud(0).Pseudonym != pseud(2).Pseudonym || pseud(0).Pseudonym != pseud(4).Pseudonym ||
		pseud(0).Hostname != pseud(4).Hostname {
		t.Error("one device has several pseudonyms")
	}
	if pseud(0).Pseudonym == pseud(1).Pseudonym || pseud(0).MAC == pseud(1).MAC {
		t.Error("two devices share a pseudonym")
	}
	// Held and recent entries keep their identity.
	for _, i := range []int{3, 5} {
		if e := pseud(i); e.Client != entries[i].Client || e.Hostname != entries[i].Hostname {
			t.Errorf("entry %d lost its identity: %+v", i, e)
		}
	}
	// Searching: the real address finds only the recent entry; the
	// pseudonym finds the old ones.
	if p := mustSearch(t, l, Filter{Client: "10.0.0.1"}); len(p.Entries) != 1 || p.Entries[0].ID != entries[5].ID {
		t.Errorf("search by address after pseudonymisation: %d entries", len(p.Entries))
	}
	if p := mustSearch(t, l, Filter{Client: pseud(0).Pseudonym}); len(p.Entries) != 3 {
		t.Errorf("search by pseudonym: %d entries, want 3", len(p.Entries))
	}
	// The identity of 10.0.0.2 is gone from the database entirely.
	var n int
	l.rdb.QueryRow(`SELECT count(*) FROM clients WHERE addr = '10.0.0.2' OR hostname = 'Y9-IPAD-13'`).Scan(&n)
	if n != 0 {
		t.Error("pseudonymised identity still stored in clients")
	}
	// Reports for those days show pseudonyms, with counts preserved.
	r, err := l.Report(t.Context(), now.AddDate(0, 0, -31), now.AddDate(0, 0, -14), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.TopClients {
		if !c.Client.Pseudonymised || strings.Contains(c.Client.String(), "Y9-IPAD") {
			t.Errorf("old report names a device: %+v", c)
		}
	}
	if len(r.TopClients) != 3 || len(r.Bypass) != 1 || r.Bypass[0].Client.Client != pseud(2).Pseudonym {
		t.Errorf("old report: top %+v bypass %+v", r.TopClients, r.Bypass)
	}
	// Releasing the hold lets the held entry be pseudonymised.
	l.Release(t.Context(), "INC-7")
	maintain(t, l)
	if p := mustSearch(t, l, Filter{Client: "10.0.0.3"}); len(p.Entries) != 0 {
		t.Error("released entry kept its identity")
	}
}

func TestWriter_diskFullSurvivesAndResumes(t *testing.T) {
	var turns atomic.Int64
	l := openTest(t, Config{FlushInterval: 10 * time.Millisecond, testLoop: func() { turns.Add(1) }})
	l.Enqueue(fullEntry())
	flush(t, l)
	exec := func(q string) {
		t.Helper()
		err := l.ask(t.Context(), request{kind: reqExec, fn: func(ctx context.Context, c *sql.Conn) error {
			_, err := c.ExecContext(ctx, q)
			return err
		}})
		if err == nil {
			err = l.ask(t.Context(), request{kind: reqExecBatch, query: q})
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Make the database "full": no more pages than it has now.
	var pages int64
	l.rdb.QueryRow(`PRAGMA page_count`).Scan(&pages)
	exec("PRAGMA max_page_count = " + itoa(pages))
	for i := range 3000 {
		e := fullEntry()
		e.QName = strings.Repeat("x", 60) + itoa(int64(i)) + ".example."
		l.Enqueue(e)
	}
	// The writer's own 10 ms flush may meet the full database first and
	// drop the batch; then Flush finds nothing left to write.
	if err := l.Flush(t.Context()); err == nil && !l.Status().Failing {
		t.Fatal("Flush on a full database succeeded, and the writer reports no failure")
	}
	st := l.Status()
	if !st.Failing || st.Errors == 0 || st.Dropped == 0 || !strings.Contains(st.LastError, "full") {
		t.Errorf("Status after disk full = %+v", st)
	}
	// Enqueue still never blocks while the writer is failing.
	for range 10 {
		l.Enqueue(fullEntry())
	}
	// And the writer sleeps through its backoff (at least 100 ms), where
	// it used to spin: flushes fell due every 10 ms and found it backing off.
	before := turns.Load()
	time.Sleep(300 * time.Millisecond)
	if n := turns.Load() - before; n > 100 {
		t.Errorf("the writer's loop turned %d times in 300 ms of backing off: it spins", n)
	}
	// Space is freed: writing resumes.
	exec("PRAGMA max_page_count = 1073741823")
	l.Enqueue(fullEntry())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := l.Flush(t.Context()); err == nil && !l.Status().Failing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer did not resume: %+v", l.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var n int
	l.rdb.QueryRow(`SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM recent)`).Scan(&n)
	if n < 2 {
		t.Errorf("%d entries after resuming, want at least 2", n)
	}
	var ok string
	l.rdb.QueryRow(`PRAGMA integrity_check`).Scan(&ok)
	if ok != "ok" {
		t.Errorf("integrity_check = %q", ok)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
