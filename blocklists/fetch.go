package blocklists

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// Defaults of FetcherConfig.
const (
	DefaultMaxBytes         = 256 << 20
	DefaultMinValidFraction = 0.5
	DefaultFetchTimeout     = 5 * time.Minute
)

// minValidLineFraction is the share of valid lines among valid and
// invalid ones below which a download is not a list (an error page or a
// file of the wrong kind). Unsupported lines (Adblock cosmetic rules,
// URLs) count for neither side: they are list syntax DNS cannot use.
const minValidLineFraction = 0.5

// The reasons a refresh fails, as FailureReason returns them and the
// refresh_failures_total metric counts them.
const (
	ReasonHTTPStatus = "http_status" // not 200 (or 304 to a conditional request)
	ReasonTooSmall   = "too_small"   // empty, or far fewer valid lines than the stored copy
	ReasonNotAList   = "not_a_list"  // markup, no valid lines, mostly invalid lines, bad gzip
	ReasonNetwork    = "network"     // connecting, timing out, a body cut short
	ReasonTooLarge   = "too_large"   // over the size limit
	ReasonStorage    = "storage"     // writing the copy to disk
)

// FetchError is a failed or rejected download. The stored copy, if any,
// stays in force.
type FetchError struct {
	URL    string // without any password
	Reason string // one of the Reason constants
	Err    error
	// Rejected is a download that passed every check but the comparison
	// with the stored copy (far fewer valid lines: ReasonTooSmall). The
	// list may really have shrunk, so the caller may keep it aside with
	// Store.Hold for a technician to accept; else it must Close it.
	Rejected *Result
}

func (e *FetchError) Error() string { return fmt.Sprintf("fetching %s: %v", e.URL, e.Err) }
func (e *FetchError) Unwrap() error { return e.Err }

// FailureReason classifies an error of Fetch or Store.Save: one of the
// Reason constants (ReasonStorage for errors that are not a FetchError).
func FailureReason(err error) string {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ReasonStorage
}

// CheckURL reports whether s is a URL a list can be downloaded from: an
// absolute http:// or https:// URL with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("list URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("list URL %s: scheme %q: want https or http", redactURL(s), u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("list URL %s: no host", redactURL(s))
	}
	return nil
}

// FetcherConfig configures a Fetcher. The zero value uses the defaults.
type FetcherConfig struct {
	// Client makes the requests (its Timeout bounds a whole download).
	// Nil means a client on http.DefaultTransport, which honours the
	// HTTPS_PROXY environment variables, with DefaultFetchTimeout.
	Client *http.Client
	// MaxBytes caps a list's size, as sent and after decompression
	// (default DefaultMaxBytes).
	MaxBytes int64
	// MinValidFraction is the least share of the stored copy's valid
	// lines a new copy must have (default DefaultMinValidFraction): a
	// download cut short is rejected, not stored.
	MinValidFraction float64
	// TempDir receives downloads while they are checked. Use the Store's
	// directory, so saving one is a rename. Default os.TempDir().
	TempDir string
	// UserAgent is sent with every request (default "Gatehouse").
	UserAgent string
}

// Fetcher downloads lists over HTTP(S) with conditional requests and
// checks each download before it may replace the stored copy. It is safe
// for concurrent use.
type Fetcher struct {
	client      *http.Client
	maxBytes    int64
	minFraction float64
	tempDir     string
	userAgent   string
}

