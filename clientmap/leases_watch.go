package clientmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Default LeaseWatcherConfig values.
const (
	DefaultLeaseDebounce     = 200 * time.Millisecond
	DefaultLeasePollInterval = 30 * time.Second
)

// A source that keeps changing is read at the latest this many debounce
// periods after its first unread change, so a busy server cannot postpone
// reads for ever.
const maxDebounceFactor = 10

// minPruneInterval spaces out the rebuilds that drop expired leases from
// the snapshot. Lookup checks expiry itself, so pruning only keeps counts
// and memory honest and need not be prompt.
const minPruneInterval = time.Minute

// LeaseWatcherConfig configures a LeaseWatcher.
type LeaseWatcherConfig struct {
	// Sources are the lease files to read; each path at most once. On
	// conflicts between sources the lease that expires last wins, then the
	// later source (see NewLeases).
	Sources []LeaseSource
	// Debounce is how long a file must stay quiet after a change before it
	// is read: dhcpd writes a lease in several writes and dnsmasq truncates
	// before rewriting. Zero means DefaultLeaseDebounce.
	Debounce time.Duration
	// PollInterval is how often each file's size, time and identity are
	// checked as well, for missed events, directories that appear later and
	// file systems without change events (a Windows export copied to a
	// network share). Zero means DefaultLeasePollInterval; negative
	// disables polling.
	PollInterval time.Duration
	// OnChange, if set, is called from Run's goroutine with every new
	// snapshot after it is published. It should return quickly.
	OnChange func(*Leases)
	Logger   *slog.Logger  // nil discards
	Metrics  *LeaseMetrics // nil records nothing
}

// LeaseSourceStatus is what the watcher knows about one source, for the
// dashboard.
type LeaseSourceStatus struct {
	Path   string
	Format LeaseFormat
	Leases int // leases currently held from this source
	// LastRead is when the source was last read and published; zero if
	// never.
	LastRead time.Time
	// LastAttempt is when the source was last read, whatever the outcome.
	LastAttempt time.Time
	// Err is why the last attempt was not published (file missing,
	// unreadable, or empty after having had leases); the previous leases
	// are still in use. Nil after a published read.
	Err error
	// RecordErrors are the bad records skipped by the last published read
	// (bounded, each naming file and line).
	RecordErrors []error
}

// LeaseWatcher keeps a merged *Leases snapshot of several lease files up to
// date. It watches each file's directory, since dhcpd replaces its file by
// rename and Kea's lease file cleanup renames files, re-reads only the
// source that changed, and keeps a source's last good leases while its file
// is missing, unreadable or cut off. Construct it with NewLeaseWatcher,
// then call Run once.
type LeaseWatcher struct {
	cfg     LeaseWatcherConfig
	log     *slog.Logger
	current atomic.Pointer[Leases]
	running atomic.Bool
	// pruneEvery is minPruneInterval; tests shorten it.
	pruneEvery time.Duration

	// byName maps every file name that can affect a source (Kea's chain
	// included) to the source's index.
	byName map[string]int
	dirs   []string

	mu      sync.Mutex // guards sources[i].status for Status
	sources []*leaseSourceState
}

type leaseSourceState struct {
	src    LeaseSource
	leases []Lease           // the last good read, pruned of expired leases
	files  []fileFingerprint // what the files looked like at the last attempt
	status LeaseSourceStatus
}

