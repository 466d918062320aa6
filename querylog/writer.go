package querylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"time"
)

// writer is the single goroutine that owns the database for writing:
// batches of entries, rollups and maintenance all run here, one small
// transaction at a time, so they never contend with each other.
type writer struct {
	l     *Log
	ctx   context.Context
	conn  *sql.Conn            // maintenance and requests
	st    map[string]*sql.Stmt // prepared on conn
	raw   *rawConn             // batches of entries
	rs    batchStmts           // prepared on raw
	maxID uint64               // largest ID in the database at start
	// lastID is the ID of the last entry committed, staged is how many
	// entries recent holds (see schema v4).
	lastID uint64
	staged int
	// mergeTo, when not 0, is a merge under way: every staged entry with
	// an ID up to it moves to entries, MergeBatch at a time. mergeAt is
	// when the next merge starts if MergeRows has not started one.
	mergeTo uint64
	mergeAt time.Time
	// mergeRest is when the next merge slice may start.
	mergeRest time.Time

	batch []Entry

	// Interning caches, valid only for committed rows: cleared whenever a
	// transaction rolls back or maintenance deletes rows.
	clients map[clientKey]int64
	names   map[string]int64
	dict    map[string]int64
	pseudo  map[int64]int64 // client id → its pseudonymised client id

	roll rollups
	day  dayCache

	backoff time.Duration
	retryAt time.Time
	// restUntil keeps the writer to its CPU share (see share) while it
	// catches up with a backlog.
	restUntil time.Time
	// owed is what the flush pass under way still has to write: the
	// entries queued when it began (see flush). nextFlush is when the
	// next pass begins, one FlushInterval after the last began.
	owed      int
	nextFlush time.Time
	// woken is set by a wake-up (a full batch queued): begin a pass now.
	woken bool
	// curShare is the share last worked out, at shareAt.
	curShare float64
	shareAt  time.Time
	// perEntry is what the last batch of minShareBatch or more took per
	// entry, for batchSize.
	perEntry time.Duration

	maint     *maintPass
	nextMaint time.Time
	nextStep  time.Time

	droppedSeen uint64
	// yielded is the total time spent in yield, away from the writer's
	// own work; slept is when yield last slept.
	yielded time.Duration
	slept   time.Time
	// droppedWarned is the drop count last logged, at dropWarnAt.
	droppedWarned uint64
	dropWarnAt    time.Time
}

type clientKey struct {
	addr      netip.Addr
	mac, host string
}

const cacheLimit = 200_000 // entries per interning cache before it is reset

// yieldEvery is how many rows the writer inserts between yields to other
// goroutines: about a third of a millisecond of work.
const yieldEvery = 64

// yield gives other goroutines a turn between a few rows' work. On one P
// (internal/procs), once yieldWork has passed since it last slept, it
// sleeps for yieldSleep rather than calling runtime.Gosched, which does
// not let DNS in: Gosched puts the writer on the global run queue, and the
// scheduler takes it from there before it polls the network, so the DNS
// read loops, parked in the netpoller, stayed parked until the runtime's
// monitor thread polled (every 10 ms): a batch held DNS up for 10-20 ms
// (docs/performance.md, Session 8). A sleeping writer is on no run queue,
// so the scheduler polls the network and runs whatever DNS it finds; the
// sleep must outlast the few microseconds the scheduler takes to get
// there, or the expired timer puts the writer first again. With no DNS to
// run the scheduler waits in the netpoller, at least a millisecond (its
// finest timeout), and the writer comes back to cold caches: that is why
// it sleeps only every yieldWork, not at every yield. With several Ps an
// idle one polls the network anyway.
//
// The time away is added to yielded, so that what a batch or a merge
// slice took (its rest, its size, the slice's length) counts only the
// writer's own work.
func (w *writer) yield() {
	start := time.Now()
	if runtime.GOMAXPROCS(0) == 1 && start.Sub(w.slept) >= yieldWork {
		time.Sleep(yieldSleep)
		w.slept = time.Now()
	} else {
		runtime.Gosched()
	}
	w.yielded += time.Since(start)
}