// NewFetcher returns a Fetcher.
func NewFetcher(cfg FetcherConfig) (*Fetcher, error) {
	f := &Fetcher{client: cfg.Client, maxBytes: cfg.MaxBytes, minFraction: cfg.MinValidFraction, tempDir: cfg.TempDir, userAgent: cfg.UserAgent}
	if f.client == nil {
		f.client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if f.maxBytes == 0 {
		f.maxBytes = DefaultMaxBytes
	}
	if f.minFraction == 0 {
		f.minFraction = DefaultMinValidFraction
	}
	if f.tempDir == "" {
		f.tempDir = os.TempDir()
	}
	if f.userAgent == "" {
		f.userAgent = "Gatehouse"
	}
	switch {
	case f.maxBytes < 0:
		return nil, fmt.Errorf("list fetcher: negative size limit %d", f.maxBytes)
	case f.minFraction < 0 || f.minFraction > 1:
		return nil, fmt.Errorf("list fetcher: minimum valid fraction %v outside 0..1", f.minFraction)
	}
	return f, nil
}

// Download is one list to fetch.
type Download struct {
	Name   string
	URL    string
	Format Format // for counting lines; Auto detects
	// Prev is the stored copy (Store.Meta), or nil. Its validators make
	// the request conditional, and its valid-line count is the floor for
	// the new copy, when it came from the same URL.
	Prev *Meta
	// Force accepts a copy with far fewer valid lines than Prev: for an
	// operator who knows the list really shrank.
	Force bool
}

// Result is a successful Fetch: the server's copy is unchanged
// (NotModified), or a new copy waits in a temporary file for Store.Save.
// Close it when not saved.
type Result struct {
	// NotModified is set when the server answered 304 to the conditional
	// request: Meta is Prev with the new check time and validators.
	NotModified bool
	Meta        Meta
	file        string // the checked download, until saved or closed
}

// Close removes the downloaded copy if it was not saved.
func (r *Result) Close() error {
	if r.file == "" {
		return nil
	}
	err := os.Remove(r.file)
	r.file = ""
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Fetch downloads d.URL. A 304 to the conditional request is a Result
// with NotModified; a 200 is read (decompressed if gzip, up to the size
// limit) into a temporary file and checked: not empty, not markup, valid
// lines at least half of the valid and invalid ones, and at least the
// configured fraction of Prev's valid lines. Anything else is a
// *FetchError saying why, and nothing is stored.
func (f *Fetcher) Fetch(ctx context.Context, d Download) (*Result, error) {
	shown := redactURL(d.URL)
	fail := func(reason string, err error) (*Result, error) {
		return nil, &FetchError{URL: shown, Reason: reason, Err: err}
	}
	if err := CheckURL(d.URL); err != nil {
		return nil, err
	}
	prev := d.Prev
	if prev != nil && prev.URL != d.URL {
		prev = nil // the stored copy came from elsewhere
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", f.userAgent)
	if prev != nil {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in FetchError already
		}
		return fail(ReasonNetwork, err)
	}
	defer resp.Body.Close()
	now := time.Now()
	etag, lastMod := headerValidator(resp, "ETag"), headerValidator(resp, "Last-Modified")

	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		m := *prev
		m.CheckedAt = now
		if etag != "" {
			m.ETag = etag
		}
		if lastMod != "" {
			m.LastModified = lastMod
		}
		return &Result{NotModified: true, Meta: m}, nil
	case resp.StatusCode != http.StatusOK:
		return fail(ReasonHTTPStatus, fmt.Errorf("HTTP status %s", resp.Status))
	case resp.ContentLength > f.maxBytes:
		return fail(ReasonTooLarge, fmt.Errorf("%d bytes, over the limit of %d", resp.ContentLength, f.maxBytes))
	}

	// The body as sent (the transport has already undone a gzip
	// Content-Encoding it asked for), then a gzip file undone here.
	var body io.Reader = &capReader{r: markReader{resp.Body}, max: f.maxBytes}
	br := bufio.NewReader(body)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail(classify(err))
		}
		defer zr.Close()
		body = zr
	} else {
		body = br
	}
	tmp, st, err := spool(f.tempDir, body, "response body", d.Format, f.maxBytes)
	if err != nil {
		reason, err := classify(err)
		if reason == ReasonTooLarge {
			err = fmt.Errorf("response body over the limit of %d bytes", f.maxBytes)
		}
		return fail(reason, err)
	}
	res := &Result{file: tmp, Meta: Meta{Name: d.Name, URL: d.URL, ETag: etag, LastModified: lastMod,
		FetchedAt: now, CheckedAt: now, SHA256: st.sum, ValidLines: st.valid, InvalidLines: st.invalid, Bytes: st.bytes}}
	if reason, err := f.check(st, nil, false); err != nil {
		res.Close()
		return fail(reason, err)
	}
	if reason, err := f.check(st, prev, d.Force); err != nil {
		return nil, &FetchError{URL: shown, Reason: reason, Err: err, Rejected: res}
	}
	return res, nil
}

