package safeguarding

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/policy/schedule"
	"gatehouse/querylog"
	"gatehouse/safeguarding/audit"
	"gatehouse/safeguarding/deliver"
)

// Holder puts query-log entries on legal hold for a concern and releases
// them when the concern is purged. *querylog.Log implements it.
type Holder interface {
	Hold(ctx context.Context, ref, who string, ids ...uint64) error
	Release(ctx context.Context, ref string) (int, error)
}

// ReportSource summarises the query log for the weekly report.
// *querylog.Log implements it.
type ReportSource interface {
	Report(ctx context.Context, from, to time.Time, group string) (querylog.Report, error)
}

// Infrastructure is how messages leave the appliance: it comes from the
// config file (server names, webhook URLs and their secrets), and every
// change of it is recorded in the audit log.
type Infrastructure struct {
	SMTP     *deliver.SMTP // nil: no email
	Webhooks []*deliver.Webhook
	Syslog   *deliver.Syslog // nil: no syslog
}

// Config configures an Engine.
type Config struct {
	// Path is the database file, normally safeguarding.db in the state
	// directory. Required.
	Path string
	// Initial settings are stored the first time the database is opened;
	// after that the database is the only source of settings (changed by
	// approved proposals), and Initial is ignored. Zero fields take the
	// built-in defaults.
	Initial Settings
	Infra   Infrastructure
	// Location is the site's time zone (default Europe/London).
	Location *time.Location
	// SchoolHours reports whether t is in school hours; nil means no
	// school hours are set, and every time counts as out of hours.
	SchoolHours func(t time.Time) bool
	// Holder, when set, holds each concern's evidence in the query log.
	Holder Holder
	// Reports, when set, adds query-log totals to the weekly report.
	Reports ReportSource
	// LeaseSource names the DHCP lease file a device's MAC and hostname
	// came from, looked up when a concern is raised (nil: unknown).
	LeaseSource func(addr netip.Addr) string
	Site        string // the school's name in messages
	// Groups lists the site's groups, so a proposal cannot route by a
	// group that does not exist (nil: not checked).
	Groups func() []string
	// QueueSize bounds the signals waiting for the engine (default 4096);
	// beyond it they are dropped and counted.
	QueueSize int
	// Tick is how often digests, escalations, the weekly report,
	// retention and hold retries are looked at (default 15s).
	Tick time.Duration
	// MinBackoff and MaxBackoff bound the delay between delivery attempts
	// (defaults 30s and 1h); DeadAfter is how long a message is retried
	// before it is marked dead (default 7 days).
	MinBackoff, MaxBackoff, DeadAfter time.Duration
	// DailyDigestAt is when daily digests go out, site time (default 07:30).
	DailyDigestAt schedule.ClockTime
	// Retention is how long closed concerns and incidents are kept after
	// closing (0: until deleted by hand). Open ones are always kept.
	Retention time.Duration
	// Tool opens the database for a command-line tool while the server
	// may be running: nothing is seeded, infrastructure is not recorded and
	// half-done deliveries are left to the server. Run must not be called.
	Tool    bool
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

// Engine is the safeguarding engine: detection, the concern and incident
// store, routing, the delivery outbox, approvals and reports. Its methods
// are safe for concurrent use; Run drives the background work.
type Engine struct {
	cfg  Config
	db   *sql.DB
	log  *slog.Logger
	m    *Metrics
	now  func() time.Time
	loc  *time.Location
	site string

	settings atomic.Pointer[activeSettings]
	infra    atomic.Pointer[Infrastructure]

	queue chan querylog.Entry
	wake  chan struct{}

	det     Detector  // the run goroutine's alone
	joins   []Outcome // later hits waiting to be written; the run goroutine's alone
	retryMu sync.Mutex
	retry   []Outcome // raises whose storing failed; retried each tick
}

// activeSettings is the settings in force and what is compiled from them.
type activeSettings struct {
	Settings
	version int64
	rota    *schedule.Schedule // nil without an on-call rota
}

// Open opens (creating) the database at cfg.Path, seeds the settings the
// first time, records infrastructure changes, and resets deliveries a
// previous process left half-done. Call Run to start the work, Close to
// finish.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Path == "" {
		return nil, errors.New("opening safeguarding: no database path")
	}
	if cfg.Location == nil {
		loc, err := schedule.LoadTimeZone("Europe/London")
		if err != nil {
			return nil, err
		}
		cfg.Location = loc
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 15 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Hour, cfg.MinBackoff)
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 7 * 24 * time.Hour
	}
	if cfg.DailyDigestAt == 0 {
		cfg.DailyDigestAt = schedule.Clock(7, 30)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := openDB(ctx, cfg.Path)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, db: db, log: cfg.Logger, m: cfg.Metrics, now: cfg.Now, loc: cfg.Location, site: cfg.Site,
		queue: make(chan querylog.Entry, cfg.QueueSize), wake: make(chan struct{}, 1)}
	if !cfg.Tool {
		if err := e.seed(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := e.loadSettings(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.Tool {
		in := cfg.Infra
		e.infra.Store(&in)
		return e, nil
	}
	if err := e.SetInfrastructure(ctx, cfg.Infra); err != nil {
		db.Close()
		return nil, err
	}
	if err := e.restoreTracks(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening safeguarding database: %w", err)
	}
	// A process that stopped mid-send left rows "sending": send them again
	// (at-least-once; receivers can drop duplicates by the key).
	if _, err := db.ExecContext(ctx, `UPDATE outbox SET state = 'pending' WHERE state = 'sending'`); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening safeguarding database: %w", err)
	}
	return e, nil
}

// Close closes the database. Stop Run first.
func (e *Engine) Close() error { return e.db.Close() }

// DB is the engine's database, for read-only tools (audit verify).
func (e *Engine) DB() *sql.DB { return e.db }

// seed stores the initial settings when there are none.
func (e *Engine) seed(ctx context.Context) error {
	return withTx(ctx, e.db, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM settings`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		s := WithDefaults(e.cfg.Initial)
		if err := s.Validate(); err != nil {
			return fmt.Errorf("initial safeguarding settings: %w", err)
		}
		js, err := s.Canonical()
		if err != nil {
			return err
		}
		now := e.now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(version, ts, json) VALUES (1, ?, ?)`, ts(now), string(js)); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]any{"version": 1, "settings": json.RawMessage(js)})
		_, err = audit.Append(ctx, tx, audit.Record{Time: now, Actor: "config file", Kind: audit.KindSeeded, Subject: "settings version 1", Payload: payload})
		return err
	})
}

