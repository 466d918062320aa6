package querylog

import (
	"database/sql"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A database written by schema v1 (before entries recorded the forwarder)
// is migrated in place when opened: its entries read back with no
// forwarder, and new entries record theirs.
func TestMigration_v1Forwarder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range append(splitSQL(migrations[0]),
		`CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO clients(id, addr, mac, hostname) VALUES (1, '10.0.0.1', '', '')`,
		`INSERT INTO names(id, name, rkey) VALUES (1, 'old.example.', 'example.old')`,
	) {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	oldID := idAt(t0)
	if _, err := db.Exec(`INSERT INTO entries(id, ts, client, grp, rule, qname, qtype, proto, decision, category, list, matched, rcode, answer, source, dnssec, duration)
		VALUES (?, ?, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, '', 0, 0, 0)`, oldID, t0.UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	l, err := Open(Config{Path: path})
	if err != nil {
		t.Fatalf("opening a v1 database: %v", err)
	}
	defer l.Close()
	e := fullEntry()
	e.Time = t0.Add(time.Minute)
	e.Forwarder = netip.MustParseAddr("192.168.1.1")
	l.Enqueue(e)
	flush(t, l)
	p := mustSearch(t, l, Filter{})
	if len(p.Entries) != 2 {
		t.Fatalf("%d entries after migrating, want the old one and the new one", len(p.Entries))
	}
	if got := p.Entries[1]; got.ID != uint64(oldID) || got.QName != "old.example." || got.Forwarder.IsValid() {
		t.Errorf("the v1 entry reads back as %+v", got)
	}
	if got := p.Entries[0]; got.Forwarder != e.Forwarder || got.Client != e.Client {
		t.Errorf("new entry: forwarder %v client %v, want %v via %v", got.Forwarder, got.Client, e.Client, e.Forwarder)
	}
	if r := l.Record(&p.Entries[0]); r.Forwarder != "192.168.1.1" {
		t.Errorf("record forwarder %q", r.Forwarder)
	}
	var v int
	l.rdb.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v)
	if v != schemaVersion {
		t.Errorf("schema v%d after opening, want v%d", v, schemaVersion)
	}
}

// A schema v2 database (with the group index) is migrated to v3 when
// opened: the index goes, searches by group find the same entries, and
// retention purges each group by its own days from the migrated rows.
func TestMigration_v2DropsGroupIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	type row struct {
		days float64
		grp  int64 // 1 pupils, 2 guests
		keep bool
	}
	rows := []row{{40, 1, false}, {20, 2, false}, {10, 1, true}, {8, 2, false}, {6, 2, true}, {1, 1, true}, {0.5, 2, true}}
	stmts := append(splitSQL(migrations[0]), splitSQL(migrations[1])...)
	stmts = append(stmts,
		`CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0), (2, 0)`,
		`INSERT INTO dict(id, s) VALUES (1, 'pupils'), (2, 'guests')`,
		`INSERT INTO clients(id, addr, mac, hostname) VALUES (1, '10.0.0.1', '', 'Y9-IPAD-1'), (2, '10.9.0.1', '', 'GUEST-1')`,
		`INSERT INTO names(id, name, rkey) VALUES (1, 'old.example.', 'example.old')`,
	)
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	ids := map[int64][]uint64{} // group → ids kept, newest first
	for i, r := range rows {
		ts := now.Add(-time.Duration(r.days * 24 * float64(time.Hour)))
		id := idAt(ts) + int64(i)
		if _, err := db.Exec(`INSERT INTO entries(id, ts, client, grp, rule, qname, qtype, proto, decision, category, list, matched, rcode, answer, source, dnssec, duration)
			VALUES (?, ?, ?, ?, 0, 1, 1, 1, 1, 0, 0, 0, 0, 'A 192.0.2.1', 1, 0, 0)`, id, ts.UnixNano(), r.grp, r.grp); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO r_decisions(day, grp, decision, n) VALUES (?, ?, 1, 1)
			ON CONFLICT DO UPDATE SET n = n + 1`, dayKey(ts, london(t)), r.grp); err != nil {
			t.Fatal(err)
		}
		if r.keep {
			ids[r.grp] = append([]uint64{uint64(id)}, ids[r.grp]...)
		}
	}
	db.Close()

	clk := &clock{t: now}
	l, err := Open(Config{Path: path, Now: clk.Now, MaintenanceBatch: 2, Retention: Retention{Default: 30, Groups: map[string]int{"guests": 7}}})
	if err != nil {
		t.Fatalf("opening a v2 database: %v", err)
	}
	defer l.Close()
	var n int
	l.rdb.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'entries_grp'`).Scan(&n)
	if n != 0 {
		t.Error("entries_grp still exists after migrating to v3")
	}
	group := func(g string) []uint64 {
		var got []uint64
		for _, e := range mustSearch(t, l, Filter{Group: g}).Entries {
			if e.Group != g {
				t.Errorf("search for group %q returned an entry of %q", g, e.Group)
			}
			got = append(got, e.ID)
		}
		return got
	}
	if got := group("guests"); len(got) != 4 {
		t.Errorf("before maintenance, group guests: %d entries, want 4", len(got))
	}
	maintain(t, l)
	if got := group("pupils"); !slices.Equal(got, ids[1]) {
		t.Errorf("pupils after purge: %v, want %v", got, ids[1])
	}
	if got := group("guests"); !slices.Equal(got, ids[2]) {
		t.Errorf("guests after purge: %v, want %v", got, ids[2])
	}
	// A later pass purges what has expired since, from the marks on.
	clk.Set(now.Add(36 * time.Hour))
	e := fullEntry()
	e.Time, e.Group = now.Add(time.Hour), "guests"
	newID, _ := l.EnqueueID(e)
	flush(t, l)
	maintain(t, l)
	if got, want := group("guests"), []uint64{newID, ids[2][0]}; !slices.Equal(got, want) {
		t.Errorf("guests 36 hours later: %v, want %v", got, want)
	}
}