// check applies the sanity checks to a download.
func (f *Fetcher) check(st spoolStats, prev *Meta, force bool) (string, error) {
	switch {
	case st.html:
		return ReasonNotAList, errMarkup
	case st.bytes == 0:
		return ReasonTooSmall, errors.New("empty response body")
	case st.valid == 0:
		return ReasonNotAList, fmt.Errorf("no valid lines (%d invalid, %d unsupported)", st.invalid, st.unsupported)
	case float64(st.valid) < minValidLineFraction*float64(st.valid+st.invalid):
		return ReasonNotAList, fmt.Errorf("only %d of %d lines are valid", st.valid, st.valid+st.invalid)
	case prev != nil && !force && float64(st.valid) < f.minFraction*float64(prev.ValidLines):
		return ReasonTooSmall, fmt.Errorf("%d valid lines, fewer than %.0f%% of the %d of the stored copy (cut short?)",
			st.valid, 100*f.minFraction, prev.ValidLines)
	}
	return "", nil
}

// classify tells why reading a download failed.
func classify(err error) (string, error) {
	var we *writeError
	var re *readError
	switch {
	case errors.Is(err, errTooLarge):
		return ReasonTooLarge, err
	case errors.As(err, &we):
		return ReasonStorage, err
	case errors.As(err, &re), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonNetwork, err
	}
	return ReasonNotAList, err // a damaged gzip stream
}

// headerValidator returns a response's validator header if it can be
// stored and sent back.
func headerValidator(resp *http.Response, key string) string {
	v := resp.Header.Get(key)
	if !validHeaderValue(v) {
		return ""
	}
	return v
}

// readError marks a failure reading the download.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// markReader marks the errors of r as readErrors.
type markReader struct{ r io.Reader }

func (m markReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// Save stores the outcome of a successful Fetch: the downloaded copy, or,
// for a 304 or a download identical to the stored copy, only the new
// check time and validators. It reports whether the stored content
// changed. The Result's temporary file is consumed either way.
func (s *Store) Save(res *Result) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if res.NotModified {
		cur, err := s.Meta(res.Meta.Name)
		if err != nil {
			return false, fmt.Errorf("saving list %q: not modified, but %w", res.Meta.Name, err)
		}
		if cur.SHA256 != res.Meta.SHA256 {
			return false, fmt.Errorf("saving list %q: not modified since a copy that is no longer stored", res.Meta.Name)
		}
		cur.URL, cur.CheckedAt = res.Meta.URL, res.Meta.CheckedAt
		cur.ETag, cur.LastModified = res.Meta.ETag, res.Meta.LastModified
		key, _ := storeKey(cur.Name)
		if err := s.writeMeta(key, cur); err != nil {
			return false, fmt.Errorf("saving list %q: %w", cur.Name, err)
		}
		return false, nil
	}
	if res.file == "" {
		return false, fmt.Errorf("saving list %q: download already saved or closed", res.Meta.Name)
	}
	defer res.Close()
	return s.commit(res.Meta, res.file)
}

// Refresh schedule.
const (
	// DefaultRefreshInterval is the time between refreshes of a list
	// whose Remote does not say.
	DefaultRefreshInterval = 6 * time.Hour
	// MinRefreshInterval is the shortest interval a Remote may ask for.
	MinRefreshInterval = time.Minute
	// DefaultStartSpread is how soon after start a list whose refresh is
	// overdue is fetched: at a random moment within it. Lists with no
	// stored copy are fetched at once.
	DefaultStartSpread = 30 * time.Second
	// maxBatchDelay is how long a batch of downloads may hold back
	// OnChange for copies it has already stored.
	maxBatchDelay = 30 * time.Second
	// refreshJitter shortens each wait by up to this fraction, at random,
	// so appliances do not all ask a list server at the same moment.
	refreshJitter = 0.1
	// A failed refresh is retried after retryMin, doubling with each
	// failure up to retryMax (or the list's interval, if shorter).
	retryMin = time.Minute
	retryMax = time.Hour
)

