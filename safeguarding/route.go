package safeguarding

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/safeguarding/deliver"
)

// IndicatorNotice is in every alert, digest and report.
const IndicatorNotice = "A DNS lookup is an indicator, not proof: it shows that a device asked for this name, " +
	"not that a person saw the content or meant to. Apps, adverts and link previews look names up by themselves. " +
	"Check the context before acting."

// target is one place a message goes.
type target struct {
	recipient, channel, address string
}

// targets lists a recipient's channels.
func targets(r Recipient) []target {
	var out []target
	for _, a := range r.Email {
		out = append(out, target{r.Name, "email", a})
	}
	for _, w := range r.Webhooks {
		out = append(out, target{r.Name, "webhook", w})
	}
	if r.Syslog {
		out = append(out, target{r.Name, "syslog", "syslog"})
	}
	return out
}

// inSchoolHours reports whether t is in school hours.
func (e *Engine) inSchoolHours(t time.Time) bool {
	return e.cfg.SchoolHours != nil && e.cfg.SchoolHours(t)
}

// onCall is the recipient the rota names at t ("" when none).
func (a *activeSettings) onCall(t time.Time) string {
	if a.rota == nil {
		return ""
	}
	for i, oc := range a.OnCall {
		if a.rota.Active(fmt.Sprintf("on-call-%d", i), t) {
			return oc.Recipient
		}
	}
	return ""
}

var speedRank = map[Speed]int{Immediate: 0, Hourly: 1, Daily: 2}

// recipientsFor resolves the routes for a concern at now: each recipient
// once, at the fastest speed any matching route gives them. With
// escalation, speeds are ignored (everyone is told at once) and the
// settings' escalate_to list is added.
func (e *Engine) recipientsFor(a *activeSettings, c *Concern, now time.Time, escalation bool) map[string]Speed {
	school := e.inSchoolHours(now)
	out := map[string]Speed{}
	var add func(name string, sp Speed)
	add = func(name string, sp Speed) {
		if name == OnCallRecipient {
			name = a.onCall(now)
			if name == "" {
				// Nobody on the rota now: the safeguarding team.
				for _, r := range a.Recipients {
					if r.Role == TeamSafeguarding {
						add(r.Name, sp)
					}
				}
				return
			}
		}
		if cur, ok := out[name]; !ok || speedRank[sp] < speedRank[cur] {
			out[name] = sp
		}
	}
	for _, rt := range a.Routes {
		switch {
		case !slices.Contains(rt.Priorities, c.Priority),
			len(rt.Categories) > 0 && !slices.Contains(rt.Categories, c.Category),
			len(rt.Groups) > 0 && !slices.Contains(rt.Groups, c.Device.Group),
			rt.When == SchoolHours && !school,
			rt.When == OutOfHours && school:
			continue
		}
		for _, n := range rt.To {
			sp := rt.Speed
			if escalation {
				sp = Immediate
			}
			add(n, sp)
		}
	}
	if escalation {
		for _, n := range a.EscalateTo {
			add(n, Immediate)
		}
	}
	return out
}

