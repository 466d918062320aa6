package querylog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // a minimal Pi image may lack zoneinfo; site days need Europe/London

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Config configures a Log. Zero values take the defaults shown.
type Config struct {
	// Path is the database file, normally in the state directory
	// (e.g. /var/lib/gatehouse/querylog.db). Required.
	Path string
	// Location is the site's time zone: report days and the local-time
	// column of exports use it. Default Europe/London.
	Location *time.Location
	// Site names the site in reports.
	Site string
	// Retention says how long entries are kept, per group.
	Retention Retention
	// PseudonymiseAfter, when positive, replaces the client address, MAC
	// and hostname of entries older than this many days with keyed hashes
	// (per-device patterns stay countable, identity goes). 0 = never.
	PseudonymiseAfter int
	// QueueSize bounds the entries waiting for the writer (default 65536);
	// when it is full, Enqueue drops and counts.
	QueueSize int
	// BatchSize is the most entries per transaction (default 16384); a full
	// batch wakes the writer before FlushInterval.
	BatchSize int
	// FlushInterval is the longest an entry waits before its batch
	// commits (default 250ms). It bounds what a SIGKILL loses.
	FlushInterval time.Duration
	// MergeInterval is how often committed entries move from the staging
	// table, where each flush appends them, into the indexed table
	// (default 5 minutes); MergeRows staged entries start a merge sooner
	// (default 65536). Searches read both tables, and scan the staged
	// entries without an index. Each index insertion point (a device's, a
	// name's) is then written once per merge transaction rather than once
	// per flush: the bytes written per entry, which wear an SD card, fall
	// by the ratio in docs/performance.md. A merge works in transactions
	// (slices) of about one FlushInterval of work and at most MergeBatch
	// entries (default 65536), so new entries still commit between them:
	// an entry waits at most a flush interval and a slice.
	MergeInterval time.Duration
	MergeRows     int
	MergeBatch    int
	// WriterShare is the least of one CPU the writer goroutine may use
	// while it works through a backlog (default 0.1; 1 or more: no
	// limit). After a batch that took d, the writer rests
	// d*(1-share)/share, at most FlushInterval, before the next. With
	// Spare set, the share is what the machine leaves idle, at least
	// WriterShare and at most one CPU; without it, WriterShare itself.
	// Below its capacity (share × the ingest rate in docs/performance.md)
	// the writer never rests long enough to matter; above it, under a
	// query flood that leaves no CPU idle, the queue fills and entries
	// drop (counted) rather than the writer taking CPU from answering DNS.
	WriterShare float64
	// Spare, if set, reports the CPU, in cores, the whole machine left
	// idle since its previous call, and whether that is known
	// (procs.Spare.Cores). The writer asks it at most every spareEvery.
	Spare func() (cores float64, ok bool)
	// Busy, if set, is called before the writer commits a large batch
	// (busyBatch rows or more: thousands of queries a second): the writer
	// is about to use a lot of CPU at once, and the process should run on
	// every core meanwhile (internal/procs).
	Busy func()
	// MaintenanceInterval is how often retention and pseudonymisation run
	// (default 10 minutes). Each pass works in transactions of
	// MaintenanceBatch rows (default 5000) with pauses between them.
	MaintenanceInterval time.Duration
	MaintenanceBatch    int
	// ReportTopN is how many names and clients the top lists of a Report
	// hold (default 20).
	ReportTopN int
	Logger     *slog.Logger
	Metrics    *Metrics // nil: unregistered metrics
	// Now is the clock for retention and pseudonymisation cut-offs and for
	// entries enqueued with a zero Time. Default time.Now.
	Now func() time.Time

	// mergeSlice is how long one merge transaction should take (default
	// FlushInterval); benchmarks vary it.
	mergeSlice time.Duration
	// batchCacheKiB is the page cache of the writer's batch connection,
	// which merges (default defaultBatchCacheKiB).
	batchCacheKiB int

	// testBeforeWrite, when set, runs on the writer goroutine before each
	// batch: tests use it to make the writer slow.
	testBeforeWrite func()
	// testLoop, when set, runs on the writer goroutine at the top of each
	// turn of its loop: tests count the turns.
	testLoop func()
}