// Remote is a list downloaded from a URL.
type Remote struct {
	Name   string
	URL    string
	Format Format
	// Interval between refreshes; 0 means DefaultRefreshInterval.
	Interval time.Duration
}

// RefresherConfig configures a Refresher.
type RefresherConfig struct {
	Store   *Store
	Fetcher *Fetcher
	Lists   []Remote
	// OnChange is called from Run (and Accept) when one or more stored copies changed
	// (once for the lists refreshed together, such as every list with no
	// stored copy at start), so the owner rebuilds the Set. It should not
	// block for long: a non-blocking send to the reload loop.
	OnChange func()
	Metrics  *Metrics // may be nil
	Logger   *slog.Logger
	// StartSpread: see DefaultStartSpread, the default.
	StartSpread time.Duration
}

// Refresher keeps the stored copies of downloaded lists fresh: each list
// on its own interval (with jitter), retried with backoff after a failure,
// which keeps the last good copy and is reported in Status. Downloads run
// one at a time in Run's goroutine.
type Refresher struct {
	store    *Store
	fetcher  *Fetcher
	onChange func()
	metrics  *Metrics
	log      *slog.Logger
	spread   time.Duration
	poke     chan struct{}

	mu      sync.Mutex
	lists   []*remoteState
	running bool
}

// remoteState is one list's schedule and status, guarded by Refresher.mu.
type remoteState struct {
	Remote
	next  time.Time
	force bool
	st    ListStatus
}

// ListStatus is the state of one downloaded list, for the dashboard and
// the status command.
type ListStatus struct {
	Name string
	URL  string // without any password
	// The stored copy; Version is empty when there is none.
	Version    string
	ValidLines int
	Bytes      int64
	FetchedAt  time.Time // when the stored content was downloaded
	// LastSuccess is the last download or 304, LastAttempt the last try.
	LastAttempt time.Time
	LastSuccess time.Time
	// LastError and LastReason (a Reason constant) are those of the last
	// attempt; empty after a success.
	LastError   string
	LastReason  string
	Failures    int // consecutive failures
	NextAttempt time.Time
	// Held describes a download rejected for having far fewer valid lines
	// than the stored copy, kept aside for Accept (nil when none is).
	Held *Meta
}

// NewRefresher checks cfg and returns a Refresher; Run starts it.
func NewRefresher(cfg RefresherConfig) (*Refresher, error) {
	r := &Refresher{store: cfg.Store, fetcher: cfg.Fetcher, onChange: cfg.OnChange, metrics: cfg.Metrics, log: cfg.Logger,
		spread: cfg.StartSpread, poke: make(chan struct{}, 1)}
	if r.store == nil || r.fetcher == nil {
		return nil, errors.New("list refresher: no store or fetcher")
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.spread <= 0 {
		r.spread = DefaultStartSpread
	}
	seen := map[string]bool{}
	for _, l := range cfg.Lists {
		if _, err := storeKey(l.Name); err != nil {
			return nil, fmt.Errorf("list refresher: list %q: %w", l.Name, err)
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("list refresher: list %q named twice", l.Name)
		}
		seen[l.Name] = true
		if err := CheckURL(l.URL); err != nil {
			return nil, fmt.Errorf("list refresher: list %q: %w", l.Name, err)
		}
		if l.Interval == 0 {
			l.Interval = DefaultRefreshInterval
		}
		if l.Interval < MinRefreshInterval {
			return nil, fmt.Errorf("list refresher: list %q: interval %v shorter than %v", l.Name, l.Interval, MinRefreshInterval)
		}
		r.lists = append(r.lists, &remoteState{Remote: l, st: ListStatus{Name: l.Name, URL: redactURL(l.URL)}})
	}
	return r, nil
}

// Run refreshes the lists until ctx is done, then returns nil. A
// Refresher runs once at a time; a new configuration is a new Refresher,
// best started once the old one's Run has returned.
func (r *Refresher) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("list refresher already running")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()

	r.schedule(time.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Lists due together are one batch and one OnChange, unless the
		// batch is long (first start with many lists and a slow link).
		changed, since := false, time.Now()
		for l := r.nextDue(time.Now()); l != nil; l = r.nextDue(time.Now()) {
			if r.refresh(ctx, l) {
				changed = true
			}
			if ctx.Err() != nil {
				return nil
			}
			if changed && time.Since(since) >= maxBatchDelay {
				r.changed()
				changed, since = false, time.Now()
			}
		}
		if changed {
			r.changed()
		}
		var wake <-chan time.Time
		if next, ok := r.nextTime(); ok {
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-r.poke:
		}
	}
}

