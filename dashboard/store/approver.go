package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The approver capability lets an account approve or reject proposed
// changes to the safeguarding settings (package safeguarding's
// RoleApprover). It is a flag beside the account's role, not a role of
// its own: a head teacher may be a viewer (a governor) or a safeguarding
// lead and also an approver. Only admins give it (gatehouse users add
// --approver, gatehouse users approver, or the accounts page); the
// dashboard reads it on every request, so taking it away takes effect at
// once without ending sessions.

// SetApprover gives (on) or takes away (off) an account's approver
// capability.
func (s *Store) SetApprover(ctx context.Context, name string, on bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET approver = ? WHERE name = ?`, boolInt(on), name)
	if err != nil {
		return fmt.Errorf("setting approver for %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", name, ErrNoUser)
	}
	return nil
}

// IsApprover reports whether the account holds the approver capability;
// false for an account that does not exist.
func (s *Store) IsApprover(ctx context.Context, name string) (bool, error) {
	var on int
	err := s.db.QueryRowContext(ctx, `SELECT approver FROM users WHERE name = ?`, name).Scan(&on)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("reading approver for %s: %w", name, err)
	}
	return on != 0, nil
}

// Approvers returns the names of the accounts holding the approver
// capability.
func (s *Store) Approvers(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM users WHERE approver != 0`)
	if err != nil {
		return nil, fmt.Errorf("listing approvers: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