// NewLeaseWatcher checks the configuration and reads every source once, so
// Leases is ready when it returns. A source that cannot be read yet is not
// an error: its status says why and it is read when it appears.
func NewLeaseWatcher(cfg LeaseWatcherConfig) (*LeaseWatcher, error) {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultLeaseDebounce
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultLeasePollInterval
	}
	w := &LeaseWatcher{cfg: cfg, log: cfg.Logger, byName: map[string]int{}, pruneEvery: minPruneInterval}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for i, src := range cfg.Sources {
		if err := src.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		src.Path = filepath.Clean(src.Path)
		for _, name := range watchedNames(src) {
			if j, dup := w.byName[name]; dup {
				errs = append(errs, fmt.Errorf("lease source %s: also configured as source %d", src.Path, j+1))
				break
			}
			w.byName[name] = i
		}
		if dir := filepath.Dir(src.Path); !slices.Contains(w.dirs, dir) {
			w.dirs = append(w.dirs, dir)
		}
		w.sources = append(w.sources, &leaseSourceState{src: src, status: LeaseSourceStatus{Path: src.Path, Format: src.Format}})
		cfg.Metrics.init(src.Path)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring lease watcher: %w", err)
	}
	now := time.Now()
	for i := range w.sources {
		w.reload(i, now)
	}
	w.publish(now)
	return w, nil
}

// Leases returns the current snapshot. It is never nil.
func (w *LeaseWatcher) Leases() *Leases { return w.current.Load() }

// Status returns the state of each source, in configuration order.
func (w *LeaseWatcher) Status() []LeaseSourceStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]LeaseSourceStatus, len(w.sources))
	for i, s := range w.sources {
		out[i] = s.status
		out[i].RecordErrors = slices.Clone(s.status.RecordErrors)
	}
	return out
}

// watchedNames lists the files whose changes concern src.
func watchedNames(src LeaseSource) []string {
	if src.Format != FormatKeaCSV {
		return []string{src.Path}
	}
	return []string{src.Path, src.Path + ".1", src.Path + ".2", src.Path + ".completed"}
}

// sourceFiles lists the files to read for src, in order, as Kea loads its
// memfile: <path>.completed if it exists, else <path>.2 and <path>.1 if
// they exist; then <path>, which must exist. The first optional files
// may be missing by the time they are read.
func sourceFiles(src LeaseSource) (files []string, optional int) {
	if src.Format != FormatKeaCSV {
		return []string{src.Path}, 0
	}
	exists := func(name string) bool { _, err := os.Stat(name); return err == nil }
	if exists(src.Path + ".completed") {
		files = append(files, src.Path+".completed")
	} else {
		for _, name := range []string{src.Path + ".2", src.Path + ".1"} {
			if exists(name) {
				files = append(files, name)
			}
		}
	}
	return append(files, src.Path), len(files)
}

// errChainMoved means one of Kea's files was renamed or removed while the
// chain was being read, by a lease file cleanup that was running.
var errChainMoved = errors.New("lease file moved while reading (kea-lfc running?)")

// readSource reads and parses a source's files. err is set when the
// source cannot be read at all; errs are its bad records.
func readSource(src LeaseSource, now time.Time) (leases []Lease, nrecords int, errs []error, err error) {
	for range 3 {
		leases, nrecords, errs, err = readSourceOnce(src, now)
		if !errors.Is(err, errChainMoved) {
			break
		}
	}
	return leases, nrecords, errs, err
}

func readSourceOnce(src LeaseSource, now time.Time) ([]Lease, int, []error, error) {
	files, optional := sourceFiles(src)
	p := newLeaseParse(src)
	for i, name := range files {
		data, err := readLeaseFile(name)
		if err != nil {
			if i < optional && errors.Is(err, fs.ErrNotExist) {
				return nil, 0, nil, fmt.Errorf("%s: %w", name, errChainMoved)
			}
			return nil, 0, nil, err
		}
		p.parse(name, data)
	}
	return p.result(now), p.nrecords, p.errors(), nil
}

func readLeaseFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLeaseFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxLeaseFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", name, maxLeaseFileSize)
	}
	return data, nil
}

// fileFingerprint is what polling compares to notice a changed file.
type fileFingerprint struct {
	info fs.FileInfo // nil if the file could not be stat'ed
	err  string
}

