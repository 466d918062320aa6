package safeguarding

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gatehouse/safeguarding/audit"
)

// Approved changes: priorities, alert rules, recipients and routing change
// only when one account proposes and a different account holding the
// approver role approves. Both steps, rejections and the applied result
// are appended to the audit log in the same transaction as the change.

// Proposal is a proposed change of the settings.
type Proposal struct {
	ID        int64
	Time      time.Time
	Proposer  string
	Reason    string
	Base      int64 // the settings version it was made against
	Settings  Settings
	State     string // pending, approved, rejected, withdrawn, stale
	DecidedBy string
	DecidedAt time.Time
	Note      string
	// Changes describes the difference from the base version, one line
	// per change.
	Changes []string
}

// Settings returns a copy of the settings in force, which the caller may
// change and propose, and their version.
func (e *Engine) Settings() (Settings, int64) {
	a := e.settings.Load()
	return a.Settings.clone(), a.version
}

// clone is a deep copy (through the canonical JSON, which round-trips).
func (s Settings) clone() Settings {
	js, err := s.Canonical()
	if err != nil {
		panic(err) // settings in force always encode
	}
	c, err := ParseSettings(js)
	if err != nil {
		panic(err)
	}
	return c
}

// CanPropose: admins and the safeguarding team may propose changes.
func CanPropose(a Actor) bool { return a.Has(RoleAdmin) || a.Has(RoleSafeguarding) }

// CanApprove: only accounts with the approver capability may approve.
func CanApprove(a Actor) bool { return a.Has(RoleApprover) }

// Propose records a proposed change to settings s. It is checked in full
// now (a change that would lower iwf or ctiru is refused, and the attempt
// recorded) and again when approved.
func (e *Engine) Propose(ctx context.Context, actor Actor, s Settings, reason string) (Proposal, error) {
	if err := actor.valid(); err != nil {
		return Proposal{}, err
	}
	if !CanPropose(actor) {
		return Proposal{}, fmt.Errorf("%w: %s cannot propose safeguarding changes (needs the admin or safeguarding role)", ErrForbidden, actor.Name)
	}
	if strings.TrimSpace(reason) == "" {
		return Proposal{}, fmt.Errorf("%w: a proposal needs a reason (the DfE standard asks schools to record why)", ErrInvalid)
	}
	cur := e.settings.Load()
	now := e.now()
	if err := s.Validate(); err != nil {
		if errors.Is(err, ErrLocked) {
			js, _ := s.Canonical()
			payload, _ := json.Marshal(map[string]any{"reason": reason, "error": err.Error(), "settings": json.RawMessage(js)})
			werr := withTx(ctx, e.db, func(tx *sql.Tx) error {
				_, err := audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindRefused, Subject: "proposal refused: locked category", Payload: payload})
				return err
			})
			if werr != nil {
				return Proposal{}, errors.Join(err, werr)
			}
		}
		return Proposal{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := e.compile(s, 0); err != nil {
		return Proposal{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := e.checkReferences(s); err != nil {
		return Proposal{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	changes := Diff(cur.Settings, s)
	if len(changes) == 0 {
		return Proposal{}, fmt.Errorf("%w: the proposal changes nothing", ErrInvalid)
	}
	js, err := s.Canonical()
	if err != nil {
		return Proposal{}, err
	}
	p := Proposal{Time: now, Proposer: actor.Name, Reason: reason, Base: cur.version, Settings: s, State: "pending", Changes: changes}
	err = withTx(ctx, e.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO proposals(ts, proposer, reason, base, json, state) VALUES (?, ?, ?, ?, ?, 'pending')`,
			ts(now), actor.Name, reason, cur.version, string(js))
		if err != nil {
			return err
		}
		if p.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"proposal": p.ID, "base_version": cur.version, "reason": reason, "changes": changes, "settings": json.RawMessage(js)})
		_, err = audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindProposed, Subject: fmt.Sprintf("proposal %d", p.ID), Payload: payload})
		return err
	})
	if err != nil {
		return Proposal{}, fmt.Errorf("recording proposal: %w", err)
	}
	e.log.Info("safeguarding change proposed", "proposal", p.ID, "by", actor.Name, "changes", len(changes))
	return p, nil
}

// Approve applies a pending proposal. The approver must hold the approver
// role and must not be the proposer; the proposal must still apply to the
// settings in force (otherwise it is marked stale and must be proposed
// again).
func (e *Engine) Approve(ctx context.Context, actor Actor, id int64, note string) error {
	if err := actor.valid(); err != nil {
		return err
	}
	if !CanApprove(actor) {
		return fmt.Errorf("%w: %s does not have the approver role", ErrForbidden, actor.Name)
	}
	var applied *activeSettings
	var stale *errStale
	err := withTx(ctx, e.db, func(tx *sql.Tx) error {
		p, err := getProposal(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.State != "pending" {
			return fmt.Errorf("%w: proposal %d is %s", ErrConflict, id, p.State)
		}
		if strings.EqualFold(p.Proposer, actor.Name) {
			return fmt.Errorf("%w: %s proposed change %d and cannot also approve it; another approver must", ErrForbidden, actor.Name, id)
		}
		var curVersion int64
		if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM settings`).Scan(&curVersion); err != nil {
			return err
		}
		now := e.now()
		if p.Base != curVersion {
			if _, err := tx.ExecContext(ctx, `UPDATE proposals SET state = 'stale', decided_by = ?, decided_at = ?, note = ? WHERE id = ?`,
				actor.Name, ts(now), fmt.Sprintf("settings changed from version %d to %d since it was proposed", p.Base, curVersion), id); err != nil {
				return err
			}
			stale = &errStale{id: id, base: p.Base, cur: curVersion}
			payload, _ := json.Marshal(map[string]any{"proposal": id, "proposer": p.Proposer, "state": "stale", "note": stale.Error()})
			_, err := audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindRejected, Subject: fmt.Sprintf("proposal %d", id), Payload: payload})
			return err // commit the stale mark
		}
		if err := p.Settings.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		a, err := e.compile(p.Settings, curVersion+1)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		js, err := p.Settings.Canonical()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE proposals SET state = 'approved', decided_by = ?, decided_at = ?, note = ? WHERE id = ?`, actor.Name, ts(now), note, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(version, ts, json, proposal) VALUES (?, ?, ?, ?)`, a.version, ts(now), string(js), id); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"proposal": id, "proposer": p.Proposer, "note": note})
		if _, err := audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindApproved, Subject: fmt.Sprintf("proposal %d", id), Payload: payload}); err != nil {
			return err
		}
		payload, _ = json.Marshal(map[string]any{"version": a.version, "proposal": id, "changes": Diff(e.settings.Load().Settings, p.Settings), "settings": json.RawMessage(js)})
		if _, err := audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindApplied, Subject: fmt.Sprintf("settings version %d", a.version), Payload: payload}); err != nil {
			return err
		}
		applied = a
		return nil
	})
	if err == nil && stale != nil {
		return fmt.Errorf("%w: %v", ErrConflict, stale)
	}
	if err != nil {
		return fmt.Errorf("approving proposal %d: %w", id, err)
	}
	e.settings.Store(applied)
	e.log.Info("safeguarding change approved and applied", "proposal", id, "by", actor.Name, "version", applied.version)
	return nil
}