// Strings longer than the batch connection's in-place buffer, empty ones
// and non-ASCII ones are stored intact.
func TestWriter_longAndEmptyStrings(t *testing.T) {
	l := openTest(t, Config{})
	e := fullEntry()
	e.Answer = Text(strings.Repeat("A 192.0.2.1, ", 800)) // ~10 kB
	e.Hostname = strings.Repeat("é", 3000)
	e.MAC, e.List = "", ""
	e.QName = strings.Repeat("a", 63) + ".bücher.example."
	id, _ := l.EnqueueID(e)
	e2 := fullEntry()
	e2.Hostname = "short"
	l.Enqueue(e2)
	flush(t, l)
	got := mustSearch(t, l, Filter{ID: id}).Entries
	if len(got) != 1 {
		t.Fatalf("%d entries for id %d", len(got), id)
	}
	g := got[0]
	if g.Answer.Summary() != e.Answer.Summary() || g.Hostname != e.Hostname || g.MAC != "" || g.List != "" || g.QName != e.QName {
		t.Errorf("long strings read back as answer %d bytes, hostname %d bytes %q..., mac %q, list %q, qname %q",
			len(g.Answer.Summary()), len(g.Hostname), g.Hostname[:min(10, len(g.Hostname))], g.MAC, g.List, g.QName)
	}
	if p := mustSearch(t, l, Filter{Client: "short"}); len(p.Entries) != 1 || p.Entries[0].Hostname != "short" {
		t.Errorf("search by the second entry's hostname: %+v", p.Entries)
	}
}

func london(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A schema v3 database (entries only, no staging table) is migrated to v4
// when opened: its entries read back from entries, new ones are staged
// above them, and a merge moves them after the old ones with their IDs.
func TestMigration_v3AddsStaging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range migrations[:3] {
		stmts = append(stmts, splitSQL(m)...)
	}
	stmts = append(stmts,
		`CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 0), (2, 0), (3, 0)`,
		`INSERT INTO dict(id, s) VALUES (1, 'pupils')`,
		`INSERT INTO clients(id, addr, mac, hostname) VALUES (1, '10.0.0.1', '', 'Y9-IPAD-1')`,
		`INSERT INTO names(id, name, rkey) VALUES (1, 'old.example.', 'example.old')`,
	)
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var old []uint64
	for i := range 3 {
		ts := t0.Add(time.Duration(i) * time.Second)
		if _, err := db.Exec(`INSERT INTO entries(id, ts, client, grp, rule, qname, qtype, proto, decision, category, list, matched, rcode, answer, source, dnssec, duration, forwarder)
			VALUES (?, ?, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 'A 192.0.2.1', 1, 0, 0, '')`, idAt(ts), ts.UnixNano()); err != nil {
			t.Fatal(err)
		}
		old = append(old, uint64(idAt(ts)))
	}
	db.Close()

	l, err := Open(Config{Path: path})
	if err != nil {
		t.Fatalf("opening a v3 database: %v", err)
	}
	defer l.Close()
	var v int
	l.rdb.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v)
	if v != 4 || schemaVersion != 4 {
		t.Fatalf("schema v%d after opening (this program v%d), want v4", v, schemaVersion)
	}
	if p := mustSearch(t, l, Filter{Client: "Y9-IPAD-1"}); len(p.Entries) != 3 || p.Entries[2].ID != old[0] || p.Entries[0].QName != "old.example." {
		t.Errorf("migrated entries read back as %+v", p.Entries)
	}
	e := fullEntry()
	e.Time = t0 // earlier than the newest old entry: the ID still goes above it
	newID, _ := l.EnqueueID(e)
	flush(t, l)
	if got := tableIDs(t, l.rdb, tableRecent); !slices.Equal(got, []uint64{newID}) || newID <= old[2] {
		t.Errorf("staged %v, new ID %d, want it staged above %d", got, newID, old[2])
	}
	mergeAll(t, l)
	if got, want := tableIDs(t, l.rdb, tableEntries), append(old, newID); !slices.Equal(got, want) {
		t.Errorf("after merging entries = %v, want %v", got, want)
	}
	if p := mustSearch(t, l, Filter{}); len(p.Entries) != 4 || p.Entries[0].ID != newID || p.Entries[0].QName != e.QName {
		t.Errorf("after merging, search = %+v", p.Entries)
	}
}
