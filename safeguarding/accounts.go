package safeguarding

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"gatehouse/safeguarding/audit"
)

// AccountChange is a change to a dashboard account that bears on who may
// approve safeguarding changes. Two-person approval means nothing if one
// admin can quietly make a second account an approver, so every such change
// goes into the hash-chained audit log beside the approvals themselves.
type AccountChange struct {
	By      string // who made the change: a dashboard account, or "os:NAME" from the command line
	Account string // the account changed
	Change  string // e.g. "added (role admin)", "approver given", "password reset"
}

func (c AccountChange) record(now time.Time) (audit.Record, error) {
	if c.By == "" || c.Account == "" || c.Change == "" {
		return audit.Record{}, fmt.Errorf("recording an account change: by, account and change are all needed")
	}
	payload, err := json.Marshal(struct {
		Change string `json:"change"`
	}{c.Change})
	if err != nil {
		return audit.Record{}, err
	}
	return audit.Record{Time: now, Actor: c.By, Kind: audit.KindAccount, Subject: "account " + c.Account, Payload: payload}, nil
}

// RecordAccountChange appends an account change to the audit log.
func (e *Engine) RecordAccountChange(ctx context.Context, c AccountChange) error {
	rec, err := c.record(e.now())
	if err != nil {
		return err
	}
	return withTx(ctx, e.db, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, rec)
		return err
	})
}

// RecordAccountChangeFile appends an account change to the audit log of the
// safeguarding database at path, for the command line while the server may
// be running (SQLite serialises the two writers; a chain append that loses
// the race fails rather than forking the chain). A missing database is not
// an error: with safeguarding never enabled there is nothing to approve.
func RecordAccountChangeFile(ctx context.Context, path string, c AccountChange) error {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	rec, err := c.record(time.Now())
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return err
	}
	defer db.Close()
	err = withTx(ctx, db, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the account change in the safeguarding audit log %s: %w", path, err)
	}
	return nil
}
