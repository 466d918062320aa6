package querylog

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// maintPass is one retention and pseudonymisation pass, run by the writer
// one small transaction (step) at a time, between batches of entries.
type maintPass struct {
	now     time.Time
	phase   maintPhase
	groups  []groupDays
	gi      int
	cursor  int64
	changed bool // rows were deleted or pseudonymised: clean up dimensions
	waiters []chan error
}

type groupDays struct {
	id   int64
	name string
	days int
}

type maintPhase uint8

const (
	phGroups        maintPhase = iota // list the groups and their retention
	phPurge                           // delete expired entries, per group
	phPurgeRollups                    // delete expired per-client rollups
	phPseudo                          // pseudonymise old entries
	phPseudoRollups                   // pseudonymise old per-client rollups
	phGCClients                       // delete client identities no longer used
	phGCNames                         // delete query names no longer used
	phFinish
)

// maintPause separates maintenance transactions so queued entries and
// readers get the database in between.
const maintPause = 20 * time.Millisecond

func (w *writer) startMaintenance(done chan error) {
	w.maint = &maintPass{now: w.l.now()}
	if done != nil {
		w.maint.waiters = append(w.maint.waiters, done)
	}
	w.nextStep = time.Now()
	// Retention and pseudonymisation work on the indexed table: merge
	// what is staged first (step waits for it), so a pass treats every
	// entry committed before it alike.
	if w.staged > 0 {
		w.mergeTo = max(w.mergeTo, w.lastID)
	}
}

// step runs one maintenance transaction and advances the pass.
func (w *writer) step() {
	p := w.maint
	if p == nil {
		return
	}
	if p.phase == phFinish {
		w.finishMaintenance(nil)
		return
	}
	if w.mergeTo != 0 {
		w.nextStep = time.Now().Add(maintPause)
		return
	}
	start := time.Now()
	err := w.tx(func() error { return w.stepTx(p) })
	if err != nil {
		err = fmt.Errorf("query log maintenance: %w", err)
		w.failed(err, 0)
		w.finishMaintenance(err)
		return
	}
	pause := maintPause
	if share := w.share(); share < 1 {
		pause = max(pause, time.Duration(float64(time.Since(start))*(1-share)/share))
	}
	w.nextStep = time.Now().Add(pause)
}

func (w *writer) finishMaintenance(err error) {
	l := w.l
	p := w.maint
	w.maint = nil
	w.nextMaint = l.now().Add(l.cfg.MaintenanceInterval)
	if err == nil {
		if _, e := w.conn.ExecContext(w.ctx, "PRAGMA optimize"); e != nil {
			l.log.Warn("query log optimize failed", "err", e)
		}
		l.st.mu.Lock()
		l.st.lastMaint = l.now()
		l.st.mu.Unlock()
	}
	l.metrics.dbBytes.Set(float64(fileBytes(l.cfg.Path)))
	for _, c := range p.waiters {
		c <- err
	}
}

func (w *writer) stepTx(p *maintPass) error {
	l := w.l
	switch p.phase {
	case phGroups:
		rows, err := w.conn.QueryContext(w.ctx, `SELECT d.id, d.s FROM dict d WHERE d.id IN (SELECT DISTINCT grp FROM r_decisions)`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g groupDays
			if err := rows.Scan(&g.id, &g.name); err != nil {
				return err
			}
			g.days = l.cfg.Retention.days(g.name)
			p.groups = append(p.groups, g)
		}
		p.phase = phPurge
		return rows.Err()

	case phPurge:
		if p.gi >= len(p.groups) {
			p.phase, p.gi = phPurgeRollups, 0
			return nil
		}
		g := p.groups[p.gi]
		cutoff := idAt(p.now.Add(-time.Duration(g.days) * 24 * time.Hour))
		n, done, err := w.purgeStep(g.id, cutoff)
		if err != nil {
			return err
		}
		if n > 0 {
			p.changed = true
			l.metrics.purged.Add(float64(n))
			l.st.mu.Lock()
			l.st.purged += uint64(n)
			l.st.mu.Unlock()
		}
		if done {
			p.gi++
		}
		return nil

	case phPurgeRollups:
		for _, g := range p.groups {
			day := dayKey(p.now.Add(-time.Duration(g.days)*24*time.Hour), l.loc)
			for _, q := range []string{`DELETE FROM r_clients WHERE grp = ? AND day < ?`, `DELETE FROM r_bypass WHERE grp = ? AND day < ?`} {
				res, err := w.conn.ExecContext(w.ctx, q, g.id, day)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n > 0 {
					p.changed = true
				}
			}
		}
		p.phase = phPseudo
		return nil

	case phPseudo:
		if l.cfg.PseudonymiseAfter <= 0 {
			p.phase = phGCClients
			return nil
		}
		more, err := w.pseudonymiseEntries(p)
		if !more {
			p.phase = phPseudoRollups
		}
		return err

	case phPseudoRollups:
		more, err := w.pseudonymiseRollups(p)
		if !more {
			p.phase = phGCClients
		}
		return err

	case phGCClients:
		if !p.changed {
			p.phase = phFinish
			return nil
		}
		more, err := w.gc(p, "clients", `DELETE FROM clients WHERE id > ? AND id <= ?
			AND NOT EXISTS (SELECT 1 FROM entries WHERE client = clients.id)
			AND id NOT IN (SELECT client FROM recent)
			AND NOT EXISTS (SELECT 1 FROM r_clients WHERE client = clients.id)
			AND NOT EXISTS (SELECT 1 FROM r_bypass WHERE client = clients.id)`)
		if !more {
			p.phase, p.cursor = phGCNames, 0
		}
		clear(w.clients)
		clear(w.pseudo)
		return err

	case phGCNames:
		more, err := w.gc(p, "names", `DELETE FROM names WHERE id > ? AND id <= ?
			AND NOT EXISTS (SELECT 1 FROM entries WHERE qname = names.id)
			AND id NOT IN (SELECT qname FROM recent)`)
		if !more {
			p.phase = phFinish
		}
		clear(w.names)
		return err
	}
	return nil
}