// working is the time since start less the time spent in yields since
// yielded was y0.
func (w *writer) working(start time.Time, y0 time.Duration) time.Duration {
	return time.Since(start) - (w.yielded - y0)
}

// yieldSleep is yield's sleep on one P, and yieldWork the least time
// between two such sleeps: the longest DNS waits for the writer, give or
// take a yield's worth of rows. See yield.
const (
	yieldSleep = 50 * time.Microsecond
	yieldWork  = time.Millisecond
)

// busyBatch rows in one batch make the writer call Config.Busy: a second's
// worth of batches this size is over 4,000 queries a second.
const busyBatch = 1024

// Statements the writer prepares once on its maintenance connection.
var writerSQL = map[string]string{
	"clientGet": `SELECT id FROM clients WHERE addr = ? AND mac = ? AND hostname = ?`,
	"clientPut": `INSERT INTO clients(addr, mac, hostname, pseudo) VALUES (?, ?, ?, ?) RETURNING id`,
	"rClient":   rClientSQL,
	"rBypass":   rBypassSQL,
}

const (
	rClientSQL = `INSERT INTO r_clients(day, grp, client, blocked, bypass) VALUES (?,?,?,?,?)
		ON CONFLICT DO UPDATE SET blocked = blocked + excluded.blocked, bypass = bypass + excluded.bypass`
	rBypassSQL = `INSERT INTO r_bypass(day, grp, client, category, n) VALUES (?,?,?,?,?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`
)

// batchStmts are the statements of a batch transaction, prepared once on
// the raw connection.
type batchStmts struct {
	begin, commit, rollback                       *rawStmt
	insert                                        *rawStmt
	mergeHi, mergeIns, mergeDel                   *rawStmt
	dictGet, dictPut, nameGet, namePut            *rawStmt
	clientGet, clientPut                          *rawStmt
	rDecision, rCategory, rName, rClient, rBypass *rawStmt
}

func (b *batchStmts) all() []**rawStmt {
	return []**rawStmt{&b.begin, &b.commit, &b.rollback, &b.insert, &b.mergeHi, &b.mergeIns, &b.mergeDel, &b.dictGet, &b.dictPut, &b.nameGet, &b.namePut,
		&b.clientGet, &b.clientPut, &b.rDecision, &b.rCategory, &b.rName, &b.rClient, &b.rBypass}
}

var batchSQL = [...]string{
	"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK",
	`INSERT INTO recent(` + entryColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
	// A step of a merge slice: the last ID of the next ?3 staged entries
	// above ?1 up to ?2, moved to entries in ID order (so the table
	// appends) and deleted from recent. Deleting step by step rather than
	// the whole slice in one statement at its end lets the writer yield
	// between steps: one DELETE of a slice held DNS up for 13 ms on one P.
	`SELECT max(id) FROM (SELECT id FROM recent WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)`,
	`INSERT INTO entries(` + entryColumns + `) SELECT ` + entryColumns + ` FROM recent WHERE id > ? AND id <= ? ORDER BY id`,
	`DELETE FROM recent WHERE id > ? AND id <= ?`,
	`SELECT id FROM dict WHERE s = ?`,
	`INSERT INTO dict(s) VALUES (?) RETURNING id`,
	`SELECT id FROM names WHERE name = ?`,
	`INSERT INTO names(name, rkey) VALUES (?, ?) RETURNING id`,
	`SELECT id FROM clients WHERE addr = ? AND mac = ? AND hostname = ?`,
	`INSERT INTO clients(addr, mac, hostname, pseudo) VALUES (?, ?, ?, 0) RETURNING id`,
	`INSERT INTO r_decisions(day, grp, decision, n) VALUES (?,?,?,?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`,
	`INSERT INTO r_categories(day, grp, decision, category, n) VALUES (?,?,?,?,?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`,
	`INSERT INTO r_names(day, grp, name, n) VALUES (?,?,?,?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`,
	rClientSQL,
	rBypassSQL,
}

