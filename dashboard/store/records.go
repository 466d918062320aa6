package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Access is one look at personal data: a query-log search, export, live
// view, device page or report, recorded before the data is shown.
type Access struct {
	ID     int64
	At     time.Time
	User   string
	Addr   string // the browser's address
	Action string // "search", "export", "live", "device", "report"
	Detail string // the filter, as text
}

// Limits on stored free text, so a hostile form cannot fill the disk.
const (
	maxDetail  = 2000
	maxMessage = 1000
	maxHost    = 253
)

// LogAccess records a.
func (s *Store) LogAccess(ctx context.Context, a Access) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO access_log(at, user, addr, action, detail) VALUES (?, ?, ?, ?, ?)`,
		a.At.UnixNano(), a.User, a.Addr, a.Action, clip(a.Detail, maxDetail))
	if err != nil {
		return fmt.Errorf("recording query-log access: %w", err)
	}
	return nil
}

// AccessLog returns up to limit records, newest first, older than the
// record before (0: the newest).
func (s *Store) AccessLog(ctx context.Context, before int64, limit int) ([]Access, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, user, addr, action, detail FROM access_log
WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("reading access log: %w", err)
	}
	defer rows.Close()
	var out []Access
	for rows.Next() {
		var a Access
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.User, &a.Addr, &a.Action, &a.Detail); err != nil {
			return nil, err
		}
		a.At = unixTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Review is a request, sent from the block page, to look again at a block.
type Review struct {
	ID        int64
	At        time.Time
	Client    string // the address the request came from
	Host      string // the blocked name
	Reference string // the query-log entry ID the block page showed
	Group     string
	Category  string
	Message   string
	ClosedAt  time.Time // zero while open
	ClosedBy  string
	Note      string
}

// ErrTooManyReviews is returned when one client sends too many requests.
var ErrTooManyReviews = errors.New("too many review requests from this device; please ask a member of staff")

// MaxReviewsPerHour bounds the requests one client address may store.
const MaxReviewsPerHour = 10

// AddReview stores a review request and returns its ID.
func (s *Store) AddReview(ctx context.Context, r Review) (int64, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM reviews WHERE client = ? AND at > ?`,
		r.Client, r.At.Add(-time.Hour).UnixNano()).Scan(&n); err != nil {
		return 0, fmt.Errorf("storing review request: %w", err)
	}
	if n >= MaxReviewsPerHour {
		return 0, ErrTooManyReviews
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO reviews(at, client, host, reference, grp, category, message)
VALUES (?, ?, ?, ?, ?, ?, ?)`, r.At.UnixNano(), r.Client, clip(r.Host, maxHost), clip(r.Reference, 40),
		clip(r.Group, 64), clip(r.Category, 64), clip(r.Message, maxMessage))
	if err != nil {
		return 0, fmt.Errorf("storing review request: %w", err)
	}
	return res.LastInsertId()
}

// Reviews lists review requests, newest first: the open ones, or with
// closed also the closed ones.
func (s *Store) Reviews(ctx context.Context, closed bool, limit int) ([]Review, error) {
	q := `SELECT id, at, client, host, reference, grp, category, message, closed_at, closed_by, note FROM reviews`
	if !closed {
		q += ` WHERE closed_at = 0`
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("reading review requests: %w", err)
	}
	defer rows.Close()
	var out []Review
	for rows.Next() {
		var r Review
		var at, closedAt int64
		if err := rows.Scan(&r.ID, &at, &r.Client, &r.Host, &r.Reference, &r.Group, &r.Category, &r.Message,
			&closedAt, &r.ClosedBy, &r.Note); err != nil {
			return nil, err
		}
		r.At, r.ClosedAt = unixTime(at), unixTime(closedAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CloseReview marks a request dealt with.
func (s *Store) CloseReview(ctx context.Context, id int64, by, note string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE reviews SET closed_at = ?, closed_by = ?, note = ? WHERE id = ? AND closed_at = 0`,
		now.UnixNano(), by, clip(note, maxMessage), id)
	if err != nil {
		return fmt.Errorf("closing review request %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("review request %d: %w", id, ErrNotFound)
	}
	return nil
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
