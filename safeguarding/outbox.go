package safeguarding

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"gatehouse/safeguarding/deliver"
)

// Delivery is one outbox message as the dashboard shows it.
type Delivery struct {
	ID        int64
	Key       string // idempotency key, sent with the message
	Concern   int64  // 0 for digests and reports
	Kind      string // alert, digest, escalation, report
	Recipient string
	Channel   string // email, webhook, syslog
	Target    string // address or webhook name
	Subject   string
	State     string // pending, sending, sent, dead
	Attempts  int
	NextAt    time.Time
	LastError string
	Created   time.Time
	SentAt    time.Time
}

// Failing reports whether the message has failed at least once and is
// not yet sent.
func (d Delivery) Failing() bool {
	return (d.State == "pending" || d.State == "sending") && d.Attempts > 0
}

// Delivery guarantees: a message is in the outbox, committed with the
// concern it is about, before any attempt; a row is marked sending before
// the attempt and sent after it. A process that stops between the two
// leaves it sending, and the next Open sends it again. Delivery is
// therefore at-least-once, never at-most-once: every message carries its
// idempotency key (email Message-ID, webhook Idempotency-Key header,
// syslog MSGID) so a receiver can drop the rare duplicate.

const deliverBatch = 50

// deliverLoop sends due messages until ctx ends.
func (e *Engine) deliverLoop(ctx context.Context) {
	for {
		wait := e.deliverDue(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// deliverDue sends every due message and returns how long to wait before
// the next one is due (at most a minute).
func (e *Engine) deliverDue(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		ds, err := e.due(ctx, e.now())
		if err != nil {
			if ctx.Err() == nil {
				e.m.errors.Inc()
				e.log.Warn("reading the safeguarding outbox", "error", err)
			}
			return 10 * time.Second
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			if ctx.Err() != nil {
				break
			}
			e.attempt(ctx, d)
		}
		if len(ds) < deliverBatch {
			break
		}
	}
	var next string
	err := e.db.QueryRowContext(context.WithoutCancel(ctx), `SELECT coalesce(min(next_at), '') FROM outbox WHERE state = 'pending'`).Scan(&next)
	if err != nil || next == "" {
		return time.Minute
	}
	return min(max(parseTS(next).Sub(e.now()), 10*time.Millisecond), time.Minute)
}

type dueRow struct {
	Delivery
	msg deliver.Message
}

func (e *Engine) due(ctx context.Context, now time.Time) ([]dueRow, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT id, key, channel, target, message, attempts, created FROM outbox
		WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`, ts(now), deliverBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dueRow
	for rows.Next() {
		var d dueRow
		var js, created string
		if err := rows.Scan(&d.ID, &d.Key, &d.Channel, &d.Target, &js, &d.Attempts, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(js), &d.msg); err != nil {
			return nil, fmt.Errorf("outbox message %d: %w", d.ID, err)
		}
		d.Created = parseTS(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// attempt makes one delivery attempt and records its result.
func (e *Engine) attempt(ctx context.Context, d dueRow) {
	res, err := e.db.ExecContext(ctx, `UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ? AND state = 'pending'`, d.ID)
	if err != nil {
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return // someone else (test-alert from the CLI) took it
	}
	d.Attempts++
	sendErr := e.send(ctx, d.Channel, d.Target, d.msg)
	// Record the result even when ctx ended during the attempt.
	bg := context.WithoutCancel(ctx)
	now := e.now()
	switch {
	case sendErr == nil:
		_, err = e.db.ExecContext(bg, `UPDATE outbox SET state = 'sent', sent_at = ?, last_error = '' WHERE id = ?`, ts(now), d.ID)
		e.m.deliveries.WithLabelValues(d.Channel, "sent").Inc()
	case ctx.Err() != nil:
		// Shutting down: not the channel's fault; try again at next start.
		_, err = e.db.ExecContext(bg, `UPDATE outbox SET state = 'pending', attempts = attempts - 1 WHERE id = ?`, d.ID)
	case now.Sub(d.Created) >= e.cfg.DeadAfter:
		_, err = e.db.ExecContext(bg, `UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?`, sendErr.Error(), d.ID)
		e.m.deliveries.WithLabelValues(d.Channel, "dead").Inc()
		e.log.Error("safeguarding message given up", "key", d.Key, "channel", d.Channel, "target", d.Target, "attempts", d.Attempts, "error", sendErr)
	default:
		next := now.Add(e.backoff(d.Attempts))
		_, err = e.db.ExecContext(bg, `UPDATE outbox SET state = 'pending', next_at = ?, last_error = ? WHERE id = ?`, ts(next), sendErr.Error(), d.ID)
		e.m.deliveries.WithLabelValues(d.Channel, "failed").Inc()
		e.log.Warn("safeguarding message not delivered; will retry", "key", d.Key, "channel", d.Channel, "target", d.Target,
			"attempts", d.Attempts, "retry_at", next, "error", sendErr)
	}
	if err != nil {
		e.m.errors.Inc()
		e.log.Error("recording a safeguarding delivery", "key", d.Key, "error", err)
	}
}

// backoff is exponential from MinBackoff, capped at MaxBackoff, with
// "equal jitter": between half and all of the step, so many messages
// failing together do not retry together.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.cfg.MinBackoff
	for i := 1; i < attempts && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// send delivers through one channel of the infrastructure in force.
func (e *Engine) send(ctx context.Context, channel, target string, msg deliver.Message) error {
	in := e.infra.Load()
	switch channel {
	case "email":
		if in.SMTP == nil {
			return errors.New("no mail server configured (safeguarding.smtp)")
		}
		return in.SMTP.Send(ctx, target, msg)
	case "webhook":
		for _, w := range in.Webhooks {
			if w.Name == target {
				return w.Send(ctx, msg)
			}
		}
		return fmt.Errorf("no webhook named %q in the config (safeguarding.webhooks)", target)
	case "syslog":
		if in.Syslog == nil {
			return errors.New("no syslog configured (safeguarding.syslog)")
		}
		return in.Syslog.Send(ctx, msg)
	}
	return fmt.Errorf("unknown channel %q", channel)
}

// DeliveryHealth is the state of the outbox: what the dashboard shows
// next to the queue, and what a technician checks first.
type DeliveryHealth struct {
	Pending, Failing, Dead int
	OldestPending          time.Time // zero when none
	LastError              string    // of the most recent failure still pending or dead
}

// Health reads the outbox state.
func (e *Engine) Health(ctx context.Context) (DeliveryHealth, error) {
	var h DeliveryHealth
	var oldest string
	err := e.db.QueryRowContext(ctx, `SELECT
		coalesce(sum(state IN ('pending', 'sending')), 0),
		coalesce(sum(state IN ('pending', 'sending') AND attempts > 0), 0),
		coalesce(sum(state = 'dead'), 0),
		coalesce(min(CASE WHEN state IN ('pending', 'sending') THEN created END), '')
		FROM outbox`).Scan(&h.Pending, &h.Failing, &h.Dead, &oldest)
	if err != nil {
		return h, fmt.Errorf("reading the outbox: %w", err)
	}
	h.OldestPending = parseTS(oldest)
	e.db.QueryRowContext(ctx, `SELECT last_error FROM outbox WHERE last_error != '' AND state != 'sent' ORDER BY next_at DESC LIMIT 1`).Scan(&h.LastError)
	return h, nil
}

func (e *Engine) outboxGauges(ctx context.Context, now time.Time) error {
	h, err := e.Health(ctx)
	if err != nil {
		return err
	}
	e.m.outbox.WithLabelValues("pending").Set(float64(h.Pending))
	e.m.outbox.WithLabelValues("failing").Set(float64(h.Failing))
	e.m.outbox.WithLabelValues("dead").Set(float64(h.Dead))
	age := 0.0
	if !h.OldestPending.IsZero() {
		age = now.Sub(h.OldestPending).Seconds()
	}
	e.m.oldest.Set(age)
	return nil
}

// DeliveryFilter selects outbox messages.
type DeliveryFilter struct {
	State   string // "" any; pending, sending, sent, dead; "failing" for pending with failed attempts
	Concern int64  // 0: any
	Limit   int    // default 100
}

// Deliveries lists outbox messages, newest first.
func (e *Engine) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	q := `SELECT id, key, concern, kind, recipient, channel, target, message, state, attempts, next_at, last_error, created, sent_at FROM outbox WHERE 1=1`
	var args []any
	switch f.State {
	case "":
	case "failing":
		q += ` AND state IN ('pending', 'sending') AND attempts > 0`
	default:
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Concern != 0 {
		q += ` AND concern = ?`
		args = append(args, f.Concern)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var js, next, created, sent string
		if err := rows.Scan(&d.ID, &d.Key, &d.Concern, &d.Kind, &d.Recipient, &d.Channel, &d.Target, &js, &d.State, &d.Attempts, &next, &d.LastError, &created, &sent); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		var m deliver.Message
		if json.Unmarshal([]byte(js), &m) == nil {
			d.Subject = m.Subject
		}
		d.NextAt, d.Created, d.SentAt = parseTS(next), parseTS(created), parseTS(sent)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry makes a dead or failing message due now (a technician fixed the
// mail server and does not want to wait for the backoff).
func (e *Engine) Retry(ctx context.Context, actor Actor, id int64) error {
	if !actor.Has(RoleAdmin) && !actor.Has(RoleTechnician) && !actor.Has(RoleSafeguarding) {
		return fmt.Errorf("%w: retrying a delivery needs the admin, technician or safeguarding role", ErrForbidden)
	}
	res, err := e.db.ExecContext(ctx, `UPDATE outbox SET state = 'pending', next_at = ? WHERE id = ? AND state IN ('pending', 'dead')`, ts(e.now()), id)
	if err != nil {
		return fmt.Errorf("retrying delivery %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("retrying delivery %d: %w", id, ErrNotFound)
	}
	e.kick()
	return nil
}

// TestResult is one channel's answer to a test alert.
type TestResult struct {
	Channel, Target string
	Err             error
}

// TestAlert sends a clearly marked test message to every channel of one
// recipient at once (not through the outbox, so the caller sees each
// channel's error) and returns each result. It proves the mail server,
// webhooks and syslog work end to end.
func (e *Engine) TestAlert(ctx context.Context, actor Actor, recipient string) ([]TestResult, error) {
	if !actor.Has(RoleAdmin) && !actor.Has(RoleTechnician) && !actor.Has(RoleSafeguarding) {
		return nil, fmt.Errorf("%w: a test alert needs the admin, technician or safeguarding role", ErrForbidden)
	}
	a := e.settings.Load()
	r, ok := a.recipient(recipient)
	if !ok {
		return nil, fmt.Errorf("no recipient %q in the safeguarding settings", recipient)
	}
	now := e.now()
	subject := "TEST safeguarding alert from Gatehouse"
	if e.site != "" {
		subject = "[" + e.site + "] " + subject
	}
	msg := deliver.Message{Kind: "test", Priority: "critical", Subject: subject,
		Facts:  []deliver.Fact{{Name: "Sent by", Value: actor.Name}, {Name: "Sent at", Value: e.localTime(now)}, {Name: "Recipient", Value: r.Name}},
		Body:   "This is a test of Gatehouse safeguarding alerts, sent by " + actor.Name + ". No action is needed.\n",
		Notice: IndicatorNotice}
	var out []TestResult
	for _, t := range targets(r) {
		m := msg
		m.Key = fmt.Sprintf("test-%d-%s-%s-%s", now.UnixNano(), t.recipient, t.channel, t.address)
		out = append(out, TestResult{Channel: t.channel, Target: t.address, Err: e.send(ctx, t.channel, t.address, m)})
	}
	return out, nil
}

// queryer is a database or transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