// WithDefaults fills empty parts of s with the built-in defaults: what
// Open seeds from Config.Initial.
func WithDefaults(s Settings) Settings {
	if len(s.Priorities) == 0 {
		s.Priorities = DefaultPriorities()
	} else {
		// Categories not given keep their default priority.
		given := map[string]bool{}
		for _, cp := range s.Priorities {
			given[cp.Category] = true
		}
		for _, cp := range DefaultPriorities() {
			if !given[cp.Category] {
				s.Priorities = append(s.Priorities, cp)
			}
		}
	}
	// Priorities without a rule or timescale keep the default one.
	rule := map[Priority]bool{}
	for _, r := range s.Rules {
		if r.Category == "" {
			rule[r.Priority] = true
		}
	}
	for _, r := range DefaultRules() {
		if !rule[r.Priority] {
			s.Rules = append(s.Rules, r)
		}
	}
	scale := map[Priority]bool{}
	for _, t := range s.Timescales {
		scale[t.Priority] = true
	}
	for _, t := range DefaultTimescales() {
		if !scale[t.Priority] {
			s.Timescales = append(s.Timescales, t)
		}
	}
	if len(s.Routes) == 0 {
		s.Routes = DefaultRoutes(s.Recipients, len(s.OnCall) > 0)
	}
	if len(s.WeeklyReport.To) == 0 {
		for _, r := range s.Recipients {
			if r.Role == TeamSafeguarding && len(r.Email) > 0 {
				s.WeeklyReport.To = append(s.WeeklyReport.To, r.Name)
			}
		}
	}
	if s.WeeklyReport.Weekday == "" {
		s.WeeklyReport.Weekday = "Mon"
	}
	if s.WeeklyReport.At == "" {
		s.WeeklyReport.At = "08:00"
	}
	return s
}

// restoreTracks re-opens, in the detector, the concerns whose
// de-duplication window has not ended, so a restart does not turn a
// page's retries into a second concern.
func (e *Engine) restoreTracks(ctx context.Context) error {
	rows, err := e.db.QueryContext(ctx, `SELECT id, device, category, ts, dedup_until FROM concerns WHERE dedup_until > ?`, ts(e.now()))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var device, category, first, until string
		if err := rows.Scan(&id, &device, &category, &first, &until); err != nil {
			return err
		}
		u := parseTS(until)
		e.det.Restore(Key{Device: device, Category: category}, id, u, u.Sub(parseTS(first)))
	}
	return rows.Err()
}

