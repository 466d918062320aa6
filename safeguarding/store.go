package safeguarding

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gatehouse/safeguarding/audit"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// schema is the safeguarding database. Times are RFC 3339 UTC text with
// nanoseconds, so they sort as strings.
const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
	version  INTEGER PRIMARY KEY,
	ts       TEXT NOT NULL,
	json     TEXT NOT NULL,
	proposal INTEGER          -- the approved proposal; NULL for the seed
);
CREATE TABLE IF NOT EXISTS proposals (
	id        INTEGER PRIMARY KEY,
	ts        TEXT NOT NULL,
	proposer  TEXT NOT NULL,
	reason    TEXT NOT NULL,
	base      INTEGER NOT NULL, -- the settings version it changes
	json      TEXT NOT NULL,
	state     TEXT NOT NULL,    -- pending, approved, rejected, withdrawn, stale
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at TEXT NOT NULL DEFAULT '',
	note      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS concerns (
	id          INTEGER PRIMARY KEY,
	ts          TEXT NOT NULL,   -- first hit
	created     TEXT NOT NULL,   -- when raised; timescales run from here
	last_hit    TEXT NOT NULL,
	hits        INTEGER NOT NULL,
	category    TEXT NOT NULL,
	priority    INTEGER NOT NULL,
	device      TEXT NOT NULL,   -- the detector's device key
	addr        TEXT NOT NULL,
	mac         TEXT NOT NULL,
	hostname    TEXT NOT NULL,
	grp         TEXT NOT NULL,
	client_rule TEXT NOT NULL,
	lease_source TEXT NOT NULL,
	qname       TEXT NOT NULL,   -- the first name looked up
	status      TEXT NOT NULL,   -- new, acknowledged, in-progress, closed
	incident    INTEGER NOT NULL DEFAULT 0,
	owner       TEXT NOT NULL DEFAULT '',
	acknowledged_by TEXT NOT NULL DEFAULT '',
	acknowledged_at TEXT NOT NULL DEFAULT '',
	closed_at   TEXT NOT NULL DEFAULT '',
	action_taken TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL DEFAULT '',
	escalation  INTEGER NOT NULL DEFAULT 0, -- 1: acknowledgement overdue, 2: closing overdue
	held        INTEGER NOT NULL DEFAULT 0, -- evidence on legal hold in the query log
	dedup_until TEXT NOT NULL DEFAULT ''    -- later hits before this join it (survives restarts)
);
CREATE INDEX IF NOT EXISTS concerns_open ON concerns(status, priority);
CREATE TABLE IF NOT EXISTS evidence (
	concern  INTEGER NOT NULL,
	entry    INTEGER NOT NULL, -- query log entry ID
	ts       TEXT NOT NULL,
	qname    TEXT NOT NULL,
	qtype    INTEGER NOT NULL,
	decision TEXT NOT NULL,
	category TEXT NOT NULL,
	list     TEXT NOT NULL,
	matched  TEXT NOT NULL,
	addr     TEXT NOT NULL,
	held     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (concern, entry)
);
CREATE TABLE IF NOT EXISTS events (
	id      INTEGER PRIMARY KEY,
	concern INTEGER NOT NULL,
	ts      TEXT NOT NULL,
	actor   TEXT NOT NULL,
	kind    TEXT NOT NULL,  -- raised, acknowledged, incident, status, owner, note, action, outcome, escalated, closed
	detail  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_concern ON events(concern);
CREATE TABLE IF NOT EXISTS outbox (
	id        INTEGER PRIMARY KEY,
	key       TEXT NOT NULL UNIQUE, -- idempotency key, sent with the message
	concern   INTEGER NOT NULL DEFAULT 0,
	kind      TEXT NOT NULL,  -- alert, digest, escalation, report
	recipient TEXT NOT NULL,
	channel   TEXT NOT NULL,  -- email, webhook, syslog
	target    TEXT NOT NULL,  -- address or webhook name
	message   TEXT NOT NULL,  -- deliver.Message as JSON
	state     TEXT NOT NULL,  -- pending, sending, sent, dead
	attempts  INTEGER NOT NULL DEFAULT 0,
	next_at   TEXT NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created   TEXT NOT NULL,
	sent_at   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);
CREATE TABLE IF NOT EXISTS digest (
	concern   INTEGER NOT NULL,
	recipient TEXT NOT NULL,
	speed     TEXT NOT NULL,
	created   TEXT NOT NULL,
	done      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (concern, recipient, speed)
);
` + audit.Schema

// dsn: WAL, and FULL synchronous: concerns are few and each must survive
// a power cut once stored (the query log trades that for speed; this
// database must not).
func dsn(path string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

func openDB(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("opening safeguarding database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening safeguarding database %s: %w", path, err)
	}
	return db, nil
}

// ts formats a time for the database.
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// parseTS reads a time written by ts ("" is the zero time).
func parseTS(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func getMeta(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func setMeta(ctx context.Context, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// withTx runs fn in a write transaction.
func withTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// VerifyFile checks the audit chain of the safeguarding database at path,
// opened read-only (the server may be running). It returns the records
// checked and the head hash, or an *audit.BrokenError naming the first
// broken record.
func VerifyFile(ctx context.Context, path string) (int, string, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, "", fmt.Errorf("no safeguarding database: %w", err)
	}
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	return audit.Verify(ctx, db)
}
