package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Sessions returns every live session of every account (for an admin to
// review and end), by account then most recently seen first. Their CSRF
// tokens are left out: only the session's own pages may carry them.
func (s *Store) Sessions(ctx context.Context, now time.Time) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.user, u.role, s.addr, s.created, s.last_seen
FROM sessions s JOIN users u ON u.name = s.user
WHERE s.last_seen >= ? AND s.created >= ? ORDER BY s.user, s.last_seen DESC`,
		now.Add(-IdleTimeout).UnixNano(), now.Add(-MaxAge).UnixNano())
	if err != nil {
		return nil, fmt.Errorf("reading sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var sess Session
		var created, seen int64
		if err := rows.Scan(&sess.ID, &sess.User, &sess.Role, &sess.Addr, &created, &seen); err != nil {
			return nil, fmt.Errorf("reading sessions: %w", err)
		}
		sess.Created, sess.LastSeen = unixTime(created), unixTime(seen)
		out = append(out, sess)
	}
	return out, rows.Err()
}

// EndSession ends the session with the given ID (Session.ID, the token's
// hash) and returns whose it was; ErrNoSession when there is none.
func (s *Store) EndSession(ctx context.Context, id string) (string, error) {
	var user string
	err := s.db.QueryRowContext(ctx, `DELETE FROM sessions WHERE id = ? RETURNING user`, id).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoSession
	}
	if err != nil {
		return "", fmt.Errorf("ending session: %w", err)
	}
	return user, nil
}

// Prune deletes access-log records from before accessBefore and review
// requests closed before reviewsBefore (a zero time keeps them all), and
// returns how many of each went.
func (s *Store) Prune(ctx context.Context, accessBefore, reviewsBefore time.Time) (access, reviews int64, err error) {
	if !accessBefore.IsZero() {
		res, err := s.db.ExecContext(ctx, `DELETE FROM access_log WHERE at < ?`, accessBefore.UnixNano())
		if err != nil {
			return 0, 0, fmt.Errorf("pruning the access log: %w", err)
		}
		access, _ = res.RowsAffected()
	}
	if !reviewsBefore.IsZero() {
		res, err := s.db.ExecContext(ctx, `DELETE FROM reviews WHERE closed_at != 0 AND closed_at < ?`, reviewsBefore.UnixNano())
		if err != nil {
			return access, 0, fmt.Errorf("pruning closed review requests: %w", err)
		}
		reviews, _ = res.RowsAffected()
	}
	return access, reviews, nil
}