// loadSettings makes the newest stored settings the ones in force.
func (e *Engine) loadSettings(ctx context.Context) error {
	var version int64
	var js string
	err := e.db.QueryRowContext(ctx, `SELECT version, json FROM settings ORDER BY version DESC LIMIT 1`).Scan(&version, &js)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s has no safeguarding settings yet: start gatehouse serve with safeguarding enabled first", e.cfg.Path)
	}
	if err != nil {
		return fmt.Errorf("loading safeguarding settings: %w", err)
	}
	s, err := ParseSettings([]byte(js))
	if err != nil {
		return fmt.Errorf("loading safeguarding settings version %d: %w", version, err)
	}
	a, err := e.compile(s, version)
	if err != nil {
		return fmt.Errorf("loading safeguarding settings version %d: %w", version, err)
	}
	e.settings.Store(a)
	return nil
}

func (e *Engine) compile(s Settings, version int64) (*activeSettings, error) {
	a := &activeSettings{Settings: s, version: version}
	if len(s.OnCall) > 0 {
		var ps []schedule.Period
		for i, oc := range s.OnCall {
			ps = append(ps, schedule.Period{Name: fmt.Sprintf("on-call-%d", i), Weekly: oc.Weekly})
		}
		rota, err := schedule.NewSchedule(e.loc, nil, ps)
		if err != nil {
			return nil, fmt.Errorf("on-call rota: %w", err)
		}
		a.rota = rota
	}
	return a, nil
}

// infraRecord is what the audit log keeps of the infrastructure: enough
// to see what changed, never a password or a webhook URL's secret.
func infraRecord(in Infrastructure) ([]byte, error) {
	type smtpRec struct {
		Address, From, Username, TLSServerName string
		NoTLS, PasswordSet                     bool
	}
	type hookRec struct {
		Name, Format, URL, URLSHA256 string
	}
	var v struct {
		SMTP     *smtpRec
		Webhooks []hookRec
		Syslog   *deliver.Syslog
	}
	if s := in.SMTP; s != nil {
		v.SMTP = &smtpRec{Address: s.Address, From: s.From, Username: s.Username, TLSServerName: s.TLSServerName, NoTLS: s.NoTLS, PasswordSet: s.Password != ""}
	}
	for _, w := range in.Webhooks {
		sum := sha256.Sum256([]byte(w.URL))
		v.Webhooks = append(v.Webhooks, hookRec{Name: w.Name, Format: w.Format, URL: deliver.Redact(w.URL), URLSHA256: hex.EncodeToString(sum[:])})
	}
	v.Syslog = in.Syslog
	return json.Marshal(v)
}

// SetInfrastructure switches the delivery channels (after a config
// reload) and, when they differ from the last recorded, appends an
// infrastructure record to the audit log: a changed webhook URL or mail
// server is never silent.
func (e *Engine) SetInfrastructure(ctx context.Context, in Infrastructure) error {
	rec, err := infraRecord(in)
	if err != nil {
		return err
	}
	err = withTx(ctx, e.db, func(tx *sql.Tx) error {
		prev, _, err := getMeta(ctx, tx, "infrastructure")
		if err != nil || prev == string(rec) {
			return err
		}
		if _, err := audit.Append(ctx, tx, audit.Record{Time: e.now(), Actor: "config file", Kind: audit.KindInfrastructure, Subject: "delivery infrastructure", Payload: rec}); err != nil {
			return err
		}
		return setMeta(ctx, tx, "infrastructure", string(rec))
	})
	if err != nil {
		return fmt.Errorf("recording safeguarding infrastructure: %w", err)
	}
	e.infra.Store(&in)
	return nil
}

// Observe offers one query-log entry to the engine without blocking: it
// is dropped (and counted) when the queue is full. Entries that cannot
// raise a concern are ignored at once.
func (e *Engine) Observe(en querylog.Entry) {
	if !Signal(&en) {
		return
	}
	e.m.signals.Inc()
	select {
	case e.queue <- en:
	default:
		e.m.dropped.WithLabelValues("queue").Inc()
	}
}

// Follow feeds the engine from a query-log subscription until ctx ends
// or the channel closes. The subscription's own buffer is drained at once,
// so the query log's writer never waits for the engine.
func (e *Engine) Follow(ctx context.Context, entries <-chan querylog.Entry) {
	for {
		select {
		case <-ctx.Done():
			return
		case en, ok := <-entries:
			if !ok {
				return
			}
			e.Observe(en)
		}
	}
}