// Retention is how long entries are kept, in days, per group.
type Retention struct {
	Default int            // days for groups not in Groups (default 30)
	Groups  map[string]int // e.g. {"pupils": 90, "staff": 30, "guests": 7}
}

func (r Retention) days(group string) int {
	if d, ok := r.Groups[group]; ok && d > 0 {
		return d
	}
	return r.Default
}

// Defaults.
const (
	DefaultQueueSize           = 65536
	DefaultBatchSize           = 16384
	DefaultWriterShare         = 0.1
	DefaultFlushInterval       = 250 * time.Millisecond
	DefaultMergeInterval       = 5 * time.Minute
	DefaultMergeRows           = 65536
	DefaultMergeBatch          = 65536
	defaultBatchCacheKiB       = 32768
	DefaultMaintenanceInterval = 10 * time.Minute
	DefaultMaintenanceBatch    = 5000
	DefaultRetentionDays       = 30
	DefaultReportTopN          = 20
)

// ErrReadOnly is returned by writes on a Log from OpenReadOnly.
var ErrReadOnly = errors.New("query log is open read-only")

// ErrClosed is returned by calls on a closed Log.
var ErrClosed = errors.New("query log is closed")

// Log is an open query log. All methods are safe for concurrent use.
type Log struct {
	cfg     Config
	loc     *time.Location
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	rdb *sql.DB // readers: search, export, tail, reports
	wdb *sql.DB // nil when read-only; the writer goroutine pins one connection, Hold/Release use another

	ring ring

	wake   chan struct{}
	reqs   chan request
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool

	secret []byte // HMAC key for pseudonyms

	dictMu sync.Mutex
	dict   map[int64]string // reader-side id → string; dict ids are never reused

	subMu sync.Mutex
	subs  map[*subscriber]struct{}

	st statusState
}

// ring is the bounded queue between Enqueue and the writer. A mutex keeps
// ID assignment and queue order the same, so entries commit in ID order
// and a reader that has seen ID n has seen every written ID below it.
type ring struct {
	mu      sync.Mutex
	buf     []Entry
	head, n int
	last    uint64 // last ID handed out
	wakeAt  int
	closed  bool
	dropped atomic.Uint64
}

// Open opens (creating and migrating as needed) the query log at
// cfg.Path and starts its writer goroutine. Close it to flush.
func Open(cfg Config) (*Log, error) {
	if cfg.Path == "" {
		return nil, errors.New("opening query log: no path")
	}
	l, err := newLog(cfg)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	l.wdb, err = sql.Open("sqlite", dsn(cfg.Path, false))
	if err != nil {
		return nil, fmt.Errorf("opening query log %s: %w", cfg.Path, err)
	}
	l.wdb.SetMaxOpenConns(2)
	l.wdb.SetMaxIdleConns(2)
	if err := l.init(ctx); err != nil {
		l.wdb.Close()
		return nil, fmt.Errorf("opening query log %s: %w", cfg.Path, err)
	}
	l.rdb, err = sql.Open("sqlite", dsn(cfg.Path, true))
	if err != nil {
		l.wdb.Close()
		return nil, fmt.Errorf("opening query log %s: %w", cfg.Path, err)
	}
	l.rdb.SetMaxOpenConns(4)
	l.rdb.SetMaxIdleConns(4)

	w, err := newWriter(ctx, l)
	if err != nil {
		l.wdb.Close()
		l.rdb.Close()
		return nil, fmt.Errorf("opening query log %s: %w", cfg.Path, err)
	}
	l.ring.buf = make([]Entry, l.cfg.QueueSize)
	l.ring.wakeAt = l.cfg.BatchSize
	l.ring.last = w.maxID
	l.wake = make(chan struct{}, 1)
	l.reqs = make(chan request)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go w.run()
	return l, nil
}

