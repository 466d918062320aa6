package safeguarding

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is where a concern stands.
type Status string

// Statuses, in the order a concern moves through them.
const (
	StatusNew          Status = "new"
	StatusAcknowledged Status = "acknowledged"
	StatusInProgress   Status = "in-progress"
	StatusClosed       Status = "closed"
)

// ParseStatus reads a status name.
func ParseStatus(s string) (Status, error) {
	switch Status(s) {
	case StatusNew, StatusAcknowledged, StatusInProgress, StatusClosed:
		return Status(s), nil
	}
	return "", fmt.Errorf("%w: unknown status %q (want new, acknowledged, in-progress or closed)", ErrInvalid, s)
}

// Device is who looked the name up, as far as the network knows.
type Device struct {
	Addr        string `json:"address"`
	MAC         string `json:"mac,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Group       string `json:"group"`                  // the group whose policy applied
	ClientRule  string `json:"client_rule,omitempty"`  // the rule that placed the device in Group
	LeaseSource string `json:"lease_source,omitempty"` // the DHCP lease file MAC and hostname came from
}

// String is the device as people read it: "10.20.3.4 Y9-IPAD-12 [aa:bb:...]".
func (d Device) String() string {
	s := d.Addr
	if d.Hostname != "" {
		s = strings.TrimSpace(s + " " + d.Hostname)
	}
	if d.MAC != "" {
		s += " [" + d.MAC + "]"
	}
	if s == "" {
		return "unknown device"
	}
	return s
}

// Concern is one concern; once opened as an incident it also carries the
// owner, action taken and outcome.
type Concern struct {
	ID       int64
	Time     time.Time // first lookup
	Created  time.Time // when raised: timescales run from here
	LastHit  time.Time
	Hits     int
	Category string
	Priority Priority
	Device   Device
	Name     string // the first name looked up
	Status   Status
	Incident bool
	Owner    string

	AcknowledgedBy string
	AcknowledgedAt time.Time
	ClosedAt       time.Time
	ActionTaken    string
	Outcome        string
	// Escalation is how far it has been escalated: 0 none, 1 not
	// acknowledged in time, 2 not closed in time.
	Escalation int
	// Held says all its evidence is on legal hold in the query log.
	Held bool

	// AcknowledgeBy and CloseBy are the deadlines from the timescales;
	// Overdue is set when one has passed (at the time of reading).
	AcknowledgeBy, CloseBy time.Time
	Overdue                bool
}

// overdueStage is 1 when acknowledgement is overdue, 2 when closing is, 0
// when neither.
func (c *Concern) overdueStage(a *activeSettings, now time.Time) int {
	t, ok := a.timescale(c.Priority)
	if !ok || c.Status == StatusClosed {
		return 0
	}
	if now.Sub(c.Created) >= time.Duration(t.Close) {
		return 2
	}
	if c.Status == StatusNew && now.Sub(c.Created) >= time.Duration(t.Acknowledge) {
		return 1
	}
	return 0
}

const concernCols = `id, ts, created, last_hit, hits, category, priority, addr, mac, hostname, grp, client_rule, lease_source, qname,
	status, incident, owner, acknowledged_by, acknowledged_at, closed_at, action_taken, outcome, escalation, held`

func queryConcerns(ctx context.Context, q queryer, query string, args ...any) ([]Concern, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading concerns: %w", err)
	}
	defer rows.Close()
	var out []Concern
	for rows.Next() {
		var c Concern
		var t, created, last, ackAt, closedAt, status string
		var prio int
		if err := rows.Scan(&c.ID, &t, &created, &last, &c.Hits, &c.Category, &prio, &c.Device.Addr, &c.Device.MAC, &c.Device.Hostname,
			&c.Device.Group, &c.Device.ClientRule, &c.Device.LeaseSource, &c.Name, &status, &c.Incident, &c.Owner,
			&c.AcknowledgedBy, &ackAt, &closedAt, &c.ActionTaken, &c.Outcome, &c.Escalation, &c.Held); err != nil {
			return nil, fmt.Errorf("reading concerns: %w", err)
		}
		c.Time, c.Created, c.LastHit, c.AcknowledgedAt, c.ClosedAt = parseTS(t), parseTS(created), parseTS(last), parseTS(ackAt), parseTS(closedAt)
		c.Priority, c.Status = Priority(prio), Status(status)
		out = append(out, c)
	}
	return out, rows.Err()
}

// deadlines fills the timescale fields for now.
func (e *Engine) deadlines(a *activeSettings, cs []Concern, now time.Time) {
	for i := range cs {
		c := &cs[i]
		if t, ok := a.timescale(c.Priority); ok {
			c.AcknowledgeBy = c.Created.Add(time.Duration(t.Acknowledge))
			c.CloseBy = c.Created.Add(time.Duration(t.Close))
		}
		c.Overdue = c.overdueStage(a, now) > 0
	}
}

// QueueFilter selects concerns for the queue.
type QueueFilter struct {
	Statuses []Status // empty: every status but closed
	Priority Priority // None: any
	Category string
	Group    string
	Owner    string
	From, To time.Time // on first lookup; zero: unbounded
	Limit    int       // default 200
}

// Queue lists concerns most urgent first: by priority, then overdue
// first, then oldest first.
func (e *Engine) Queue(ctx context.Context, f QueueFilter) ([]Concern, error) {
	q := `SELECT ` + concernCols + ` FROM concerns WHERE 1=1`
	var args []any
	if len(f.Statuses) == 0 {
		q += ` AND status != 'closed'`
	} else {
		q += ` AND status IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.Statuses)), ",") + `)`
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	for _, c := range []struct {
		col string
		v   any
		set bool
	}{
		{"priority", int(f.Priority), f.Priority != None},
		{"category", f.Category, f.Category != ""},
		{"grp", f.Group, f.Group != ""},
		{"owner", f.Owner, f.Owner != ""},
	} {
		if c.set {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if !f.From.IsZero() {
		q += ` AND ts >= ?`
		args = append(args, ts(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND ts < ?`
		args = append(args, ts(f.To))
	}
	if f.Limit <= 0 {
		f.Limit = 200
	}
	q += ` ORDER BY priority DESC, id LIMIT ?`
	args = append(args, f.Limit)
	cs, err := queryConcerns(ctx, e.db, q, args...)
	if err != nil {
		return nil, err
	}
	e.deadlines(e.settings.Load(), cs, e.now())
	// Within a priority, overdue concerns first (stable: oldest first).
	out := make([]Concern, 0, len(cs))
	for i := 0; i < len(cs); {
		j := i
		for j < len(cs) && cs[j].Priority == cs[i].Priority {
			j++
		}
		for _, overdue := range []bool{true, false} {
			for _, c := range cs[i:j] {
				if c.Overdue == overdue {
					out = append(out, c)
				}
			}
		}
		i = j
	}
	return out, nil
}

// Evidence is one query-log entry behind a concern, as stored with it.
type Evidence struct {
	Entry    uint64 // query log entry ID
	Time     time.Time
	Name     string
	Type     uint16
	Decision string
	Category string
	List     string
	Matched  string
	Addr     string
	Held     bool
}

// Event is one line of a concern's history: raised, acknowledged, notes,
// status and owner changes, actions, escalations.
type Event struct {
	Time   time.Time
	Actor  string
	Kind   string
	Detail string
}

// Record is a concern with everything known about it: what an export
// contains.
type Record struct {
	Concern    Concern
	Evidence   []Evidence
	Events     []Event
	Deliveries []Delivery
	Notice     string
	Site       string
	Exported   time.Time
}

// Get returns one concern with its evidence, history and deliveries.
func (e *Engine) Get(ctx context.Context, id int64) (Record, error) {
	cs, err := queryConcerns(ctx, e.db, `SELECT `+concernCols+` FROM concerns WHERE id = ?`, id)
	if err != nil {
		return Record{}, err
	}
	if len(cs) == 0 {
		return Record{}, fmt.Errorf("concern %d: %w", id, ErrNotFound)
	}
	now := e.now()
	e.deadlines(e.settings.Load(), cs, now)
	r := Record{Concern: cs[0], Notice: IndicatorNotice, Site: e.site, Exported: now}
	rows, err := e.db.QueryContext(ctx, `SELECT entry, ts, qname, qtype, decision, category, list, matched, addr, held FROM evidence WHERE concern = ? ORDER BY entry`, id)
	if err != nil {
		return r, fmt.Errorf("reading evidence: %w", err)
	}
	for rows.Next() {
		var ev Evidence
		var t string
		var entry int64
		if err := rows.Scan(&entry, &t, &ev.Name, &ev.Type, &ev.Decision, &ev.Category, &ev.List, &ev.Matched, &ev.Addr, &ev.Held); err != nil {
			rows.Close()
			return r, fmt.Errorf("reading evidence: %w", err)
		}
		ev.Entry, ev.Time = uint64(entry), parseTS(t)
		r.Evidence = append(r.Evidence, ev)
	}
	rows.Close()
	rows, err = e.db.QueryContext(ctx, `SELECT ts, actor, kind, detail FROM events WHERE concern = ? ORDER BY id`, id)
	if err != nil {
		return r, fmt.Errorf("reading history: %w", err)
	}
	for rows.Next() {
		var ev Event
		var t string
		if err := rows.Scan(&t, &ev.Actor, &ev.Kind, &ev.Detail); err != nil {
			rows.Close()
			return r, fmt.Errorf("reading history: %w", err)
		}
		ev.Time = parseTS(t)
		r.Events = append(r.Events, ev)
	}
	rows.Close()
	r.Deliveries, err = e.Deliveries(ctx, DeliveryFilter{Concern: id, Limit: 1000})
	return r, err
}

// canHandle: incidents are the safeguarding team's.
func canHandle(a Actor) error {
	if err := a.valid(); err != nil {
		return err
	}
	if !a.Has(RoleSafeguarding) {
		return fmt.Errorf("%w: %s does not have the safeguarding role", ErrForbidden, a.Name)
	}
	return nil
}

// change runs fn on concern id in a transaction after checking the actor,
// and records the event.
func (e *Engine) change(ctx context.Context, actor Actor, id int64, fn func(tx *sql.Tx, c *Concern, now time.Time) (kind, detail string, err error)) error {
	if err := canHandle(actor); err != nil {
		return err
	}
	return withTx(ctx, e.db, func(tx *sql.Tx) error {
		cs, err := queryConcerns(ctx, tx, `SELECT `+concernCols+` FROM concerns WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return fmt.Errorf("concern %d: %w", id, ErrNotFound)
		}
		now := e.now()
		kind, detail, err := fn(tx, &cs[0], now)
		if err != nil {
			return fmt.Errorf("concern %d: %w", id, err)
		}
		return addEvent(ctx, tx, id, now, actor.Name, kind, detail)
	})
}

// Acknowledge marks a new concern seen: it stops the acknowledgement
// escalation.
func (e *Engine) Acknowledge(ctx context.Context, actor Actor, id int64) error {
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		if c.Status != StatusNew {
			return "", "", fmt.Errorf("%w: already %s", ErrConflict, c.Status)
		}
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET status = ?, acknowledged_by = ?, acknowledged_at = ? WHERE id = ?`,
			string(StatusAcknowledged), actor.Name, ts(now), c.ID)
		return "acknowledged", "acknowledged", err
	})
}

// OpenIncident makes a concern an incident with an owner (the actor when
// owner is ""); it is then in progress. A new concern is acknowledged by
// this too.
func (e *Engine) OpenIncident(ctx context.Context, actor Actor, id int64, owner string) error {
	if owner == "" {
		owner = actor.Name
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		if c.Incident {
			return "", "", fmt.Errorf("%w: already an incident", ErrConflict)
		}
		if c.Status == StatusClosed {
			return "", "", fmt.Errorf("%w: closed; reopen it first", ErrConflict)
		}
		ackBy, ackAt := c.AcknowledgedBy, ts(c.AcknowledgedAt)
		if c.Status == StatusNew {
			ackBy, ackAt = actor.Name, ts(now)
		}
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET incident = 1, owner = ?, status = ?, acknowledged_by = ?, acknowledged_at = ? WHERE id = ?`,
			owner, string(StatusInProgress), ackBy, ackAt, c.ID)
		return "incident", "opened as an incident, owner " + owner, err
	})
}