func fingerprints(src LeaseSource) []fileFingerprint {
	names := watchedNames(src)
	out := make([]fileFingerprint, len(names))
	for i, name := range names {
		info, err := os.Stat(name)
		if err != nil {
			out[i].err = err.Error()
			continue
		}
		out[i].info = info
	}
	return out
}

func sameFingerprints(a, b []fileFingerprint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i].info, b[i].info
		switch {
		case x == nil || y == nil:
			if x != y || a[i].err != b[i].err {
				return false
			}
		case !os.SameFile(x, y) || x.Size() != y.Size() || !x.ModTime().Equal(y.ModTime()) || x.Mode() != y.Mode():
			return false
		}
	}
	return true
}

// reload reads source i and reports whether its leases changed. A failed
// read, or a read that finds no records at all where there were leases
// before (a file cut off or being rewritten), keeps the previous leases.
func (w *LeaseWatcher) reload(i int, now time.Time) bool {
	s := w.sources[i]
	path := s.src.Path
	s.files = fingerprints(s.src)
	leases, nrecords, recErrs, err := readSource(s.src, now)
	if err == nil && nrecords == 0 && len(s.leases) > 0 {
		err = fmt.Errorf("%s: no lease records (file empty or cut off?); keeping the %d leases read before", path, len(s.leases))
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	s.status.LastAttempt = now
	if err != nil {
		if s.status.Err == nil || s.status.Err.Error() != err.Error() {
			w.log.Warn("lease file not read; keeping its previous leases", "source", path, "leases", len(s.leases), "err", err)
		}
		s.status.Err = err
		w.cfg.Metrics.read(path, readFailure, now)
		return false
	}
	if s.status.Err != nil {
		w.log.Info("lease file readable again", "source", path, "leases", len(leases))
	}
	result := readSuccess
	if len(recErrs) > 0 {
		result = readPartial
		if len(s.status.RecordErrors) == 0 || s.status.RecordErrors[0].Error() != recErrs[0].Error() {
			w.log.Warn("lease file has bad records; skipped them", "source", path, "bad", len(recErrs), "first", recErrs[0])
		}
	}
	changed := !slices.Equal(s.leases, leases)
	s.leases = leases
	s.status.Err = nil
	s.status.RecordErrors = recErrs
	s.status.LastRead = now
	s.status.Leases = len(leases)
	w.cfg.Metrics.read(path, result, now)
	return changed
}

// publish builds and stores a new snapshot from every source's leases,
// dropping leases expired at now. It returns the earliest expiry left
// (zero if none) and how many leases it dropped.
func (w *LeaseWatcher) publish(now time.Time) (next time.Time, dropped int) {
	lists := make([][]Lease, len(w.sources))
	w.mu.Lock()
	for i, s := range w.sources {
		kept := s.leases[:0:0]
		for _, l := range s.leases {
			if !l.Active(now) {
				dropped++
				continue
			}
			kept = append(kept, l)
			if !l.Expires.IsZero() && (next.IsZero() || l.Expires.Before(next)) {
				next = l.Expires
			}
		}
		s.leases = kept
		s.status.Leases = len(kept)
		lists[i] = kept
		w.cfg.Metrics.setActive(s.src.Path, len(kept))
	}
	w.mu.Unlock()
	w.current.Store(NewLeases(lists...))
	return next, dropped
}

// Run watches the sources until ctx is done, publishing a new snapshot
// (and calling OnChange) whenever a source's leases change and, at most
// once a minute, when leases have expired. It returns nil when ctx is
// done; it may be called once.
func (w *LeaseWatcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("lease watcher: Run called twice")
	}
	fw, err := fsnotify.NewWatcher()
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if err != nil {
		// Out of inotify instances: polling still works.
		w.log.Error("watching lease files for changes failed; polling only", "err", err)
	} else {
		defer fw.Close()
		events, watchErrs = fw.Events, fw.Errors
		w.watchDirs(fw)
	}

	var poll <-chan time.Time
	if w.cfg.PollInterval > 0 {
		t := time.NewTicker(w.cfg.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	prune := time.NewTimer(time.Hour)
	prune.Stop()
	defer prune.Stop()

	// due holds the sources with unread changes: first and last change.
	type pending struct{ first, last time.Time }
	due := map[int]pending{}
	deadline := func(p pending) time.Time {
		return minTime(p.last.Add(w.cfg.Debounce), p.first.Add(maxDebounceFactor*w.cfg.Debounce))
	}
	resetDebounce := func() {
		var earliest time.Time
		for _, p := range due {
			if d := deadline(p); earliest.IsZero() || d.Before(earliest) {
				earliest = d
			}
		}
		if !earliest.IsZero() {
			debounce.Reset(max(time.Until(earliest), 0))
		}
	}
	mark := func(i int) {
		now := time.Now()
		p, ok := due[i]
		if !ok {
			p.first = now
		}
		p.last = now
		due[i] = p
		resetDebounce()
	}
	lastPrune := time.Now()
	schedulePrune := func(next time.Time) {
		prune.Stop()
		if !next.IsZero() {
			at := maxTime(next, lastPrune.Add(w.pruneEvery))
			prune.Reset(max(time.Until(at), 0))
		}
	}
	changedSince := func(i int) bool {
		return !sameFingerprints(w.sources[i].files, fingerprints(w.sources[i].src))
	}
	reloadAndPublish := func(idx []int) {
		now := time.Now()
		changed := false
		for _, i := range idx {
			if w.reload(i, now) {
				changed = true
			}
		}
		if changed {
			next, _ := w.publish(now)
			schedulePrune(next)
			w.notify()
		}
	}

	// Files may have changed between NewLeaseWatcher and now.
	for i := range w.sources {
		if changedSince(i) {
			mark(i)
		}
	}
	schedulePrune(w.nextExpiry())

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if i, ok := w.byName[filepath.Clean(ev.Name)]; ok {
				mark(i)
			}
		case err := <-watchErrs:
			w.log.Warn("watching lease files", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				for i := range w.sources {
					mark(i)
				}
			}
		case <-debounce.C:
			now := time.Now()
			var ready []int
			for i, p := range due {
				if !deadline(p).After(now) {
					ready = append(ready, i)
					delete(due, i)
				}
			}
			slices.Sort(ready)
			reloadAndPublish(ready)
			resetDebounce()
		case <-poll:
			if fw != nil {
				w.watchDirs(fw)
			}
			var changed []int
			for i := range w.sources {
				if _, waiting := due[i]; !waiting && changedSince(i) {
					changed = append(changed, i)
				}
			}
			reloadAndPublish(changed)
		case <-prune.C:
			now := time.Now()
			lastPrune = now
			next, dropped := w.publish(now)
			schedulePrune(next)
			if dropped > 0 {
				w.notify()
			}
		}
	}
}

func (w *LeaseWatcher) notify() {
	if w.cfg.OnChange != nil {
		w.cfg.OnChange(w.current.Load())
	}
}

// nextExpiry is the earliest expiry among the held leases.
func (w *LeaseWatcher) nextExpiry() time.Time {
	var next time.Time
	for l := range w.current.Load().All() {
		if !l.Expires.IsZero() && (next.IsZero() || l.Expires.Before(next)) {
			next = l.Expires
		}
	}
	return next
}

// watchDirs adds a watch for each source directory not yet watched: at
// start, and on every poll for directories that did not exist before or
// were removed and created again.
func (w *LeaseWatcher) watchDirs(fw *fsnotify.Watcher) {
	watched := fw.WatchList()
	for _, dir := range w.dirs {
		if slices.Contains(watched, dir) {
			continue
		}
		if err := fw.Add(dir); err != nil {
			w.log.Debug("cannot watch lease directory yet", "dir", dir, "err", err)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