// OpenReadOnly opens an existing query log for reading, from another
// process than the one writing it (the CLI's "logs search" and "logs
// tail"). It works while the server writes: SQLite's WAL lets readers and
// one writer share the file. Enqueue drops, Hold and Release fail with
// ErrReadOnly. The site name and time zone are the ones the writer
// recorded.
func OpenReadOnly(path string) (*Log, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening query log %s: %w", path, err)
	}
	l, err := newLog(Config{Path: path})
	if err != nil {
		return nil, err
	}
	l.rdb, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("opening query log %s: %w", path, err)
	}
	l.rdb.SetMaxOpenConns(2)
	ctx := context.Background()
	v, err := currentVersion(ctx, l.rdb)
	if err != nil {
		l.rdb.Close()
		return nil, fmt.Errorf("opening query log %s: %w", path, err)
	}
	if v != schemaVersion {
		l.rdb.Close()
		return nil, fmt.Errorf("opening query log %s: schema v%d, this program reads v%d", path, v, schemaVersion)
	}
	var zone string
	if err := l.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'location'`).Scan(&zone); err == nil {
		if loc, err := time.LoadLocation(zone); err == nil {
			l.loc = loc
		}
	}
	l.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'site'`).Scan(&l.cfg.Site)
	return l, nil
}

func newLog(cfg Config) (*Log, error) {
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			return nil, fmt.Errorf("loading site time zone: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.Retention.Default <= 0 {
		cfg.Retention.Default = DefaultRetentionDays
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, cfg.QueueSize)
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MergeInterval <= 0 {
		cfg.MergeInterval = DefaultMergeInterval
	}
	if cfg.MergeRows <= 0 {
		cfg.MergeRows = DefaultMergeRows
	}
	if cfg.MergeBatch <= 0 {
		cfg.MergeBatch = DefaultMergeBatch
	}
	if cfg.batchCacheKiB <= 0 {
		cfg.batchCacheKiB = defaultBatchCacheKiB
	}
	if cfg.mergeSlice <= 0 {
		cfg.mergeSlice = cfg.FlushInterval
	}
	if cfg.WriterShare <= 0 {
		cfg.WriterShare = DefaultWriterShare
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if cfg.MaintenanceBatch <= 0 {
		cfg.MaintenanceBatch = DefaultMaintenanceBatch
	}
	if cfg.ReportTopN <= 0 {
		cfg.ReportTopN = DefaultReportTopN
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := cfg.Metrics
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	return &Log{
		cfg: cfg, loc: cfg.Location, log: cfg.Logger, metrics: m, now: cfg.Now,
		dict: map[int64]string{},
		subs: map[*subscriber]struct{}{},
	}, nil
}

// dsn builds the driver's connection string. With WAL and
// synchronous=NORMAL a commit is durable against a crash of this process
// (SIGKILL, panic: the data is in the OS page cache and the WAL) and the
// file is never corrupted; a power cut can lose the last transactions
// before a checkpoint, but still never corrupts. FULL would fsync every
// batch, which an SD card cannot sustain.
func dsn(path string, readOnly bool) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if readOnly {
		return "file:" + p + "?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	}
	return "file:" + p + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(8192)&_txlock=immediate"
}

// init migrates the schema and loads (or creates) the pseudonym secret.
func (l *Log) init(ctx context.Context) error {
	if err := migrate(ctx, l.wdb, l.now()); err != nil {
		return err
	}
	for k, v := range map[string]string{"location": l.loc.String(), "site": l.cfg.Site} {
		if _, err := l.wdb.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return fmt.Errorf("recording site %s: %w", k, err)
		}
	}
	err := l.wdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'secret'`).Scan(&l.secret)
	if errors.Is(err, sql.ErrNoRows) {
		l.secret = make([]byte, 32)
		rand.Read(l.secret)
		_, err = l.wdb.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('secret', ?)`, l.secret)
	}
	if err != nil {
		return fmt.Errorf("loading pseudonym key: %w", err)
	}
	return nil
}