func (r *Refresher) changed() {
	if r.onChange != nil {
		r.onChange()
	}
}

// schedule sets each list's first refresh: now for lists with no stored
// copy (or one from another URL), in a batch; else an interval after the
// last check, or soon at a random moment if that is past.
func (r *Refresher) schedule(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lists {
		l.next = now
		m, err := r.store.Meta(l.Name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("stored list damaged; downloading it afresh", "list", l.Name, "err", err)
			}
			continue
		}
		l.st.setMeta(m)
		l.st.LastSuccess = m.CheckedAt
		if h, err := r.store.Held(l.Name); err == nil {
			l.st.Held = &h
		}
		if m.URL != l.URL {
			continue
		}
		l.next = m.CheckedAt.Add(jitter(l.Interval))
		if l.force { // Refresh was called before Run
			l.next = now
		} else if !l.next.After(now) {
			l.next = now.Add(time.Duration(rand.Int64N(int64(r.spread))))
		}
	}
	r.metrics.setRemotes(r.lists)
}

func (st *ListStatus) setMeta(m Meta) {
	st.Version, st.ValidLines, st.Bytes, st.FetchedAt = m.Version(), m.ValidLines, m.Bytes, m.FetchedAt
}

// jitter shortens d by up to refreshJitter, at random.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Float64()*refreshJitter*float64(d))
}

// backoff is the wait before retrying after the n-th consecutive failure.
func backoff(interval time.Duration, n int) time.Duration {
	d := min(interval, retryMax)
	if n <= 10 {
		d = min(d, retryMin<<(n-1))
	}
	return jitter(d)
}

// nextDue returns a list due at now, or nil.
func (r *Refresher) nextDue(now time.Time) *remoteState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var due *remoteState
	for _, l := range r.lists {
		if !l.next.After(now) && (due == nil || l.next.Before(due.next)) {
			due = l
		}
	}
	return due
}

// nextTime is when the next list is due; false when there are none.
func (r *Refresher) nextTime() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for _, l := range r.lists {
		if next.IsZero() || l.next.Before(next) {
			next = l.next
		}
	}
	return next, len(r.lists) > 0
}