// routeConcern queues what a concern's routes say: outbox rows for
// immediate recipients, digest rows for the others. kind is alert or
// escalation; it runs inside the concern's transaction.
func (e *Engine) routeConcern(ctx context.Context, tx *sql.Tx, a *activeSettings, c *Concern, now time.Time, kind string, escalation bool) error {
	rs := e.recipientsFor(a, c, now, escalation)
	names := make([]string, 0, len(rs))
	for n := range rs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		r, ok := a.recipient(name)
		if !ok {
			continue
		}
		sp := rs[name]
		if sp != Immediate {
			if _, err := tx.ExecContext(ctx, `INSERT INTO digest(concern, recipient, speed, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				c.ID, name, string(sp), ts(now)); err != nil {
				return err
			}
			continue
		}
		msg := e.concernMessage(c, kind)
		for _, t := range targets(r) {
			m := msg
			m.Key = fmt.Sprintf("%s-c%d-%s-%s-%s", kind, c.ID, t.recipient, t.channel, t.address)
			if escalation {
				m.Key = fmt.Sprintf("%s%d-c%d-%s-%s-%s", kind, c.Escalation, c.ID, t.recipient, t.channel, t.address)
			}
			if err := enqueue(ctx, tx, c.ID, kind, t, m, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// enqueue adds one message to the outbox; a key already there is kept
// (the same message is never queued twice).
func enqueue(ctx context.Context, tx *sql.Tx, concern int64, kind string, t target, m deliver.Message, now time.Time) error {
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox(key, concern, kind, recipient, channel, target, message, state, next_at, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(key) DO NOTHING`,
		m.Key, concern, kind, t.recipient, t.channel, t.address, string(js), ts(now), ts(now))
	return err
}

// localTime formats t in the site's zone for people.
func (e *Engine) localTime(t time.Time) string {
	return t.In(e.loc).Format("Mon 2 Jan 2006 15:04:05 MST")
}

// concernMessage is the alert for one concern.
func (e *Engine) concernMessage(c *Concern, kind string) deliver.Message {
	title := Title(c.Category)
	who := c.Device.Hostname
	if who == "" {
		who = c.Device.Addr
	}
	subject := fmt.Sprintf("%s safeguarding concern #%d: %s, %s (%s)", capital(c.Priority.String()), c.ID, title, who, orDash(c.Device.Group))
	if kind == "escalation" {
		subject = "OVERDUE: " + subject
	}
	if e.site != "" {
		subject = "[" + e.site + "] " + subject
	}
	facts := []deliver.Fact{
		{Name: "Priority", Value: c.Priority.String()},
		{Name: "Category", Value: title},
		{Name: "Device", Value: c.Device.String()},
		{Name: "Group", Value: orDash(c.Device.Group)},
		{Name: "Looked up", Value: strings.TrimSuffix(c.Name, ".")},
		{Name: "First lookup", Value: e.localTime(c.Time)},
		{Name: "Lookups", Value: fmt.Sprint(c.Hits)},
		{Name: "Concern", Value: fmt.Sprintf("#%d (status %s)", c.ID, c.Status)},
	}
	if c.Device.ClientRule != "" {
		facts = append(facts, deliver.Fact{Name: "Placed in group by", Value: c.Device.ClientRule})
	}
	if c.Device.LeaseSource != "" {
		facts = append(facts, deliver.Fact{Name: "Lease from", Value: c.Device.LeaseSource})
	}
	var b strings.Builder
	if kind == "escalation" {
		fmt.Fprintf(&b, "This concern is overdue: it has not been %s within the agreed timescale.\n\n", map[bool]string{true: "acknowledged", false: "closed"}[c.Status == StatusNew])
	}
	fmt.Fprintf(&b, "Gatehouse raised a %s priority safeguarding concern.\n\n", c.Priority)
	for _, f := range facts {
		fmt.Fprintf(&b, "%-19s %s\n", f.Name+":", f.Value)
	}
	fmt.Fprintf(&b, "\nAcknowledge it in the Gatehouse dashboard, or on the appliance with:\n  gatehouse concerns show %d\n", c.ID)
	return deliver.Message{Kind: kind, Priority: c.Priority.String(), Subject: subject, Facts: facts, Body: b.String(),
		Notice: IndicatorNotice, Concerns: []int64{c.ID}}
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// digestBoundary is the start of the digest period that has just ended
// for speed at now: the top of the hour, or today's (else yesterday's)
// daily digest time.
func (e *Engine) digestBoundary(sp Speed, now time.Time) time.Time {
	l := now.In(e.loc)
	if sp == Hourly {
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, e.loc)
	}
	at := e.cfg.DailyDigestAt
	b := time.Date(l.Year(), l.Month(), l.Day(), int(at)/60, int(at)%60, 0, 0, e.loc)
	if b.After(now) {
		b = b.AddDate(0, 0, -1)
	}
	return b
}

// flushDigests turns digest rows from before each speed's last boundary
// into one message per recipient and channel.
func (e *Engine) flushDigests(ctx context.Context, now time.Time) error {
	a := e.settings.Load()
	for _, sp := range []Speed{Hourly, Daily} {
		boundary := e.digestBoundary(sp, now)
		rows, err := e.db.QueryContext(ctx, `SELECT DISTINCT recipient FROM digest WHERE done = 0 AND speed = ? AND created < ?`, string(sp), ts(boundary))
		if err != nil {
			return err
		}
		var recips []string
		for rows.Next() {
			var r string
			if rows.Scan(&r) == nil {
				recips = append(recips, r)
			}
		}
		rows.Close()
		for _, name := range recips {
			if err := e.flushDigest(ctx, a, name, sp, boundary, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) flushDigest(ctx context.Context, a *activeSettings, name string, sp Speed, boundary, now time.Time) error {
	err := withTx(ctx, e.db, func(tx *sql.Tx) error {
		cs, err := queryConcerns(ctx, tx, `SELECT `+concernCols+` FROM concerns WHERE id IN
			(SELECT concern FROM digest WHERE done = 0 AND speed = ? AND recipient = ? AND created < ?) ORDER BY priority DESC, id`,
			string(sp), name, ts(boundary))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE digest SET done = 1 WHERE done = 0 AND speed = ? AND recipient = ? AND created < ?`, string(sp), name, ts(boundary)); err != nil {
			return err
		}
		r, ok := a.recipient(name)
		if !ok || len(cs) == 0 {
			return nil // recipient removed since: the concerns stay in the queue
		}
		msg := e.digestMessage(cs, sp)
		for _, t := range targets(r) {
			m := msg
			m.Key = fmt.Sprintf("digest-%s-%d-%s-%s-%s", sp, boundary.Unix(), t.recipient, t.channel, t.address)
			if err := enqueue(ctx, tx, 0, "digest", t, m, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		e.kick()
	}
	return err
}

func (e *Engine) digestMessage(cs []Concern, sp Speed) deliver.Message {
	subject := fmt.Sprintf("%s safeguarding digest: %d concern(s)", capital(string(sp)), len(cs))
	if e.site != "" {
		subject = "[" + e.site + "] " + subject
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d safeguarding concern(s) since the last %s digest:\n\n", len(cs), sp)
	var facts []deliver.Fact
	ids := make([]int64, 0, len(cs))
	for _, c := range cs {
		line := fmt.Sprintf("%s, %s, %s (%s), %s, %d lookup(s), %s", c.Priority, Title(c.Category), c.Device.String(), orDash(c.Device.Group),
			strings.TrimSuffix(c.Name, "."), c.Hits, e.localTime(c.Time))
		fmt.Fprintf(&b, "#%d %s\n", c.ID, line)
		if len(facts) < 30 {
			facts = append(facts, deliver.Fact{Name: fmt.Sprintf("#%d", c.ID), Value: line})
		}
		ids = append(ids, c.ID)
	}
	b.WriteString("\nSee each in the Gatehouse dashboard, or on the appliance: gatehouse concerns list\n")
	return deliver.Message{Kind: "digest", Priority: cs[0].Priority.String(), Subject: subject, Facts: facts, Body: b.String(), Notice: IndicatorNotice, Concerns: ids}
}

// escalate re-notifies concerns that are overdue: not acknowledged within
// their priority's acknowledge timescale (stage 1), or not closed within
// the close timescale (stage 2). Each stage happens once per concern.
func (e *Engine) escalate(ctx context.Context, now time.Time) error {
	a := e.settings.Load()
	cs, err := queryConcerns(ctx, e.db, `SELECT `+concernCols+` FROM concerns WHERE status != 'closed' AND escalation < 2 ORDER BY id`)
	if err != nil {
		return err
	}
	for i := range cs {
		c := &cs[i]
		stage := c.overdueStage(a, now)
		if stage <= c.Escalation {
			continue
		}
		c.Escalation = stage
		err := withTx(ctx, e.db, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE concerns SET escalation = ? WHERE id = ? AND escalation < ?`, stage, c.ID, stage)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			what := map[int]string{1: "not acknowledged in time", 2: "not closed in time"}[stage]
			if err := addEvent(ctx, tx, c.ID, now, "gatehouse", "escalated", what+": recipients re-notified"); err != nil {
				return err
			}
			return e.routeConcern(ctx, tx, a, c, now, "escalation", true)
		})
		if err != nil {
			return err
		}
		e.m.escalations.Inc()
		e.log.Warn("safeguarding concern overdue: escalated", "concern", c.ID, "priority", c.Priority, "stage", stage)
		e.kick()
	}
	return nil
}