// rawPragmas configure the batch connection as dsn does the others.
// Its page cache is larger (Config.batchCacheKiB, 32 MiB): a merge slice
// dirties an index page per device and name it holds, and a slice whose
// dirty pages do not fit the cache writes them to the WAL more than once
// (64 MiB halves the bytes again at the load test's shape, for ~75 MiB of
// resident memory). Its temporary files are in memory: each step of a
// merge slice after the first keeps a statement journal of the pages
// earlier steps dirtied, which on disk wrote four times the bytes the
// merge saves (BenchmarkWriteBytes: 8.9 KB an entry instead of 1.8).
var rawPragmas = []string{"busy_timeout=5000", "synchronous=NORMAL", "wal_autocheckpoint=8192", "temp_store=MEMORY"}

func newWriter(ctx context.Context, l *Log) (*writer, error) {
	conn, err := l.wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting writer: %w", err)
	}
	w := &writer{
		l: l, ctx: context.Background(), conn: conn, st: map[string]*sql.Stmt{},
		batch:   make([]Entry, 0, l.cfg.BatchSize),
		clients: map[clientKey]int64{}, names: map[string]int64{}, dict: map[string]int64{}, pseudo: map[int64]int64{},
		roll: newRollups(),
		day:  dayCache{loc: l.loc},
	}
	for k, q := range writerSQL {
		if w.st[k], err = conn.PrepareContext(ctx, q); err != nil {
			w.closeConn()
			return nil, fmt.Errorf("preparing %s: %w", k, err)
		}
	}
	pragmas := append(rawPragmas[:len(rawPragmas):len(rawPragmas)], fmt.Sprintf("cache_size=-%d", l.cfg.batchCacheKiB))
	if w.raw, err = openRaw(l.cfg.Path, pragmas...); err != nil {
		w.closeConn()
		return nil, fmt.Errorf("opening batch connection: %w", err)
	}
	for i, p := range w.rs.all() {
		if *p, err = w.raw.prepare(batchSQL[i]); err != nil {
			w.closeConn()
			return nil, err
		}
	}
	// Entries a crash left staged stay there, merged with the next ones.
	var maxID sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(id) FROM entries), 0), coalesce((SELECT max(id) FROM recent), 0)),
		(SELECT count(*) FROM recent)`).Scan(&maxID, &w.staged); err != nil {
		w.closeConn()
		return nil, fmt.Errorf("reading last entry id: %w", err)
	}
	w.maxID = uint64(maxID.Int64)
	w.lastID = w.maxID
	w.mergeAt = time.Now().Add(l.cfg.MergeInterval)
	w.nextMaint = l.now().Add(time.Minute) // first pass soon after start, not during it
	l.metrics.dbBytes.Set(float64(fileBytes(l.cfg.Path)))
	return w, nil
}

func (w *writer) closeConn() {
	for _, s := range w.st {
		s.Close()
	}
	w.conn.Close()
	for _, p := range w.rs.all() {
		if *p != nil {
			(*p).close()
		}
	}
	if w.raw != nil {
		w.raw.close()
	}
}

// run is the writer goroutine.
func (w *writer) run() {
	l := w.l
	defer close(l.done)
	defer w.closeConn()
	timer := time.NewTimer(l.cfg.FlushInterval)
	defer timer.Stop()
	for {
		if l.cfg.testLoop != nil {
			l.cfg.testLoop()
		}
		now := time.Now()
		if !now.Before(w.flushAt(now)) {
			w.flush(false)
			if w.mergeDue(now) {
				w.mergeTo = w.lastID
			}
			now = time.Now()
		}
		if w.mergeTo != 0 && !now.Before(w.mergeNext()) {
			w.merge()
			now = time.Now()
		}
		w.gauges()
		if w.maint == nil && !l.now().Before(w.nextMaint) {
			w.startMaintenance(nil)
		}
		if w.maint != nil && !now.Before(w.stepAt()) {
			w.step()
			now = time.Now()
		}

		// Sleep until the first of them is due, by the same times the
		// checks above use: a wait that ended before its work could run
		// (a flush due but the writer resting) would spin this loop
		// without parking, holding a P until the rest ended.
		wait := w.flushAt(now).Sub(now)
		if w.mergeTo != 0 {
			wait = min(wait, w.mergeNext().Sub(now))
		}
		if w.maint != nil {
			wait = min(wait, w.stepAt().Sub(now))
		}
		wait = max(wait, 0)
		timer.Reset(wait)
		select {
		case <-l.wake:
			w.woken = true
		case <-timer.C:
		case req := <-l.reqs:
			req.reply <- w.handle(req)
		case <-l.stop:
			w.flush(true)
			w.gauges()
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (w *writer) handle(req request) error {
	switch req.kind {
	case reqFlush:
		err := w.flush(true)
		w.gauges()
		return err
	case reqMaintain:
		done := make(chan error, 1)
		if w.maint != nil {
			w.maint.waiters = append(w.maint.waiters, done)
		} else {
			w.startMaintenance(done)
		}
		for w.maint != nil {
			w.flush(true)
			if w.mergeTo != 0 {
				if err := w.merge(); err != nil {
					w.finishMaintenance(fmt.Errorf("query log maintenance: %w", err))
					break
				}
				continue
			}
			w.step()
		}
		return <-done
	case reqMerge:
		if err := w.flush(true); err != nil {
			return err
		}
		if w.staged > 0 {
			w.mergeTo = max(w.mergeTo, w.lastID)
		}
		for w.mergeTo != 0 {
			if err := w.merge(); err != nil {
				return err
			}
		}
		return nil
	case reqExec:
		return req.fn(w.ctx, w.conn)
	case reqExecBatch:
		return w.raw.exec(req.query)
	}
	return fmt.Errorf("unknown request %d", req.kind)
}

// flushAt is when the writer writes next: now if a pass is under way or a
// full batch woke it, else when FlushInterval has passed since the last
// pass began; in either case not before a rest or a backoff ends.
func (w *writer) flushAt(now time.Time) time.Time {
	t := w.nextFlush
	if w.owed > 0 || w.woken {
		t = now
	}
	return latest(t, w.restUntil, w.retryAt)
}

// stepAt is when the maintenance pass under way takes its next step.
func (w *writer) stepAt() time.Time { return latest(w.nextStep, w.retryAt) }

func latest(t time.Time, more ...time.Time) time.Time {
	for _, u := range more {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// flush writes what is queued, batch by batch. With force it writes
// everything at once. Without, it is one pass: the entries queued when the
// pass began, in batches that keep to the writer's CPU share with rests in
// between (the writer returns to flush after each rest). Entries that
// arrive during a pass wait for the next one, so that at a steady rate one
// transaction carries about FlushInterval's entries. Writing whatever came
// in during each rest instead shrank the batches to what one rest let in
// (at 20,000 queries a second about 60 entries, 300 commits and wake-ups
// a second). After a failure it stops and returns the error; the writer
// retries after a backoff.
func (w *writer) flush(force bool) error {
	if !force && w.owed == 0 {
		w.woken = false
		w.owed = w.l.ring.len()
		w.nextFlush = time.Now().Add(w.l.cfg.FlushInterval)
	}
	for {
		size := w.l.cfg.BatchSize
		if !force {
			if w.owed == 0 || time.Now().Before(w.restUntil) {
				return nil
			}
			size = min(w.batchSize(), w.owed)
		}
		w.batch = w.l.ring.drain(w.batch[:0], size)
		w.owed = max(w.owed-len(w.batch), 0)
		if len(w.batch) == 0 {
			w.owed = 0
			return nil
		}
		err := w.write(w.batch)
		clear(w.batch) // drop references to the callers' strings and answers
		if err != nil {
			return err
		}
	}
}

// write commits one batch: entries, interned strings and rollups in one
// transaction. On failure the batch is dropped and counted.
func (w *writer) write(batch []Entry) (err error) {
	l := w.l
	start, y0 := time.Now(), w.yielded
	if l.cfg.testBeforeWrite != nil {
		l.cfg.testBeforeWrite()
	}
	if l.cfg.Busy != nil && len(batch) >= busyBatch {
		l.cfg.Busy()
	}
	err = w.batchTx(func() error { return w.insert(batch) })
	if err != nil {
		w.failed(fmt.Errorf("writing %d entries: %w", len(batch), err), uint64(len(batch)))
		return err
	}
	took := w.working(start, y0)
	l.metrics.writeDuration.Observe(took.Seconds())
	if len(batch) >= minShareBatch {
		w.perEntry = took / time.Duration(len(batch))
	}
	if share := w.share(); share < 1 {
		// Never rest longer than FlushInterval: that would stretch what a
		// crash can lose beyond the promised bound.
		rest := min(time.Duration(float64(took)*(1-share)/share), l.cfg.FlushInterval)
		w.restUntil = time.Now().Add(rest)
	}
	l.metrics.written.Add(float64(len(batch)))
	w.lastID = batch[len(batch)-1].ID
	w.staged += len(batch)
	w.backoff, w.retryAt = 0, time.Time{}
	s := &l.st
	s.mu.Lock()
	s.written += uint64(len(batch))
	s.failing = false
	s.lastWriteAt = time.Now()
	s.mu.Unlock()
	l.publish(batch)
	return nil
}

// tx runs fn inside BEGIN IMMEDIATE .. COMMIT on the writer connection
// (statements prepared on the connection are reused across transactions,
// which database/sql's Tx cannot do). A panic in fn, e.g. from a caller's
// Summarizer, becomes an error: the writer goroutine must not die.
func (w *writer) tx(fn func() error) (err error) {
	if _, err := w.conn.ExecContext(w.ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil {
			// SQLite may already have rolled back (SQLITE_FULL, IOERR);
			// then ROLLBACK fails harmlessly.
			w.conn.ExecContext(w.ctx, "ROLLBACK")
			w.resetCaches()
		}
	}()
	if err = fn(); err != nil {
		return err
	}
	_, err = w.conn.ExecContext(w.ctx, "COMMIT")
	return err
}

// batchTx is tx on the raw connection, for batches of entries.
func (w *writer) batchTx(fn func() error) (err error) {
	if err := w.rs.begin.run(); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil {
			w.rs.rollback.run()
			w.resetCaches()
		}
	}()
	if err = fn(); err != nil {
		return err
	}
	return w.rs.commit.run()
}

// mergeDue says whether to start moving what is staged into entries:
// MergeRows are staged, or some are and MergeInterval has passed since
// the last merge.
func (w *writer) mergeDue(now time.Time) bool {
	return w.mergeTo == 0 && w.staged > 0 && (w.staged >= w.l.cfg.MergeRows || !now.Before(w.mergeAt))
}

// mergeNext is when the next merge slice may start: after the last one's
// rest, and not while the writer rests or backs off.
func (w *writer) mergeNext() time.Time { return latest(w.mergeRest, w.restUntil, w.retryAt) }

// mergeStep is how many rows a merge moves (and deletes from recent) per
// statement, after which it yields as insert does: a third of a
// millisecond or so of work.
const mergeStep = yieldEvery

// merge moves the next slice of staged entries, up to w.mergeTo, into
// entries in one transaction. A slice stops after Config.mergeSlice or
// MergeBatch rows, so new entries wait at most that longer than
// FlushInterval to commit (the crash bound); the larger the slice, the
// more entries share each index page it dirties (the SD card's wear).
// After it the merge rests in proportion, like a batch, so it takes only
// the writer's CPU share; batches of new entries are not held up by that
// rest.
func (w *writer) merge() error {
	l := w.l
	start, y0 := time.Now(), w.yielded
	if l.cfg.Busy != nil && min(w.staged, l.cfg.MergeBatch) >= busyBatch {
		l.cfg.Busy()
	}
	var lo, moved int64
	done := false
	err := w.batchTx(func() error {
		hi, ins, del := w.rs.mergeHi, w.rs.mergeIns, w.rs.mergeDel
		for moved < int64(l.cfg.MergeBatch) && w.working(start, y0) < l.cfg.mergeSlice {
			step := min(mergeStep, int64(l.cfg.MergeBatch)-moved)
			if err := errors.Join(hi.int64(1, lo), hi.int64(2, int64(w.mergeTo)), hi.int64(3, step)); err != nil {
				return err
			}
			next, _, err := hi.one()
			if err != nil {
				return err
			}
			if next == 0 {
				done = true
				break
			}
			if err := errors.Join(ins.int64(1, lo), ins.int64(2, next)); err != nil {
				return err
			}
			if err := ins.run(); err != nil {
				return err
			}
			moved += w.raw.changes()
			if err := errors.Join(del.int64(1, lo), del.int64(2, next)); err != nil {
				return err
			}
			if err := del.run(); err != nil {
				return err
			}
			lo = next
			w.yield() // as insert does, for DNS on one P
		}
		return nil
	})
	if err != nil {
		// Nothing moved; the merge resumes after the backoff.
		w.failed(fmt.Errorf("merging staged entries: %w", err), 0)
		return err
	}
	took := w.working(start, y0)
	l.metrics.mergeDuration.Observe(took.Seconds())
	w.staged = max(w.staged-int(moved), 0)
	if done || uint64(lo) >= w.mergeTo {
		w.mergeTo = 0
		w.mergeAt = time.Now().Add(l.cfg.MergeInterval)
	}
	if share := w.share(); share < 1 {
		w.mergeRest = time.Now().Add(time.Duration(float64(took) * (1 - share) / share))
	}
	return nil
}

func (w *writer) resetCaches() {
	clear(w.clients)
	clear(w.names)
	clear(w.dict)
	clear(w.pseudo)
}

// failed records a database error, counts the lost entries and backs off.
func (w *writer) failed(err error, lost uint64) {
	l := w.l
	w.backoff = min(max(2*w.backoff, 100*time.Millisecond), 5*time.Second)
	w.retryAt = time.Now().Add(w.backoff)
	l.metrics.errors.Inc()
	l.metrics.dropped.Add(float64(lost))
	s := &l.st
	s.mu.Lock()
	s.errors++
	s.failDropped += lost
	s.lastErr = err.Error()
	s.lastErrAt = time.Now()
	s.failing = true
	s.mu.Unlock()
	l.log.Warn("query log write failed; entries dropped, retrying", "err", err, "dropped", lost, "retry_in", w.backoff)
}

// gauges folds the hot path's drop counter into the metrics and updates
// the queue gauge.
func (w *writer) gauges() {
	l := w.l
	d := l.ring.dropped.Load()
	if d > w.droppedSeen {
		l.metrics.dropped.Add(float64(d - w.droppedSeen))
		w.droppedSeen = d
	}
	// Say so in the application log too, at most once a dropWarnEvery:
	// a technician reading it after a flood learns the log has gaps.
	if now := time.Now(); d > w.droppedWarned && now.Sub(w.dropWarnAt) >= dropWarnEvery {
		l.log.Warn("query log queue full: entries dropped so that DNS keeps the CPU (the machine is saturated)",
			"dropped", d-w.droppedWarned)
		w.droppedWarned, w.dropWarnAt = d, now
	}
	l.metrics.queued.Set(float64(l.ring.len()))
	l.metrics.staged.Set(float64(w.staged))
}

// dropWarnEvery spaces the warnings of entries dropped under a flood.
const dropWarnEvery = time.Minute

func (w *writer) insert(batch []Entry) error {
	w.roll.reset()
	ins := w.rs.insert
	for i := range batch {
		if i%yieldEvery == yieldEvery-1 {
			// A batch takes tens of milliseconds; yield now and then so
			// that, on one P (internal/procs), DNS replies wait for at
			// most a few rows, not the whole batch.
			w.yield()
		}
		e := &batch[i]
		client, err := w.clientID(clientKey{e.Client, e.MAC, e.Hostname})
		if err != nil {
			return err
		}
		qname, err := w.nameID(e.QName)
		if err != nil {
			return err
		}
		var ids [5]int64
		for j, s := range [5]string{e.Group, e.ClientRule, e.Category, e.List, e.Matched} {
			if ids[j], err = w.dictID(s); err != nil {
				return err
			}
		}
		fwd := ""
		if e.Forwarder.IsValid() {
			fwd = e.Forwarder.String()
		}
		// The integer parameters by number, as the INSERT lists them;
		// 14 (answer) and 18 (forwarder) are text.
		params := [...]int64{1: int64(e.ID), e.Time.UnixNano(), client, ids[0], ids[1], qname,
			int64(e.QType), int64(e.Proto), int64(e.Decision), ids[2], ids[3], ids[4], int64(e.Rcode),
			15: int64(e.Source), int64(e.DNSSEC), int64(e.Duration)}
		for p, v := range params {
			if p != 0 && p != 14 {
				if err := ins.int64(p, v); err != nil {
					return err
				}
			}
		}
		if err := errors.Join(ins.text(14, summary(e.Answer)), ins.text(18, fwd)); err != nil {
			return err
		}
		if err := ins.run(); err != nil {
			return err
		}
		w.roll.add(w.day.of(e.Time), ids[0], e.Decision, ids[2], client, e.QName)
	}
	return w.roll.write(&w.rs)
}

func (w *writer) dictID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if id, ok := w.dict[s]; ok {
		return id, nil
	}
	id, err := w.intern(w.rs.dictGet, w.rs.dictPut, s)
	if err != nil {
		return 0, fmt.Errorf("interning string: %w", err)
	}
	if len(w.dict) >= cacheLimit {
		clear(w.dict)
	}
	w.dict[s] = id
	return id, nil
}

// intern looks up the row of get's text parameters, inserting it with
// put's (get's and then extra) when missing, and returns its id.
func (w *writer) intern(get, put *rawStmt, keys ...string) (int64, error) {
	for i, k := range keys[:get.params()] {
		if err := get.text(i+1, k); err != nil {
			return 0, err
		}
	}
	id, ok, err := get.one()
	if err != nil || ok {
		return id, err
	}
	for i, k := range keys {
		if err := put.text(i+1, k); err != nil {
			return 0, err
		}
	}
	id, ok, err = put.one()
	if err == nil && !ok {
		err = errors.New("insert returned no id")
	}
	return id, err
}

func (w *writer) nameID(name string) (int64, error) {
	if id, ok := w.names[name]; ok {
		return id, nil
	}
	id, err := w.intern(w.rs.nameGet, w.rs.namePut, name, nameKey(name))
	if err != nil {
		return 0, fmt.Errorf("interning name: %w", err)
	}
	if len(w.names) >= cacheLimit {
		clear(w.names)
	}
	w.names[name] = id
	return id, nil
}

// clientID interns a client identity seen in a batch.
func (w *writer) clientID(k clientKey) (int64, error) {
	if id, ok := w.clients[k]; ok {
		return id, nil
	}
	addr := ""
	if k.addr.IsValid() {
		addr = k.addr.String()
	}
	id, err := w.intern(w.rs.clientGet, w.rs.clientPut, addr, k.mac, k.host)
	if err != nil {
		return 0, fmt.Errorf("interning client: %w", err)
	}
	if len(w.clients) >= cacheLimit {
		clear(w.clients)
	}
	w.clients[k] = id
	return id, nil
}

// clientRow interns a client identity during maintenance (on the
// maintenance connection). Pseudonymised identities are stored with their
// hashes in the text columns, so their addr is never an IP.
func (w *writer) clientRow(addr, mac, host string, pseudo bool) (int64, error) {
	var id int64
	err := w.st["clientGet"].QueryRowContext(w.ctx, addr, mac, host).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = w.st["clientPut"].QueryRowContext(w.ctx, addr, mac, host, pseudo).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("interning client: %w", err)
	}
	return id, nil
}

// nameKey is the search key of a query name: lower-case (ASCII), without
// the root dot, labels reversed ("www.Example.org." → "org.example.www"),
// so every name under a domain sorts together after it.
func nameKey(name string) string {
	name = strings.TrimSuffix(asciiLower(name), ".")
	labels := strings.Split(name, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// dayCache maps instants to site-local days (YYYYMMDD), remembering the
// current day's bounds so most entries cost two comparisons.
type dayCache struct {
	loc        *time.Location
	start, end time.Time
	key        int32
}

func (c *dayCache) of(t time.Time) int32 {
	if !t.Before(c.start) && t.Before(c.end) {
		return c.key
	}
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	c.start = time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	c.end = time.Date(y, m, d+1, 0, 0, 0, 0, c.loc)
	c.key = int32(y*10000 + int(m)*100 + d)
	return c.key
}

// dayKey is the site-local day of t as YYYYMMDD.
func dayKey(t time.Time, loc *time.Location) int32 {
	y, m, d := t.In(loc).Date()
	return int32(y*10000 + int(m)*100 + d)
}

// summary calls the caller's Summarizer; one that panics costs its entry
// the answer text, not the batch.
func summary(s Summarizer) (out string) {
	if s == nil {
		return ""
	}
	defer func() {
		if recover() != nil {
			out = "(answer summary failed)"
		}
	}()
	return s.Summary()
}

// spareEvery is how often the writer asks how much CPU the machine leaves
// idle: often enough to give way within a second when a flood starts, and
// over a window long enough to average out single batches.
const spareEvery = 500 * time.Millisecond

// share is the most of one CPU the writer may use now: what the machine
// left idle over the last spareEvery or so, between Config.WriterShare and
// 1. The writer takes only CPU nothing else wants, so at 20,000 queries a
// second on a two-core machine it logs everything, and under a flood that
// saturates the machine DNS keeps all but WriterShare. The idle figure
// does not count the writer's own use as available: were it counted, a
// writer that had taken a core would keep it, however much DNS waited.
func (w *writer) share() float64 {
	floor := w.l.cfg.WriterShare
	if w.l.cfg.Spare == nil || floor >= 1 {
		return floor
	}
	if now := time.Now(); w.shareAt.IsZero() || now.Sub(w.shareAt) >= spareEvery {
		w.shareAt = now
		w.curShare = floor
		if idle, ok := w.l.cfg.Spare(); ok {
			w.curShare = min(max(idle, floor), 1)
		}
	}
	return w.curShare
}

// minShareBatch is the smallest batch batchSize asks for: below it a
// commit's fixed cost dominates.
const minShareBatch = 64

// batchSize is how many entries the next batch may take: BatchSize, or
// while the writer's share is below one CPU, as many as it writes in the
// time that share allows before its longest rest (FlushInterval). A
// full batch taking 100 ms and then the longest rest would use 0.29 of a
// CPU whatever the share.
func (w *writer) batchSize() int {
	n := w.l.cfg.BatchSize
	share := w.share()
	if share >= 1 || w.perEntry <= 0 {
		return n
	}
	budget := time.Duration(float64(w.l.cfg.FlushInterval) * share / (1 - share))
	return min(n, max(minShareBatch, int(budget/w.perEntry)))
}
