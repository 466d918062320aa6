// Package audit is Gatehouse's append-only, hash-chained audit log of
// safeguarding settings: proposals, approvals, rejections, applied changes
// and changes of delivery infrastructure. Each record's hash is SHA-256
// over the previous record's hash and the record's canonical JSON, so
// editing, deleting or reordering any record breaks the chain from that
// point, and Verify names the first broken record. The table lives in the
// caller's SQLite database (the safeguarding database); triggers refuse
// UPDATE and DELETE so no code path can rewrite history by mistake. The
// chain cannot by itself detect the newest records being cut off: keep the
// head hash Verify prints (the weekly report carries it) to detect that.
// It imports nothing from Gatehouse.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Record kinds written by the safeguarding engine.
const (
	KindSeeded         = "seeded"         // settings first stored from the config
	KindProposed       = "proposed"       // a change proposed
	KindApproved       = "approved"       // a proposal approved by another account
	KindRejected       = "rejected"       // a proposal rejected
	KindApplied        = "applied"        // the settings in force changed
	KindInfrastructure = "infrastructure" // the config's delivery infrastructure changed
	KindRefused        = "refused"        // a proposal refused outright (it would lower a locked category)
	KindAccount        = "account"        // a dashboard account added, removed, or its role, password or approver capability changed
)

// Record is one audit log entry.
type Record struct {
	Seq     int64           `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Kind    string          `json:"kind"`
	Subject string          `json:"subject"`
	Payload json.RawMessage `json:"payload"`
	Prev    string          `json:"prev"` // hex SHA-256 of the previous record; "" for the first
	Hash    string          `json:"hash"`
}

// Schema creates the audit table and its append-only triggers.
const Schema = `
CREATE TABLE IF NOT EXISTS audit (
	seq     INTEGER PRIMARY KEY,
	ts      TEXT NOT NULL,
	actor   TEXT NOT NULL,
	kind    TEXT NOT NULL,
	subject TEXT NOT NULL,
	payload TEXT NOT NULL,
	prev    TEXT NOT NULL,
	hash    TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`

// canonical is what a record's hash covers, in a fixed field order.
func canonical(r Record) ([]byte, error) {
	var payload bytes.Buffer
	if len(r.Payload) == 0 {
		payload.WriteString("null")
	} else if err := json.Compact(&payload, r.Payload); err != nil {
		return nil, fmt.Errorf("audit record payload: %w", err)
	}
	v := struct {
		Seq     int64           `json:"seq"`
		Time    string          `json:"time"`
		Actor   string          `json:"actor"`
		Kind    string          `json:"kind"`
		Subject string          `json:"subject"`
		Payload json.RawMessage `json:"payload"`
		Prev    string          `json:"prev"`
	}{r.Seq, r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.Kind, r.Subject, payload.Bytes(), r.Prev}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// hash is SHA-256 over the previous hash (raw bytes) and the canonical
// JSON of r.
func hash(r Record) (string, error) {
	c, err := canonical(r)
	if err != nil {
		return "", err
	}
	prev, err := hex.DecodeString(r.Prev)
	if err != nil {
		return "", fmt.Errorf("previous hash %q: %w", r.Prev, err)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Execer is a transaction or database: Append runs inside the caller's
// transaction so a record and the change it describes commit together.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Append adds r (Seq, Prev and Hash are filled in) and returns it as
// stored. Run it in a write transaction: it reads the head and inserts
// after it.
func Append(ctx context.Context, tx Execer, r Record) (Record, error) {
	var seq int64
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("appending to the audit log: %w", err)
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC().Round(0)
	r.Seq, r.Prev = seq+1, prev
	var b bytes.Buffer
	if len(r.Payload) == 0 {
		r.Payload = json.RawMessage("null")
	}
	if err := json.Compact(&b, r.Payload); err != nil {
		return Record{}, fmt.Errorf("appending to the audit log: payload: %w", err)
	}
	r.Payload = b.Bytes()
	if r.Hash, err = hash(r); err != nil {
		return Record{}, fmt.Errorf("appending to the audit log: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit(seq, ts, actor, kind, subject, payload, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, r.Time.Format(time.RFC3339Nano), r.Actor, r.Kind, r.Subject, string(r.Payload), r.Prev, r.Hash)
	if err != nil {
		return Record{}, fmt.Errorf("appending to the audit log: %w", err)
	}
	return r, nil
}

// BrokenError names the first record where the chain does not hold.
type BrokenError struct {
	Seq    int64 // the record as stored (its seq column)
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit log broken at record %d: %s", e.Seq, e.Reason)
}

// Querier is a database or transaction to read from.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Verify walks the whole chain in order and returns how many records it
// checked and the head hash. A broken chain returns a *BrokenError for the
// first record that does not follow from the one before it.
func Verify(ctx context.Context, db Querier) (n int, head string, err error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, ts, actor, kind, subject, payload, prev, hash FROM audit ORDER BY rowid`)
	if err != nil {
		return 0, "", fmt.Errorf("reading the audit log: %w", err)
	}
	defer rows.Close()
	var want int64 = 1
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return n, head, err
		}
		switch {
		case r.Seq != want:
			return n, head, &BrokenError{Seq: r.Seq, Reason: fmt.Sprintf("expected record %d here (a record was deleted or moved)", want)}
		case r.Prev != head:
			return n, head, &BrokenError{Seq: r.Seq, Reason: "its previous-hash does not match the record before it (a record was deleted, moved or edited)"}
		}
		h, err := hash(r)
		if err != nil {
			return n, head, &BrokenError{Seq: r.Seq, Reason: err.Error()}
		}
		if h != r.Hash {
			return n, head, &BrokenError{Seq: r.Seq, Reason: "its content does not match its hash (the record was edited)"}
		}
		head = r.Hash
		want++
		n++
	}
	if err := rows.Err(); err != nil {
		return n, head, fmt.Errorf("reading the audit log: %w", err)
	}
	return n, head, nil
}

func scan(rows *sql.Rows) (Record, error) {
	var r Record
	var ts, payload string
	if err := rows.Scan(&r.Seq, &ts, &r.Actor, &r.Kind, &r.Subject, &payload, &r.Prev, &r.Hash); err != nil {
		return r, fmt.Errorf("reading the audit log: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return r, &BrokenError{Seq: r.Seq, Reason: fmt.Sprintf("bad time %q", ts)}
	}
	r.Time, r.Payload = t, json.RawMessage(payload)
	return r, nil
}

// List returns records after seq (0: from the start), oldest first, at
// most limit (0: all).
func List(ctx context.Context, db Querier, after int64, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, ts, actor, kind, subject, payload, prev, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