// SetOwner changes an incident's owner.
func (e *Engine) SetOwner(ctx context.Context, actor Actor, id int64, owner string) error {
	if strings.TrimSpace(owner) == "" {
		return fmt.Errorf("%w: empty owner", ErrInvalid)
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET owner = ? WHERE id = ?`, owner, c.ID)
		return "owner", fmt.Sprintf("owner %s (was %s)", owner, orDash(c.Owner)), err
	})
}

// SetStatus moves a concern to a status. Closing needs an outcome
// (CloseIncident); reopening a closed concern is allowed and recorded.
func (e *Engine) SetStatus(ctx context.Context, actor Actor, id int64, s Status) error {
	if _, err := ParseStatus(string(s)); err != nil {
		return err
	}
	if s == StatusClosed {
		return fmt.Errorf("%w: use CloseIncident, with the outcome", ErrInvalid)
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		if c.Status == s {
			return "", "", fmt.Errorf("%w: already %s", ErrConflict, s)
		}
		q := `UPDATE concerns SET status = ?, closed_at = '' WHERE id = ?`
		args := []any{string(s), c.ID}
		if c.Status == StatusNew && s != StatusNew {
			q = `UPDATE concerns SET status = ?, closed_at = '', acknowledged_by = ?, acknowledged_at = ? WHERE id = ?`
			args = []any{string(s), actor.Name, ts(now), c.ID}
		}
		_, err := tx.ExecContext(ctx, q, args...)
		return "status", fmt.Sprintf("%s -> %s", c.Status, s), err
	})
}

// AddNote adds a note to a concern's record.
func (e *Engine) AddNote(ctx context.Context, actor Actor, id int64, text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%w: empty note", ErrInvalid)
	}
	if len(text) > 20000 {
		return fmt.Errorf("%w: note longer than 20000 bytes", ErrInvalid)
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		return "note", text, nil
	})
}

// RecordAction records the action taken (replacing the previous text;
// the history keeps every version).
func (e *Engine) RecordAction(ctx context.Context, actor Actor, id int64, action string) error {
	if strings.TrimSpace(action) == "" {
		return fmt.Errorf("%w: empty action", ErrInvalid)
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET action_taken = ? WHERE id = ?`, action, c.ID)
		return "action", action, err
	})
}