// Run processes signals, delivers the outbox and does the periodic work
// until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.deliverLoop(ctx)
	}()
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	e.maintain(ctx)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case en := <-e.queue:
			e.handle(ctx, en)
			if len(e.queue) == 0 || len(e.joins) >= maxJoinBatch {
				e.flushJoins(ctx)
			}
		case <-tick.C:
			e.flushJoins(ctx)
			e.maintain(ctx)
		}
	}
}

// handle runs one signal through the detector and stores what it finds.
func (e *Engine) handle(ctx context.Context, en querylog.Entry) {
	a := e.settings.Load()
	before := e.det.Overflow
	o := e.det.Observe(en, &a.Settings)
	if e.det.Overflow != before {
		e.m.dropped.WithLabelValues("tracking").Inc()
	}
	switch o.Verdict {
	case Raise:
		id, err := e.raise(ctx, a, o)
		if err != nil {
			e.m.errors.Inc()
			e.log.Error("storing a safeguarding concern; will retry", "category", o.Key.Category, "device", o.Key.Device, "error", err)
			e.retryMu.Lock()
			if len(e.retry) < 1000 {
				e.retry = append(e.retry, o)
			}
			e.retryMu.Unlock()
			return
		}
		e.det.Bind(o.Key, id)
	case Join:
		// Batched: a page of retries is many joins a second, and each
		// transaction is an fsync.
		e.joins = append(e.joins, o)
	}
}

// MaxEvidence bounds the entries stored per concern; later hits are
// counted only.
const MaxEvidence = 500

// raise stores a new concern, its evidence and its deliveries in one
// transaction, then puts the evidence on legal hold.
func (e *Engine) raise(ctx context.Context, a *activeSettings, o Outcome) (int64, error) {
	first, last := o.Evidence[0], o.Evidence[len(o.Evidence)-1]
	lease := ""
	if e.cfg.LeaseSource != nil {
		lease = e.cfg.LeaseSource(last.Client)
	}
	now := e.now()
	c := Concern{
		Time: first.Time, Created: now, LastHit: last.Time, Hits: len(o.Evidence),
		Category: o.Key.Category, Priority: o.Priority, Status: StatusNew,
		Device: Device{Addr: last.Client.String(), MAC: last.MAC, Hostname: last.Hostname, Group: last.Group, ClientRule: last.ClientRule, LeaseSource: lease},
		Name:   first.QName,
	}
	if !last.Client.IsValid() {
		c.Device.Addr = ""
	}
	err := withTx(ctx, e.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO concerns(ts, created, last_hit, hits, category, priority, device, addr, mac, hostname, grp, client_rule, lease_source, qname, status, dedup_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ts(c.Time), ts(c.Created), ts(c.LastHit), c.Hits, c.Category, int(c.Priority), o.Key.Device,
			c.Device.Addr, c.Device.MAC, c.Device.Hostname, c.Device.Group, c.Device.ClientRule, c.Device.LeaseSource, c.Name, string(c.Status),
			ts(last.Time.Add(time.Duration(o.Rule.Window))))
		if err != nil {
			return err
		}
		if c.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		for i := range o.Evidence {
			if err := insertEvidence(ctx, tx, c.ID, &o.Evidence[i]); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, c.ID, now, "gatehouse", "raised",
			fmt.Sprintf("%d %s lookup(s) by this device (rule: %d in %s)", len(o.Evidence), c.Category, o.Rule.Threshold, durText(o.Rule.Window))); err != nil {
			return err
		}
		return e.routeConcern(ctx, tx, a, &c, now, "alert", false)
	})
	if err != nil {
		return 0, err
	}
	e.m.concerns.WithLabelValues(c.Priority.String()).Inc()
	e.log.Info("safeguarding concern raised", "concern", c.ID, "priority", c.Priority, "category", c.Category,
		"device", c.Device.String(), "group", c.Device.Group)
	e.hold(ctx, c.ID)
	e.kick()
	return c.ID, nil
}

func durText(d Duration) string {
	b, _ := d.MarshalText()
	return string(b)
}