// checkReferences refuses settings that name webhooks the config does not
// define or groups the site does not have: approved, they would route
// concerns nowhere without anyone noticing.
func (e *Engine) checkReferences(s Settings) error {
	in := e.infra.Load()
	hooks := map[string]bool{}
	for _, w := range in.Webhooks {
		hooks[w.Name] = true
	}
	var errs []error
	for i, r := range s.Recipients {
		for _, w := range r.Webhooks {
			if !hooks[w] {
				errs = append(errs, fmt.Errorf("recipients[%d]: no webhook named %q in the config (safeguarding.webhooks)", i, w))
			}
		}
		if len(r.Email) > 0 && in.SMTP == nil {
			errs = append(errs, fmt.Errorf("recipients[%d]: email needs a mail server in the config (safeguarding.smtp)", i))
		}
		if r.Syslog && in.Syslog == nil {
			errs = append(errs, fmt.Errorf("recipients[%d]: no syslog in the config (safeguarding.syslog)", i))
		}
	}
	if e.cfg.Groups != nil {
		groups := map[string]bool{}
		for _, g := range e.cfg.Groups() {
			groups[g] = true
		}
		for i, rt := range s.Routes {
			for _, g := range rt.Groups {
				if !groups[g] {
					errs = append(errs, fmt.Errorf("routes[%d]: no group named %q", i, g))
				}
			}
		}
	}
	return errors.Join(errs...)
}

type errStale struct{ id, base, cur int64 }

func (e errStale) Error() string {
	return fmt.Sprintf("proposal %d was made against settings version %d, but version %d is now in force; propose it again", e.id, e.base, e.cur)
}

// Reject turns a pending proposal down. An approver may reject any
// proposal; the proposer may withdraw their own.
func (e *Engine) Reject(ctx context.Context, actor Actor, id int64, note string) error {
	if err := actor.valid(); err != nil {
		return err
	}
	err := withTx(ctx, e.db, func(tx *sql.Tx) error {
		p, err := getProposal(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.State != "pending" {
			return fmt.Errorf("%w: proposal %d is %s", ErrConflict, id, p.State)
		}
		state := "rejected"
		switch {
		case strings.EqualFold(p.Proposer, actor.Name):
			state = "withdrawn"
		case !CanApprove(actor):
			return fmt.Errorf("%w: %s does not have the approver role", ErrForbidden, actor.Name)
		}
		now := e.now()
		if _, err := tx.ExecContext(ctx, `UPDATE proposals SET state = ?, decided_by = ?, decided_at = ?, note = ? WHERE id = ?`, state, actor.Name, ts(now), note, id); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"proposal": id, "proposer": p.Proposer, "state": state, "note": note})
		_, err = audit.Append(ctx, tx, audit.Record{Time: now, Actor: actor.Name, Kind: audit.KindRejected, Subject: fmt.Sprintf("proposal %d", id), Payload: payload})
		return err
	})
	if err != nil {
		return fmt.Errorf("rejecting proposal %d: %w", id, err)
	}
	return nil
}

