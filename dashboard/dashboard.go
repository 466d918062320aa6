package dashboard

import (
	"context"
	"embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/config"
	"gatehouse/dashboard/store"
	"gatehouse/querylog"
)

// QueryLog is what the dashboard reads from the query log
// (*querylog.Log).
type QueryLog interface {
	Search(ctx context.Context, f querylog.Filter) (querylog.Page, error)
	ExportCSV(ctx context.Context, f querylog.Filter, w io.Writer) error
	Subscribe(buf int) (entries <-chan querylog.Entry, cancel func())
	Report(ctx context.Context, from, to time.Time, group string) (querylog.Report, error)
	Status() querylog.Status
}

// Site is what the dashboard reads from the running resolver.
type Site interface {
	// Config is the configuration in force; callers must not change it.
	Config() *config.Config
	// Status describes what the numbers in the metrics cannot: errors,
	// versions, times.
	Status() SiteStatus
	// Identify says who a client address is now, as the policy in force
	// sees it.
	Identify(addr netip.Addr, now time.Time) Device
}

// SiteStatus is the running state the status page shows beside metrics.
type SiteStatus struct {
	Started    time.Time
	Version    string
	Generation uint64 // of the policy in force
	// LastReload is the last configuration reload attempt (zero At when
	// there was none since start).
	LastReload Reload
	Lists      []ListStatus
	Leases     []LeaseStatus
	StateDir   string
}

// Reload is the outcome of one reload attempt.
type Reload struct {
	At  time.Time
	Err string // "" on success
}

// ListStatus is one block or allow list.
type ListStatus struct {
	Name     string
	Category string
	Allow    bool
	Locked   bool // an illegal-content category nobody can allow
	Entries  int
	Source   string // file path or URL (without password)
	Version  string // of a downloaded copy
	// LastRefresh is the last successful download or check (zero for a
	// local file); LastError the last failure, "" when fine.
	LastRefresh time.Time
	LastError   string
	Issues      int // lines skipped when parsing
	// HeldVersion and HeldLines describe a download rejected for having
	// far fewer valid lines than the copy in force, held for a technician
	// to accept (ListAccepter); "" when none is held.
	HeldVersion string
	HeldLines   int
}

// LeaseStatus is one DHCP lease source.
type LeaseStatus struct {
	Path, Format string
	Leases       int
	LastRead     time.Time
	Err          string
}

// Device is a client's identity.
type Device struct {
	Addr        netip.Addr
	MAC         string
	Hostname    string
	Group       string
	Rule        string // what placed it in Group
	LeaseSource string // the lease file that named it, "" when none
}

// Config configures a Dashboard.
type Config struct {
	Store    *store.Store // accounts, sessions, access log, reviews
	Site     Site
	QueryLog QueryLog // nil when the query log is off
	Control  Control  // nil: no buttons that change anything
	// Safeguarding is the safeguarding engine (*safeguarding.Engine); nil
	// when safeguarding is off (safeguarding.go).
	Safeguarding Safeguarding
	// Trust is trust-wide reporting (trust.go); zero: off.
	Trust Trust
	// Metrics is read for the status page: the registry /metrics serves.
	Metrics prometheus.Gatherer
	// Location is the site's time zone for times shown (default Local).
	Location *time.Location
	// SecureCookies marks cookies Secure (the dashboard is served over
	// TLS).
	SecureCookies bool
	// SampleInterval is how often the q/s history is sampled (default
	// 10 s); SampleHistory how many samples are kept (default 360).
	SampleInterval time.Duration
	SampleHistory  int
	Logger         *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Dashboard serves the pages. Create it with New, start its sampler with
// Run, and mount Handler on the HTTP listener.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	pages   *pages
	limiter *loginLimiter
	samples *sampler
	mux     http.Handler
	// stopping is closed when Run returns, ending live streams, which
	// would otherwise hold the server's shutdown.
	stopping chan struct{}
	hashing  chan struct{} // password checks in progress (maxHashing)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New checks cfg and builds the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Store == nil || cfg.Site == nil || cfg.Metrics == nil {
		return nil, errors.New("dashboard: Store, Site and Metrics are required")
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 10 * time.Second
	}
	if cfg.SampleHistory <= 0 {
		cfg.SampleHistory = 360
	}
	d := &Dashboard{cfg: cfg, log: cfg.Logger, now: cfg.Now, stopping: make(chan struct{}), hashing: make(chan struct{}, maxHashing)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.cfg.Location == nil {
		d.cfg.Location = time.Local
	}
	var err error
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	d.limiter = newLoginLimiter()
	d.samples = newSampler(cfg.Metrics, cfg.SampleHistory)
	d.mux = d.routes()
	return d, nil
}

// Run samples the metrics for the q/s history until ctx ends; then it
// ends the live streams. Call it once.
func (d *Dashboard) Run(ctx context.Context) {
	defer close(d.stopping)
	t := time.NewTicker(d.cfg.SampleInterval)
	defer t.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	d.samples.take(d.now())
	d.Prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.samples.take(d.now())
		case <-prune.C:
			d.Prune(ctx)
		}
	}
}

// pruneEvery is how often Run applies the retention of the access log and
// of closed review requests.
const pruneEvery = time.Hour

// Prune deletes access-log records and closed review requests older than
// the configured retention (dashboard.access_log_retention and
// closed_review_retention, read from the config in force each time).
func (d *Dashboard) Prune(ctx context.Context) {
	dc := d.cfg.Site.Config().Dashboard
	now := d.now()
	var accessBefore, reviewsBefore time.Time
	if dc.AccessLogRetention > 0 {
		accessBefore = now.Add(-dc.AccessLogRetention)
	}
	if dc.ClosedReviewRetention > 0 {
		reviewsBefore = now.Add(-dc.ClosedReviewRetention)
	}
	a, r, err := d.cfg.Store.Prune(ctx, accessBefore, reviewsBefore)
	if err != nil {
		d.log.Error("applying the dashboard's retention", "error", err)
		return
	}
	if a > 0 || r > 0 {
		d.log.Info("dashboard records past their retention deleted", "access_log", a, "closed_reviews", r)
	}
}

// Handler serves every dashboard page; mount it at "/".
func (d *Dashboard) Handler() http.Handler { return d.mux }
