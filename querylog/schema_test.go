package querylog

import (
	"database/sql"
	"net/netip"
	"path/filepath"
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