// refresh downloads one list and stores it, and reports whether the
// stored copy changed.
func (r *Refresher) refresh(ctx context.Context, l *remoteState) bool {
	r.mu.Lock()
	force := l.force
	l.force = false
	r.mu.Unlock()

	d := Download{Name: l.Name, URL: l.URL, Format: l.Format, Force: force}
	if m, err := r.store.Meta(l.Name); err == nil {
		d.Prev = &m
	}
	start := time.Now()
	res, err := r.fetcher.Fetch(ctx, d)
	changed := false
	if err == nil {
		changed, err = r.store.Save(res)
		res.Close()
	}
	var held *Meta
	if fe := (*FetchError)(nil); errors.As(err, &fe) && fe.Rejected != nil {
		m := fe.Rejected.Meta
		if herr := r.store.Hold(fe.Rejected); herr != nil {
			r.log.Warn("keeping a rejected list download aside failed", "list", l.Name, "err", herr)
		} else {
			held = &m
		}
	}
	now := time.Now()

	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		// Stopped, not failed: try again when next run.
		l.force = force
		return false
	}
	l.st.LastAttempt = start
	if err != nil {
		l.st.Failures++
		l.st.LastError, l.st.LastReason = err.Error(), FailureReason(err)
		l.next = now.Add(backoff(l.Interval, l.st.Failures))
		r.metrics.refreshFailed(l.Name, l.st.LastReason)
		if held != nil {
			l.st.Held = held
			r.log.Warn("list download rejected; keeping the last good copy and holding the new one until accepted (gatehouse lists accept)",
				"list", l.Name, "reason", l.st.LastReason, "held_version", held.Version(), "held_valid_lines", held.ValidLines, "err", err)
			return false
		}
		r.log.Warn("refreshing list failed; keeping the last good copy", "list", l.Name, "reason", l.st.LastReason, "failures", l.st.Failures, "err", err)
		return false
	}
	if l.st.Held != nil {
		// The list passed the checks again: the held copy is stale.
		if err := r.store.DropHeld(l.Name); err != nil {
			r.log.Warn("dropping a held list download failed", "list", l.Name, "err", err)
		}
		l.st.Held = nil
	}
	l.st.Failures, l.st.LastError, l.st.LastReason = 0, "", ""
	l.st.LastSuccess = now
	l.st.setMeta(res.Meta)
	l.next = now.Add(jitter(l.Interval))
	r.metrics.refreshed(l.Name, now)
	if changed {
		r.log.Info("list updated", "list", l.Name, "version", res.Meta.Version(), "valid_lines", res.Meta.ValidLines, "bytes", res.Meta.Bytes)
	}
	return changed
}

// Refresh asks Run to refresh the list called name now. With force, the
// new copy may have far fewer valid lines than the stored one (see
// Download.Force).
func (r *Refresher) Refresh(name string, force bool) error {
	r.mu.Lock()
	found := false
	for _, l := range r.lists {
		if l.Name == name {
			l.next, l.force, found = time.Now(), l.force || force, true
		}
	}
	r.mu.Unlock()
	if !found {
		return fmt.Errorf("refreshing list %q: not a downloaded list", name)
	}
	select {
	case r.poke <- struct{}{}:
	default: // Run has a wake-up pending already
	}
	return nil
}

// Accept makes the held copy of the list called name (a download rejected
// for having far fewer valid lines than the stored copy) the stored copy,
// without downloading it again, and signals OnChange so the owner rebuilds.
// by names who accepted it, for the log. The error wraps ErrNothingHeld
// when no rejected download is held.
func (r *Refresher) Accept(name, by string) (Meta, error) {
	r.mu.Lock()
	var l *remoteState
	for _, x := range r.lists {
		if x.Name == name {
			l = x
		}
	}
	r.mu.Unlock()
	if l == nil {
		return Meta{}, fmt.Errorf("accepting list %q: not a downloaded list", name)
	}
	prev, _ := r.store.Meta(name)
	m, err := r.store.AcceptHeld(name)
	if err != nil {
		return Meta{}, err
	}
	now := time.Now()
	r.mu.Lock()
	l.st.Held = nil
	l.st.Failures, l.st.LastError, l.st.LastReason = 0, "", ""
	l.st.LastSuccess = now
	l.st.setMeta(m)
	r.metrics.refreshed(l.Name, now)
	r.mu.Unlock()
	r.log.Warn("rejected list download accepted", "list", name, "by", by, "version", m.Version(), "valid_lines", m.ValidLines,
		"previous_version", prev.Version(), "previous_valid_lines", prev.ValidLines)
	r.changed()
	return m, nil
}

// Status returns the state of every list, in configuration order.
func (r *Refresher) Status() []ListStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ListStatus, len(r.lists))
	for i, l := range r.lists {
		out[i] = l.st
		out[i].NextAttempt = l.next
	}
	return out
}