// purgeMarkKey is the meta key of a group's purge mark: every entry of the
// group with a lower ID has been purged or is held.
func purgeMarkKey(grp int64) string { return "purge_mark/" + strconv.FormatInt(grp, 10) }

// purgeStep deletes the expired entries of group grp (IDs below cutoff)
// in the next MaintenanceBatch entries of the table above the group's
// purge mark, whatever their groups, and moves the mark past them. Entries
// are thus scanned once per group, never rescanned, and a step's cost is
// bounded. done: the mark has reached the cut-off.
func (w *writer) purgeStep(grp, cutoff int64) (n int64, done bool, err error) {
	key := purgeMarkKey(grp)
	var mark int64
	err = w.conn.QueryRowContext(w.ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	if cutoff, err = w.belowStaged(cutoff); err != nil {
		return 0, false, err
	}
	if mark >= cutoff {
		return 0, true, nil
	}
	hi := cutoff
	err = w.conn.QueryRowContext(w.ctx, `SELECT id FROM entries WHERE id >= ? AND id < ? ORDER BY id LIMIT 1 OFFSET ?`,
		mark, cutoff, w.l.cfg.MaintenanceBatch).Scan(&hi)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	res, err := w.conn.ExecContext(w.ctx, `DELETE FROM entries WHERE id >= ? AND id < ? AND grp = ?
		AND id NOT IN (SELECT entry FROM holds)`, mark, hi, grp)
	if err != nil {
		return 0, false, err
	}
	n, _ = res.RowsAffected()
	if _, err := w.conn.ExecContext(w.ctx, `INSERT INTO meta(key, value) VALUES (?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, hi); err != nil {
		return 0, false, err
	}
	return n, hi == cutoff, nil
}

// belowStaged lowers an ID cut-off to the first staged entry: purge and
// pseudonymisation marks must not pass entries still to be merged below
// them (only entries enqueued during a pass can be staged then).
func (w *writer) belowStaged(cutoff int64) (int64, error) {
	var first sql.NullInt64
	if err := w.conn.QueryRowContext(w.ctx, `SELECT min(id) FROM recent`).Scan(&first); err != nil {
		return 0, err
	}
	if first.Valid && first.Int64 < cutoff {
		return first.Int64, nil
	}
	return cutoff, nil
}

// gc deletes unreferenced rows of table in the next id range.
func (w *writer) gc(p *maintPass, table, del string) (more bool, err error) {
	var hi sql.NullInt64
	q := `SELECT max(id) FROM (SELECT id FROM ` + table + ` WHERE id > ? ORDER BY id LIMIT ?)`
	if err := w.conn.QueryRowContext(w.ctx, q, p.cursor, w.l.cfg.MaintenanceBatch).Scan(&hi); err != nil {
		return false, err
	}
	if !hi.Valid {
		return false, nil
	}
	if _, err := w.conn.ExecContext(w.ctx, del, p.cursor, hi.Int64); err != nil {
		return false, err
	}
	p.cursor = hi.Int64
	return true, nil
}

// pseudonymiseEntries replaces the client of the next batch of entries
// older than the cut-off, above the stored mark, that are not under hold.
func (w *writer) pseudonymiseEntries(p *maintPass) (more bool, err error) {
	l := w.l
	cutoff, err := w.belowStaged(idAt(p.now.Add(-time.Duration(l.cfg.PseudonymiseAfter) * 24 * time.Hour)))
	if err != nil {
		return false, err
	}
	var mark int64
	err = w.conn.QueryRowContext(w.ctx, `SELECT value FROM meta WHERE key = 'pseudo_mark'`).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	rows, err := w.conn.QueryContext(w.ctx, `SELECT e.id, e.client, c.pseudo FROM entries e JOIN clients c ON c.id = e.client
		WHERE e.id > ? AND e.id < ? ORDER BY e.id LIMIT ?`, mark, cutoff, l.cfg.MaintenanceBatch)
	if err != nil {
		return false, err
	}
	type row struct {
		id, client int64
		pseudo     bool
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.client, &r.pseudo); err != nil {
			rows.Close()
			return false, err
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(todo) == 0 {
		return false, nil
	}
	held := map[int64]bool{}
	hr, err := w.conn.QueryContext(w.ctx, `SELECT entry FROM holds WHERE entry BETWEEN ? AND ?`, todo[0].id, todo[len(todo)-1].id)
	if err != nil {
		return false, err
	}
	for hr.Next() {
		var id int64
		if err := hr.Scan(&id); err != nil {
			hr.Close()
			return false, err
		}
		held[id] = true
	}
	hr.Close()
	var n int64
	for _, r := range todo {
		if r.pseudo || held[r.id] {
			continue
		}
		pid, err := w.pseudoClient(r.client)
		if err != nil {
			return false, err
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE entries SET client = ? WHERE id = ?`, pid, r.id); err != nil {
			return false, err
		}
		n++
	}
	if _, err := w.conn.ExecContext(w.ctx, `INSERT INTO meta(key, value) VALUES ('pseudo_mark', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, todo[len(todo)-1].id); err != nil {
		return false, err
	}
	if n > 0 {
		p.changed = true
		l.metrics.pseudonymised.Add(float64(n))
		l.st.mu.Lock()
		l.st.pseudo += uint64(n)
		l.st.mu.Unlock()
	}
	return true, nil
}

// pseudonymiseRollups moves the next batch of per-client report rows for
// days before the cut-off onto the clients' pseudonyms, merging counts.
func (w *writer) pseudonymiseRollups(p *maintPass) (more bool, err error) {
	l := w.l
	day := dayKey(p.now.Add(-time.Duration(l.cfg.PseudonymiseAfter)*24*time.Hour), l.loc)
	type row struct{ day, grp, client, a, b, cat int64 }
	read := func(q string, withCat bool) ([]row, error) {
		rows, err := w.conn.QueryContext(w.ctx, q, day, l.cfg.MaintenanceBatch)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			var err error
			if withCat {
				err = rows.Scan(&r.day, &r.grp, &r.client, &r.cat, &r.a)
			} else {
				err = rows.Scan(&r.day, &r.grp, &r.client, &r.a, &r.b)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	cl, err := read(`SELECT r.day, r.grp, r.client, r.blocked, r.bypass FROM r_clients r JOIN clients c ON c.id = r.client
		WHERE c.pseudo = 0 AND r.day < ? LIMIT ?`, false)
	if err != nil {
		return false, err
	}
	for _, r := range cl {
		pid, err := w.pseudoClient(r.client)
		if err != nil {
			return false, err
		}
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM r_clients WHERE day = ? AND grp = ? AND client = ?`, r.day, r.grp, r.client); err != nil {
			return false, err
		}
		if _, err := w.st["rClient"].ExecContext(w.ctx, r.day, r.grp, pid, r.a, r.b); err != nil {
			return false, err
		}
	}
	bp, err := read(`SELECT r.day, r.grp, r.client, r.category, r.n FROM r_bypass r JOIN clients c ON c.id = r.client
		WHERE c.pseudo = 0 AND r.day < ? LIMIT ?`, true)
	if err != nil {
		return false, err
	}
	for _, r := range bp {
		pid, err := w.pseudoClient(r.client)
		if err != nil {
			return false, err
		}
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM r_bypass WHERE day = ? AND grp = ? AND client = ? AND category = ?`, r.day, r.grp, r.client, r.cat); err != nil {
			return false, err
		}
		if _, err := w.st["rBypass"].ExecContext(w.ctx, r.day, r.grp, pid, r.cat, r.a); err != nil {
			return false, err
		}
	}
	if len(cl)+len(bp) > 0 {
		p.changed = true
	}
	return len(cl)+len(bp) > 0, nil
}

// pseudoClient returns the pseudonymised identity of client id: each of
// address, MAC and hostname replaced by a keyed hash, so one device keeps
// one pseudonym (patterns stay countable) but cannot be named without the
// key, which never leaves the database.
func (w *writer) pseudoClient(id int64) (int64, error) {
	if pid, ok := w.pseudo[id]; ok {
		return pid, nil
	}
	var addr, mac, host string
	var pseudo bool
	if err := w.conn.QueryRowContext(w.ctx, `SELECT addr, mac, hostname, pseudo FROM clients WHERE id = ?`, id).Scan(&addr, &mac, &host, &pseudo); err != nil {
		return 0, fmt.Errorf("reading client %d: %w", id, err)
	}
	pid := id
	if !pseudo {
		var err error
		pid, err = w.clientRow(w.l.pseudonym("addr", addr), w.l.pseudonym("mac", mac), w.l.pseudonym("host", host), true)
		if err != nil {
			return 0, err
		}
	}
	if len(w.pseudo) >= cacheLimit {
		clear(w.pseudo)
	}
	w.pseudo[id] = pid
	return pid, nil
}

// pseudonym is the keyed hash of one identity field; empty stays empty,
// except the address, which always gets one (it is the pseudonym entries
// show and searches use).
func (l *Log) pseudonym(kind, v string) string {
	if v == "" && kind != "addr" {
		return ""
	}
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return "anon-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Hold places entries under legal hold for an incident: they are neither
// purged nor pseudonymised until Release(ref). IDs not (yet) in the log
// may be held too; holding twice under one ref is a no-op.
func (l *Log) Hold(ctx context.Context, ref, who string, ids ...uint64) error {
	if l.wdb == nil {
		return ErrReadOnly
	}
	if ref == "" {
		return errors.New("holding entries: empty incident reference")
	}
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("holding entries for %q: %w", ref, err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO holds(entry, ref, who, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("holding entries for %q: %w", ref, err)
	}
	defer st.Close()
	at := l.now().Unix()
	for _, id := range ids {
		if _, err := st.ExecContext(ctx, int64(id), ref, who, at); err != nil {
			return fmt.Errorf("holding entries for %q: %w", ref, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("holding entries for %q: %w", ref, err)
	}
	return nil
}

// Release ends the legal hold of incident ref and returns how many holds
// it removed. Released entries then follow retention and
// pseudonymisation again at the next maintenance pass (an entry held under
// several references stays held until all are released).
func (l *Log) Release(ctx context.Context, ref string) (int, error) {
	if l.wdb == nil {
		return 0, ErrReadOnly
	}
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
	}
	defer tx.Rollback()
	var first sql.NullInt64
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT min(entry), count(*) FROM holds WHERE ref = ?`, ref).Scan(&first, &n); err != nil {
		return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
	}
	// Let retention revisit the released entries: move each of their
	// groups' purge marks back to the group's first released entry.
	// (Staged entries are above every mark: see belowStaged.)
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = min(value, (
			SELECT min(e.id) FROM holds h JOIN entries e ON e.id = h.entry
			WHERE h.ref = ? AND 'purge_mark/' || e.grp = meta.key))
		WHERE key IN (SELECT DISTINCT 'purge_mark/' || e.grp FROM holds h JOIN entries e ON e.id = h.entry WHERE h.ref = ?)`, ref, ref); err != nil {
		return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE ref = ?`, ref); err != nil {
		return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
	}
	if first.Valid {
		// Let pseudonymisation revisit the released entries.
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = min(value, ?) WHERE key = 'pseudo_mark'`, first.Int64-1); err != nil {
			return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("releasing hold %q: %w", ref, err)
	}
	return n, nil
}

// Held lists the entry IDs held under ref, in ID order.
func (l *Log) Held(ctx context.Context, ref string) ([]uint64, error) {
	rows, err := l.rdb.QueryContext(ctx, `SELECT entry FROM holds WHERE ref = ? ORDER BY entry`, ref)
	if err != nil {
		return nil, fmt.Errorf("listing hold %q: %w", ref, err)
	}
	defer rows.Close()
	var ids []uint64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("listing hold %q: %w", ref, err)
		}
		ids = append(ids, uint64(id))
	}
	return ids, rows.Err()
}