func getProposal(ctx context.Context, q queryer, id int64) (Proposal, error) {
	ps, err := queryProposals(ctx, q, `WHERE id = ?`, id)
	if err != nil {
		return Proposal{}, err
	}
	if len(ps) == 0 {
		return Proposal{}, fmt.Errorf("proposal %d: %w", id, ErrNotFound)
	}
	return ps[0], nil
}

func queryProposals(ctx context.Context, q queryer, where string, args ...any) ([]Proposal, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, ts, proposer, reason, base, json, state, decided_by, decided_at, note FROM proposals `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading proposals: %w", err)
	}
	defer rows.Close()
	var out []Proposal
	for rows.Next() {
		var p Proposal
		var t, js, dt string
		if err := rows.Scan(&p.ID, &t, &p.Proposer, &p.Reason, &p.Base, &js, &p.State, &p.DecidedBy, &dt, &p.Note); err != nil {
			return nil, fmt.Errorf("reading proposals: %w", err)
		}
		if p.Settings, err = ParseSettings([]byte(js)); err != nil {
			return nil, fmt.Errorf("proposal %d: %w", p.ID, err)
		}
		p.Time, p.DecidedAt = parseTS(t), parseTS(dt)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Proposals lists proposals, newest first; state "" lists all.
func (e *Engine) Proposals(ctx context.Context, state string) ([]Proposal, error) {
	where, args := `ORDER BY id DESC`, []any{}
	if state != "" {
		where, args = `WHERE state = ? ORDER BY id DESC`, []any{state}
	}
	ps, err := queryProposals(ctx, e.db, where, args...)
	if err != nil {
		return nil, err
	}
	// Describe each against the version it was based on.
	for i := range ps {
		var js string
		if err := e.db.QueryRowContext(ctx, `SELECT json FROM settings WHERE version = ?`, ps[i].Base).Scan(&js); err == nil {
			if base, err := ParseSettings([]byte(js)); err == nil {
				ps[i].Changes = Diff(base, ps[i].Settings)
			}
		}
	}
	return ps, nil
}

// SettingsVersion is one version of the settings in the history.
type SettingsVersion struct {
	Version  int64
	Time     time.Time
	Proposal int64 // 0 for the seed
	Settings Settings
}

// History lists every settings version, newest first: what admins and
// governors (viewer role) see as the effective settings' history.
func (e *Engine) History(ctx context.Context) ([]SettingsVersion, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT version, ts, coalesce(proposal, 0), json FROM settings ORDER BY version DESC`)
	if err != nil {
		return nil, fmt.Errorf("reading settings history: %w", err)
	}
	defer rows.Close()
	var out []SettingsVersion
	for rows.Next() {
		var v SettingsVersion
		var t, js string
		if err := rows.Scan(&v.Version, &t, &v.Proposal, &js); err != nil {
			return nil, fmt.Errorf("reading settings history: %w", err)
		}
		if v.Settings, err = ParseSettings([]byte(js)); err != nil {
			return nil, err
		}
		v.Time = parseTS(t)
		out = append(out, v)
	}
	return out, rows.Err()
}

// AuditLog returns audit records after seq, oldest first.
func (e *Engine) AuditLog(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	return audit.List(ctx, e.db, after, limit)
}

// VerifyAudit checks the audit chain (see audit.Verify).
func (e *Engine) VerifyAudit(ctx context.Context) (int, string, error) {
	return audit.Verify(ctx, e.db)
}

// Diff describes how b differs from a, one line per change, for people.
func Diff(a, b Settings) []string {
	var out []string
	pa := map[string]Priority{}
	for _, cp := range a.Priorities {
		pa[cp.Category] = cp.Priority
	}
	for _, cp := range b.Priorities {
		if old, ok := pa[cp.Category]; !ok || old != cp.Priority {
			out = append(out, fmt.Sprintf("priority of %s: %s -> %s", cp.Category, old, cp.Priority))
		}
	}
	type section struct {
		name string
		a, b any
	}
	for _, s := range []section{
		{"alert rules", a.Rules, b.Rules},
		{"recipients", a.Recipients, b.Recipients},
		{"routes", a.Routes, b.Routes},
		{"on-call rota", a.OnCall, b.OnCall},
		{"timescales", a.Timescales, b.Timescales},
		{"escalate to", a.EscalateTo, b.EscalateTo},
		{"weekly report", a.WeeklyReport, b.WeeklyReport},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			ja, _ := json.Marshal(s.a)
			jb, _ := json.Marshal(s.b)
			out = append(out, fmt.Sprintf("%s: %s -> %s", s.name, ja, jb))
		}
	}
	return out
}