// Enqueue records e. It is called for every query: it never blocks, does
// not allocate, and returns false when the queue is full (the entry is
// dropped and counted) or the log is closed or read-only.
func (l *Log) Enqueue(e Entry) bool {
	_, ok := l.EnqueueID(e)
	return ok
}

// EnqueueID is Enqueue that also returns the entry's ID, for a block page
// to show as the reference a pupil quotes. The ID is 0 when dropped.
func (l *Log) EnqueueID(e Entry) (uint64, bool) {
	r := &l.ring
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	var floor uint64
	if ms := e.Time.UnixMilli(); ms > 0 {
		floor = uint64(ms) << idSeqBits
	}
	r.mu.Lock()
	if r.n == len(r.buf) || r.closed {
		r.mu.Unlock()
		r.dropped.Add(1)
		return 0, false
	}
	id := max(r.last+1, floor)
	r.last = id
	e.ID = id
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = e
	r.n++
	wake := r.n == r.wakeAt
	r.mu.Unlock()
	if wake {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return id, true
}

// idSeqBits is how many low bits of an ID count entries within one
// millisecond; the rest is the Unix millisecond.
const idSeqBits = 16

// IDTime is the time encoded in an entry ID: the millisecond the entry was
// enqueued in, or slightly later under bursts of more than 65536 entries
// per millisecond.
func IDTime(id uint64) time.Time {
	return time.UnixMilli(int64(id >> idSeqBits)).UTC()
}

// idAt is the smallest ID of the millisecond containing t.
func idAt(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms <= 0 {
		return 0
	}
	return ms << idSeqBits
}

// drain moves up to n queued entries into dst.
func (r *ring) drain(dst []Entry, n int) []Entry {
	r.mu.Lock()
	k := min(n, r.n)
	for k > 0 {
		end := min(r.head+k, len(r.buf))
		dst = append(dst, r.buf[r.head:end]...)
		clear(r.buf[r.head:end])
		taken := end - r.head
		r.head = end % len(r.buf)
		r.n -= taken
		k -= taken
	}
	r.mu.Unlock()
	return dst
}

func (r *ring) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// request asks the writer goroutine to do something between batches.
type request struct {
	kind  requestKind
	fn    func(context.Context, *sql.Conn) error // reqExec
	query string                                 // reqExecBatch
	reply chan error
}

type requestKind uint8

const (
	reqFlush     requestKind = iota // write everything queued so far
	reqMaintain                     // run a full maintenance pass now
	reqMerge                        // write everything queued and merge everything staged (tests)
	reqExec                         // run fn on the writer's maintenance connection (tests)
	reqExecBatch                    // run query on the writer's batch connection (tests)
)

// Flush returns once every entry enqueued before the call has been written
// (or dropped after a database error, which it returns).
func (l *Log) Flush(ctx context.Context) error {
	return l.ask(ctx, request{kind: reqFlush})
}

// Maintain runs a full retention, pseudonymisation and clean-up pass now,
// in the same small transactions as the periodic one, and returns when it
// is done.
func (l *Log) Maintain(ctx context.Context) error {
	return l.ask(ctx, request{kind: reqMaintain})
}

func (l *Log) ask(ctx context.Context, req request) error {
	if l.wdb == nil {
		return ErrReadOnly
	}
	req.reply = make(chan error, 1)
	select {
	case l.reqs <- req:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting entries, writes what is queued, stops the writer
// and closes the database.
func (l *Log) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if l.wdb == nil {
		return l.rdb.Close()
	}
	l.ring.mu.Lock()
	l.ring.closed = true
	l.ring.mu.Unlock()
	close(l.stop)
	<-l.done
	l.subMu.Lock()
	for s := range l.subs {
		close(s.ch)
		delete(l.subs, s)
	}
	l.subMu.Unlock()
	return errors.Join(l.rdb.Close(), l.wdb.Close())
}
