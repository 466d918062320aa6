package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// schemaVersion is the newest migration (len(migrations), checked by a
// test); Open and OpenReadOnly refuse a database
// newer than this binary understands.
const schemaVersion = 4

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration is never edited.
//
// Layout notes (schema v1):
//   - entries.id is the Entry ID and the table's rowid. IDs are
//     time-ordered, so the rowid order is the time order: a time range is a
//     rowid range, and every index on entries, which SQLite suffixes with
//     the rowid, is already an index on (key, time) at no extra cost.
//   - Strings that repeat are interned: clients (address, MAC, hostname),
//     names (query names, with rkey, the lower-cased name with its labels
//     reversed, so "*.example.org" is the index range "org.example" ..
//     "org.example/"), and dict (group, rule, category, list, matched
//     entry; never garbage-collected, its size is bounded by config and the
//     lists). dict id 0 is the empty string.
//   - r_* are the report rollups, one row per site-local day (YYYYMMDD),
//     group and key, maintained in the same transaction as the entries.
//   - The decision and category indexes are partial: most queries are
//     allowed and uncategorised, and those searches scan the time range.
var migrations = []string{
	// v1
	`CREATE TABLE meta(key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
CREATE TABLE dict(id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);
INSERT INTO dict(id, s) VALUES (0, '');
CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, rkey TEXT NOT NULL);
CREATE INDEX names_rkey ON names(rkey);
CREATE TABLE clients(
	id INTEGER PRIMARY KEY,
	addr TEXT NOT NULL, mac TEXT NOT NULL, hostname TEXT NOT NULL,
	pseudo INTEGER NOT NULL DEFAULT 0,
	UNIQUE(addr, mac, hostname));
CREATE INDEX clients_mac ON clients(mac COLLATE NOCASE);
CREATE INDEX clients_hostname ON clients(hostname COLLATE NOCASE);
CREATE TABLE entries(
	id INTEGER PRIMARY KEY,
	ts INTEGER NOT NULL,
	client INTEGER NOT NULL,
	grp INTEGER NOT NULL,
	rule INTEGER NOT NULL,
	qname INTEGER NOT NULL,
	qtype INTEGER NOT NULL,
	proto INTEGER NOT NULL,
	decision INTEGER NOT NULL,
	category INTEGER NOT NULL,
	list INTEGER NOT NULL,
	matched INTEGER NOT NULL,
	rcode INTEGER NOT NULL,
	answer TEXT NOT NULL,
	source INTEGER NOT NULL,
	dnssec INTEGER NOT NULL,
	duration INTEGER NOT NULL);
CREATE INDEX entries_client ON entries(client);
CREATE INDEX entries_qname ON entries(qname);
CREATE INDEX entries_grp ON entries(grp);
CREATE INDEX entries_decision ON entries(decision) WHERE decision <> 1;
CREATE INDEX entries_category ON entries(category) WHERE category <> 0;
CREATE TABLE holds(
	entry INTEGER NOT NULL, ref TEXT NOT NULL, who TEXT NOT NULL, at INTEGER NOT NULL,
	PRIMARY KEY(entry, ref)) WITHOUT ROWID;
CREATE INDEX holds_ref ON holds(ref);
CREATE TABLE r_decisions(
	day INTEGER NOT NULL, grp INTEGER NOT NULL, decision INTEGER NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY(day, grp, decision)) WITHOUT ROWID;
CREATE TABLE r_categories(
	day INTEGER NOT NULL, grp INTEGER NOT NULL, decision INTEGER NOT NULL, category INTEGER NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY(day, grp, decision, category)) WITHOUT ROWID;
CREATE TABLE r_names(
	day INTEGER NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY(day, grp, name)) WITHOUT ROWID;
CREATE TABLE r_clients(
	day INTEGER NOT NULL, grp INTEGER NOT NULL, client INTEGER NOT NULL, blocked INTEGER NOT NULL, bypass INTEGER NOT NULL,
	PRIMARY KEY(day, grp, client)) WITHOUT ROWID;
CREATE INDEX r_clients_client ON r_clients(client);
CREATE TABLE r_bypass(
	day INTEGER NOT NULL, grp INTEGER NOT NULL, client INTEGER NOT NULL, category INTEGER NOT NULL, n INTEGER NOT NULL,
	PRIMARY KEY(day, grp, client, category)) WITHOUT ROWID;
CREATE INDEX r_bypass_client ON r_bypass(client);`,
	// v2: the trusted forwarder that named the client (Entry.Forwarder);
	// '' for entries from before, and for clients that asked directly.
	// Adding a column with a constant default rewrites no existing row.
	`ALTER TABLE entries ADD COLUMN forwarder TEXT NOT NULL DEFAULT '';`,
	// v3: no index on entries(grp). It cost the writer a sixth of its CPU
	// per entry and 15 bytes per entry on disk, for little: groups are few
	// and large, so a search by group finds its page by scanning the time
	// range, and retention purges each group from a mark it keeps in meta
	// ('purge_mark/<group id>': every entry of the group below it is
	// purged or held), scanning each entry once per group.
	`DROP INDEX entries_grp;`,
	// v4: recent stages new entries. The writer commits every flush
	// interval (the crash promise) into recent, which has no secondary
	// index, so a commit appends a few pages at its right edge; every
	// MergeInterval (or MergeRows entries) the writer moves what is staged
	// into entries in large transactions, so each client's and name's
	// index insertion point is dirtied once per merge, not once per flush.
	// IDs are allocated in order and merged oldest first, so every ID in
	// recent is above every ID in entries; readers query both.
	`CREATE TABLE recent(
	id INTEGER PRIMARY KEY,
	ts INTEGER NOT NULL,
	client INTEGER NOT NULL,
	grp INTEGER NOT NULL,
	rule INTEGER NOT NULL,
	qname INTEGER NOT NULL,
	qtype INTEGER NOT NULL,
	proto INTEGER NOT NULL,
	decision INTEGER NOT NULL,
	category INTEGER NOT NULL,
	list INTEGER NOT NULL,
	matched INTEGER NOT NULL,
	rcode INTEGER NOT NULL,
	answer TEXT NOT NULL,
	source INTEGER NOT NULL,
	dnssec INTEGER NOT NULL,
	duration INTEGER NOT NULL,
	forwarder TEXT NOT NULL DEFAULT '');`,
}

// entryColumns are the columns of entries and recent, in the order the
// writer binds them.
const entryColumns = `id, ts, client, grp, rule, qname, qtype, proto, decision, category, list, matched, rcode, answer, source, dnssec, duration, forwarder`

// Where entries live: merged into the indexed table, or staged.
const (
	tableEntries = "entries"
	tableRecent  = "recent"
)

// migrate brings db to schemaVersion, one transaction per step, and
// records each step in schema_migrations. Re-running it is a no-op.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations(
	version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating migrations table: %w", err)
	}
	cur, err := currentVersion(ctx, db)
	if err != nil {
		return err
	}
	if cur > schemaVersion {
		return fmt.Errorf("database schema v%d is newer than this program (v%d)", cur, schemaVersion)
	}
	for v := cur; v < schemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrating to v%d: %w", v+1, err)
		}
		for _, stmt := range splitSQL(migrations[v]) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrating to v%d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`, v+1, now.Unix()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to v%d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrating to v%d: %w", v+1, err)
		}
	}
	return nil
}

func currentVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}

// splitSQL splits a migration into statements. Migrations are ours and
// contain no semicolons inside literals.
func splitSQL(s string) []string {
	var out []string
	for _, st := range strings.Split(s, ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}
