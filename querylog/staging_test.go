package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// mergeAll writes everything queued and merges everything staged.
func mergeAll(t testing.TB, l *Log) {
	t.Helper()
	if err := l.ask(context.Background(), request{kind: reqMerge}); err != nil {
		t.Fatalf("merge: %v", err)
	}
}

// tableIDs lists the entry IDs of table (tableEntries or tableRecent), in
// ID order.
func tableIDs(t testing.TB, db *sql.DB, table string) []uint64 {
	t.Helper()
	rows, err := db.Query(`SELECT id FROM ` + table + ` ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, uint64(id))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkTables asserts that entries and recent together hold want (IDs in
// order), each exactly once, every staged ID above every merged one.
func checkTables(t *testing.T, db *sql.DB, want []uint64) (merged, staged []uint64) {
	t.Helper()
	merged, staged = tableIDs(t, db, tableEntries), tableIDs(t, db, tableRecent)
	if got := append(slices.Clone(merged), staged...); !slices.Equal(got, want) {
		t.Fatalf("entries+recent hold %d IDs, want %d (merged %d, staged %d); first difference at %d",
			len(got), len(want), len(merged), len(staged), firstDiff(got, want))
	}
	return merged, staged
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The writer merges on its own once MergeRows entries are staged, in
// slices of MergeBatch, while new entries keep committing and a reader
// pages through the log: every entry ends up in entries exactly once,
// with its ID, and every search page sees each entry once.
func TestMerge_everyEntryOnceWhileReading(t *testing.T) {
	l := openTest(t, Config{MergeRows: 300, MergeBatch: 70, BatchSize: 50, FlushInterval: time.Millisecond})
	const n = 3000
	var ids []uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			e := fullEntry()
			e.Time = t0.Add(time.Duration(i) * time.Millisecond)
			e.QName = fmt.Sprintf("n%d.example.", i%97)
			id, ok := l.EnqueueID(e)
			for !ok {
				time.Sleep(time.Millisecond)
				id, ok = l.EnqueueID(e)
			}
			ids = append(ids, id)
			if i%25 == 0 {
				time.Sleep(time.Millisecond) // let the writer flush and merge on its own
			}
		}
	}()
	// Page through everything written so far, again and again, while
	// merges move entries between the tables: a page never repeats an
	// entry and never skips one below the newest it has seen.
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var got []uint64
		f := Filter{Limit: 64}
		for {
			p := mustSearch(t, l, f)
			for _, e := range p.Entries {
				got = append(got, e.ID)
			}
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		// Entry i is at t0 + i ms, so its ID is its millisecond << 16:
		// newest first, each ID is 1<<16 below the one before.
		for i := 1; i < len(got); i++ {
			if got[i-1]-got[i] != 1<<idSeqBits {
				t.Fatalf("paging: ID %d after %d: an entry repeated or missing", got[i], got[i-1])
			}
		}
	}
	flush(t, l)
	// The writer merges at its CPU share, resting nine times as long as
	// each slice took: under -race on a busy machine that is seconds.
	settle := time.Now()
	deadline := settle.Add(60 * time.Second)
	for len(tableIDs(t, l.rdb, tableRecent)) >= 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("merged down in %v", time.Since(settle).Round(time.Millisecond))
	merged, staged := checkTables(t, l.rdb, ids)
	if len(merged) == 0 || len(staged) >= 300 {
		t.Fatalf("merged %d, staged %d: want merges once 300 are staged", len(merged), len(staged))
	}
	// Each entry reads back with its own fields after the move.
	for _, f := range []Filter{{ID: merged[0]}, {ID: merged[len(merged)-1]}, {Domain: "n5.example"}} {
		p := mustSearch(t, l, f)
		if len(p.Entries) == 0 {
			t.Fatalf("Search(%+v) found nothing", f)
		}
		for _, e := range p.Entries {
			i := slices.Index(ids, e.ID)
			if want := fmt.Sprintf("n%d.example.", i%97); i < 0 || e.QName != want || !e.Time.Equal(t0.Add(time.Duration(i)*time.Millisecond)) {
				t.Errorf("entry %d reads back as %s at %v, want %s", e.ID, e.QName, e.Time, want)
			}
		}
	}
	mergeAll(t, l)
	if merged, staged := checkTables(t, l.rdb, ids); len(staged) != 0 || len(merged) != n {
		t.Errorf("after merging all: merged %d, staged %d", len(merged), len(staged))
	}
	if st := l.Status(); st.Written != n || st.Errors != 0 {
		t.Errorf("written %d of %d, %d errors (%s)", st.Written, n, st.Errors, st.LastError)
	}
}

// MergeInterval starts a merge of whatever is staged, however little.
func TestMerge_interval(t *testing.T) {
	l := openTest(t, Config{MergeInterval: 20 * time.Millisecond, FlushInterval: 5 * time.Millisecond})
	id, _ := l.EnqueueID(fullEntry())
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(tableIDs(t, l.rdb, tableEntries), []uint64{id}) {
		if time.Now().After(deadline) {
			t.Fatalf("entry not merged within 10s of a 20ms merge interval (staged: %v)", tableIDs(t, l.rdb, tableRecent))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The CLI opens the log read-only (its own connections, normally from
// another process): staged entries are there for it too, in search,
// export and tail, before any merge.
func TestOpenReadOnly_seesStagedEntries(t *testing.T) {
	l := openTest(t, Config{})
	es := loadFixtureIn(t, l, "split")
	if merged, staged := tableIDs(t, l.rdb, tableEntries), tableIDs(t, l.rdb, tableRecent); len(merged) == 0 || len(staged) == 0 {
		t.Fatalf("fixture not split: merged %d staged %d", len(merged), len(staged))
	}
	ro, err := OpenReadOnly(l.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	p := mustSearch(t, ro, Filter{Client: "10.20.3.4"})
	if len(p.Entries) != 2 || p.Entries[0].ID != es[1].ID || p.Entries[1].ID != es[0].ID {
		t.Errorf("read-only search by client = %+v", p.Entries)
	}
	last := es[len(es)-1]
	if p := mustSearch(t, ro, Filter{ID: last.ID}); len(p.Entries) != 1 || p.Entries[0].QName != last.QName {
		t.Errorf("read-only search of the newest (staged) entry = %+v", p.Entries)
	}
	var csv strings.Builder
	if err := ro.ExportCSV(t.Context(), Filter{}, &csv); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(csv.String(), "\n"); n != len(es)+1 {
		t.Errorf("export has %d lines, want a header and %d entries", n, len(es))
	}
	// Tail from the first entry reads the merged ones, then the staged.
	var tailed []uint64
	ctx, cancel := context.WithCancel(t.Context())
	err = ro.TailFunc(ctx, Filter{}, es[0].ID, func(e Entry) error {
		tailed = append(tailed, e.ID)
		if len(tailed) == len(es)-1 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range es[1:] {
		want = append(want, e.ID)
	}
	if !slices.Equal(tailed, want) {
		t.Errorf("tail = %v, want %v", tailed, want)
	}
	if id, err := ro.lastID(t.Context()); err != nil || id != last.ID {
		t.Errorf("lastID = %d, %v; want the newest staged entry %d", id, err, last.ID)
	}
}

// An entry held while still staged keeps its hold through the merge, and
// retention (whose pass merges first) never deletes it; the other
// expired entries go.
func TestHold_stagedEntry(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	l := openTest(t, Config{Now: clk.Now, Retention: Retention{Default: 7}})
	var ids []uint64
	for i := range 4 {
		id, _ := l.EnqueueID(aged(now, 10-float64(i)/2, "pupils", "10.0.0.1")) // all expired
		ids = append(ids, id)
	}
	flush(t, l)
	if staged := tableIDs(t, l.rdb, tableRecent); !slices.Equal(staged, ids) {
		t.Fatalf("staged %v, want %v", staged, ids)
	}
	if err := l.Hold(t.Context(), "INC-1", "dsl", ids[1]); err != nil {
		t.Fatal(err)
	}
	if p := mustSearch(t, l, Filter{ID: ids[1]}); len(p.Entries) != 1 {
		t.Fatalf("held staged entry not found: %+v", p.Entries)
	}
	maintain(t, l)
	if got := tableIDs(t, l.rdb, tableEntries); !slices.Equal(got, ids[1:2]) {
		t.Errorf("after retention entries = %v, want only the held %d", got, ids[1])
	}
	if got := tableIDs(t, l.rdb, tableRecent); len(got) != 0 {
		t.Errorf("after maintenance staged = %v", got)
	}
	if n, err := l.Release(t.Context(), "INC-1"); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	maintain(t, l)
	if got := tableIDs(t, l.rdb, tableEntries); len(got) != 0 {
		t.Errorf("after release and retention entries = %v", got)
	}
}

// Entries left staged by a close (or a crash) stay readable after a
// restart, IDs continue above them, and they merge with the new ones.
func TestReopen_withStagedEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	l := openTest(t, Config{Path: path})
	var ids []uint64
	for i := range 5 {
		e := fullEntry()
		e.Time = t0.Add(time.Duration(i) * time.Second)
		id, _ := l.EnqueueID(e)
		ids = append(ids, id)
	}
	mergeAll(t, l)
	for i := range 5 {
		e := fullEntry()
		e.Time = t0.Add(time.Duration(10+i) * time.Second)
		id, _ := l.EnqueueID(e)
		ids = append(ids, id)
	}
	flush(t, l)
	l.Close()

	l2 := openTest(t, Config{Path: path, MergeRows: 8})
	if p := mustSearch(t, l2, Filter{}); len(p.Entries) != 10 {
		t.Fatalf("after reopening: %d entries, want 10", len(p.Entries))
	}
	id, ok := l2.EnqueueID(Entry{Time: t0, QName: "after.example."})
	if !ok || id <= ids[len(ids)-1] {
		t.Fatalf("after reopening EnqueueID = %d, want above the staged %d", id, ids[len(ids)-1])
	}
	ids = append(ids, id)
	for range 2 { // 8 staged: the writer merges on its own
		id, _ := l2.EnqueueID(Entry{Time: t0, QName: "more.example."})
		ids = append(ids, id)
	}
	flush(t, l2)
	deadline := time.Now().Add(10 * time.Second)
	for len(tableIDs(t, l2.rdb, tableRecent)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("left-over staged entries never merged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkTables(t, l2.rdb, ids)
}

// The clean-up of names and clients no longer used keeps those only
// staged entries use. (The staged row is written behind the writer's
// back, so the pass does not merge it first, as it would one it wrote.)
func TestMaintenance_keepsNamesOfStagedEntries(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	l := openTest(t, Config{Now: clk.Now, Retention: Retention{Default: 7}})
	kept := aged(now, 10, "pupils", "10.0.0.1")
	kept.QName = "kept.example."
	gone := aged(now, 9, "pupils", "10.0.0.2")
	gone.QName = "gone.example."
	l.Enqueue(kept)
	l.Enqueue(gone)
	mergeAll(t, l)
	var name, client int64
	if err := l.rdb.QueryRow(`SELECT e.qname, e.client FROM entries e JOIN names n ON n.id = e.qname WHERE n.name = ?`, kept.QName).Scan(&name, &client); err != nil {
		t.Fatal(err)
	}
	id := idAt(now)
	if err := l.ask(t.Context(), request{kind: reqExecBatch, query: fmt.Sprintf(`INSERT INTO recent(`+entryColumns+`)
		VALUES (%d, %d, %d, 0, 0, %d, 1, 0, 1, 0, 0, 0, 0, '', 0, 0, 0, '')`, id, now.UnixNano(), client, name)}); err != nil {
		t.Fatal(err)
	}
	maintain(t, l)
	if got := tableIDs(t, l.rdb, tableEntries); len(got) != 0 {
		t.Fatalf("expired entries not purged: %v", got)
	}
	var names []string
	rows, err := l.rdb.Query(`SELECT name FROM names ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	if !slices.Equal(names, []string{kept.QName}) {
		t.Errorf("names after clean-up = %v, want only %s (a staged entry uses it)", names, kept.QName)
	}
	p := mustSearch(t, l, Filter{Client: "10.0.0.1"})
	if len(p.Entries) != 1 || p.Entries[0].ID != uint64(id) || p.Entries[0].QName != kept.QName {
		t.Errorf("staged entry after clean-up: %+v", p.Entries)
	}
}