// CloseIncident closes a concern (incident or not) with its outcome (required: the DfE standard
// asks for a record of the outcome).
func (e *Engine) CloseIncident(ctx context.Context, actor Actor, id int64, outcome string) error {
	if strings.TrimSpace(outcome) == "" {
		return fmt.Errorf("%w: closing needs the outcome", ErrInvalid)
	}
	return e.change(ctx, actor, id, func(tx *sql.Tx, c *Concern, now time.Time) (string, string, error) {
		if c.Status == StatusClosed {
			return "", "", fmt.Errorf("%w: already closed", ErrConflict)
		}
		ackBy, ackAt := c.AcknowledgedBy, ts(c.AcknowledgedAt)
		if ackBy == "" {
			ackBy, ackAt = actor.Name, ts(now)
		}
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET status = 'closed', outcome = ?, closed_at = ?, acknowledged_by = ?, acknowledged_at = ? WHERE id = ?`,
			outcome, ts(now), ackBy, ackAt, c.ID)
		return "closed", "outcome: " + outcome, err
	})
}

// purge deletes concerns closed longer than the retention ago, with their
// evidence, history and messages, and releases their legal holds.
func (e *Engine) purge(ctx context.Context, now time.Time) error {
	if e.cfg.Retention <= 0 {
		return nil
	}
	cutoff := ts(now.Add(-e.cfg.Retention))
	rows, err := e.db.QueryContext(ctx, `SELECT id FROM concerns WHERE status = 'closed' AND closed_at != '' AND closed_at < ? LIMIT 500`, cutoff)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	var errs []error
	for _, id := range ids {
		if e.cfg.Holder != nil {
			if _, err := e.cfg.Holder.Release(ctx, holdRef(id)); err != nil {
				errs = append(errs, err)
				continue // keep the concern until its hold is released
			}
		}
		err := withTx(ctx, e.db, func(tx *sql.Tx) error {
			for _, q := range []string{`DELETE FROM evidence WHERE concern = ?`, `DELETE FROM events WHERE concern = ?`,
				`DELETE FROM digest WHERE concern = ?`, `DELETE FROM outbox WHERE concern = ? AND state IN ('sent', 'dead')`, `DELETE FROM concerns WHERE id = ?`} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Sent digests and reports are kept 90 days for the delivery history.
	if _, err := e.db.ExecContext(ctx, `DELETE FROM outbox WHERE concern = 0 AND state = 'sent' AND sent_at < ?`, ts(now.Add(-90*24*time.Hour))); err != nil {
		errs = append(errs, err)
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM digest WHERE done = 1 AND created < ?`, ts(now.Add(-7*24*time.Hour))); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