func insertEvidence(ctx context.Context, tx *sql.Tx, concern int64, en *querylog.Entry) error {
	addr := ""
	if en.Client.IsValid() {
		addr = en.Client.String()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO evidence(concern, entry, ts, qname, qtype, decision, category, list, matched, addr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		concern, int64(en.ID), ts(en.Time), en.QName, int(en.QType), en.Decision.String(), en.Category, en.List, en.Matched, addr)
	return err
}

func addEvent(ctx context.Context, tx *sql.Tx, concern int64, at time.Time, actor, kind, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events(concern, ts, actor, kind, detail) VALUES (?, ?, ?, ?, ?)`, concern, ts(at), actor, kind, detail)
	return err
}

// maxJoinBatch bounds the later hits kept in memory before they are
// written.
const maxJoinBatch = 256

// flushJoins writes later hits to their open concerns in one transaction,
// then holds the new evidence.
func (e *Engine) flushJoins(ctx context.Context) {
	if len(e.joins) == 0 {
		return
	}
	joins := e.joins
	e.joins = nil
	touched := map[int64]bool{}
	err := withTx(ctx, e.db, func(tx *sql.Tx) error {
		for _, o := range joins {
			en := o.Evidence[0]
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM evidence WHERE concern = ?`, o.Concern).Scan(&n); err != nil {
				return err
			}
			if n < MaxEvidence {
				if err := insertEvidence(ctx, tx, o.Concern, &en); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE concerns SET hits = hits + 1, last_hit = max(last_hit, ?), held = 0 WHERE id = ?`, ts(en.Time), o.Concern); err != nil {
				return err
			}
			touched[o.Concern] = true
		}
		return nil
	})
	if err != nil {
		e.m.errors.Inc()
		e.log.Warn("adding later lookups to safeguarding concerns", "lookups", len(joins), "error", err)
		return
	}
	for id := range touched {
		e.hold(ctx, id)
	}
}

// holdRef is the legal-hold reference of a concern in the query log.
func holdRef(id int64) string { return fmt.Sprintf("safeguarding-concern-%d", id) }

// hold puts a concern's evidence not yet held on legal hold; failures are
// retried by maintain.
func (e *Engine) hold(ctx context.Context, id int64) {
	if e.cfg.Holder == nil {
		return
	}
	rows, err := e.db.QueryContext(ctx, `SELECT entry FROM evidence WHERE concern = ? AND held = 0`, id)
	if err != nil {
		e.m.errors.Inc()
		return
	}
	var ids []uint64
	for rows.Next() {
		var v int64
		if rows.Scan(&v) == nil {
			ids = append(ids, uint64(v))
		}
	}
	rows.Close()
	if len(ids) > 0 {
		if err := e.cfg.Holder.Hold(ctx, holdRef(id), "safeguarding", ids...); err != nil {
			e.m.errors.Inc()
			e.log.Warn("holding a concern's evidence in the query log; will retry", "concern", id, "error", err)
			return
		}
	}
	err = withTx(ctx, e.db, func(tx *sql.Tx) error {
		for _, v := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE evidence SET held = 1 WHERE concern = ? AND entry = ?`, id, int64(v)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE concerns SET held = 1 WHERE id = ? AND NOT EXISTS (SELECT 1 FROM evidence WHERE concern = ? AND held = 0)`, id, id)
		return err
	})
	if err != nil {
		e.m.errors.Inc()
	}
}

// kick wakes the deliverer.
func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// maintain does the periodic work. Each step logs its own errors and the
// rest go on.
func (e *Engine) maintain(ctx context.Context) {
	now := e.now()
	e.det.Prune(now)
	e.retryMu.Lock()
	retry := e.retry
	e.retry = nil
	e.retryMu.Unlock()
	for _, o := range retry {
		if id, err := e.raise(ctx, e.settings.Load(), o); err != nil {
			e.retryMu.Lock()
			e.retry = append(e.retry, o)
			e.retryMu.Unlock()
		} else {
			e.det.Bind(o.Key, id)
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context, time.Time) error
	}{
		{"holding evidence", e.reholdAll},
		{"sending digests", e.flushDigests},
		{"escalating overdue concerns", e.escalate},
		{"sending the weekly report", e.weeklyReportDue},
		{"retention", e.purge},
		{"outbox metrics", e.outboxGauges},
	}
	for _, s := range steps {
		if err := s.fn(ctx, now); err != nil && ctx.Err() == nil {
			e.m.errors.Inc()
			e.log.Warn("safeguarding: "+s.name, "error", err)
		}
	}
}

func (e *Engine) reholdAll(ctx context.Context, _ time.Time) error {
	if e.cfg.Holder == nil {
		return nil
	}
	rows, err := e.db.QueryContext(ctx, `SELECT id FROM concerns WHERE held = 0 LIMIT 100`)
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
	for _, id := range ids {
		e.hold(ctx, id)
	}
	return nil
}
