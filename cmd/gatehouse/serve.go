package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/dashboard"
	"gatehouse/dashboard/store"
	"gatehouse/internal/procs"
	"gatehouse/policy"
	"gatehouse/policy/override"
	"gatehouse/querylog"
	"gatehouse/resolver"
	"gatehouse/resolver/cache"
	"gatehouse/resolver/forward"
	"gatehouse/resolver/recursor"
	"gatehouse/resolver/validator"
)

// site is one running Gatehouse: everything serve builds, and what the
// reload loop swaps.
type site struct {
	procs      *procs.Scaler // nil unless server.adaptive_procs; see procs.go
	logSpare   logSpare      // the query log writer's CPU; see procs.go
	procsGauge prometheus.Gauge
	path       string // config file; "" for the built-in default
	log        *slog.Logger
	level      *slog.LevelVar

	reg      *prometheus.Registry
	fwdM     *forward.Metrics
	recM     *recursor.Metrics
	valM     *validator.Metrics
	upstream upstreamSwitch
	cache    *cache.Cache
	server   *resolver.Server
	reloads  *reloadMetrics
	leaseM   *clientmap.LeaseMetrics
	leaseW   *leaseWatch
	leaseCh  chan struct{}     // leases changed: for the reload loop
	qlog     *querylog.Log     // nil when the query log is off
	sg       *safeguardingSite // nil when safeguarding is off

	listStore *blocklists.Store // last good copies of downloaded lists
	listM     *blocklists.Metrics
	geoM      *geoipMetrics   // the GeoIP databases in force (answer.go)
	lists     *blocklists.Set // the Set in force, to notice a rebuilt one
	refresher *refresher      // nil without URL lists
	listsCh   chan struct{}   // a downloaded list changed: for the reload loop

	overrides *override.Store // temporary overrides, durable in the state dir
	ctlCh     chan controlReq // control requests for the reload loop
	loopDone  chan struct{}   // closed when the reload loop has stopped
	stateDir  string
	ctl       *controlServer // nil until run listens
	dashCert  *certReloader  // the dashboard's TLS pair; nil without TLS

	ws      *watchSet      // config and list files; nil when they cannot be watched
	cfgHash [32]byte       // of the config file as it was when ws began watching
	cfg     *config.Config // in force; only the reload loop touches it
	gen     uint64

	// For the dashboard (dashboard.go): what HTTP handlers may read.
	started      time.Time
	view         atomic.Pointer[siteView]
	lastReload   atomic.Pointer[dashboard.Reload]
	dash         *dashboard.Dashboard // nil when neither dashboard nor block page is on
	dashStore    *store.Store
	metricsToken string
}

// upstreamSwitch is the cache's upstream: whichever forwarder the config in
// force describes. A reload that changes upstreams swaps it and flushes the
// cache, so no answer from the old upstreams outlives them.
type upstreamSwitch struct {
	cur atomic.Pointer[upstreams]
}

// upstreams is the resolver chain for one config (forwarder, with the
// recursor behind it in recursive mode) and the transport only it uses.
type upstreams struct {
	res       resolver.SecurityResolver
	fwd       *forward.Forwarder
	transport *resolver.Transport
}

func (u *upstreamSwitch) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	return u.cur.Load().res.Resolve(ctx, q)
}

// ResolveSecurity passes the DNSSEC status through to the cache.
func (u *upstreamSwitch) ResolveSecurity(ctx context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	return u.cur.Load().res.ResolveSecurity(ctx, q)
}

// transportGrace is how long a replaced transport stays open for the
// queries that were already using it.
const transportGrace = 30 * time.Second

func serve(ctx context.Context, path string, stderr io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			return errReported
		}
		return err
	}
	s, err := newSite(path, cfg, stderr)
	if err != nil {
		return err
	}
	return s.run(ctx)
}

func newSite(path string, cfg *config.Config, stderr io.Writer) (*site, error) {
	s := &site{path: path, level: new(slog.LevelVar), reg: prometheus.NewRegistry(), cfg: cfg, gen: 1, started: time.Now(),
		leaseCh: make(chan struct{}, 1), listsCh: make(chan struct{}, 1),
		ctlCh: make(chan controlReq), loopDone: make(chan struct{})}
	s.level.Set(cfg.Log.Level)
	hopts := &slog.HandlerOptions{Level: s.level}
	if cfg.Log.Format == config.LogFormat("json") {
		s.log = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		s.log = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var err error
	if s.fwdM, err = forward.NewMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.recM, err = recursor.NewMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.valM, err = validator.NewMetrics(s.reg); err != nil {
		return nil, err
	}
	cacheM, err := cache.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	serverM, err := resolver.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	if s.reloads, err = newReloadMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.leaseM, err = clientmap.NewLeaseMetrics(s.reg); err != nil {
		return nil, err
	}

	up, err := s.newUpstreams(cfg)
	if err != nil {
		return nil, err
	}
	s.upstream.cur.Store(up)
	s.cache, err = cache.New(&s.upstream, cache.Config{
		Size:           cfg.Cache.Size,
		MinTTL:         cfg.Cache.MinTTL,
		MaxTTL:         cfg.Cache.MaxTTL,
		NegativeMaxTTL: cfg.Cache.NegativeMaxTTL,
		ServfailTTL:    cfg.Cache.ServfailTTL,
		ServeStale:     cfg.Cache.ServeStale,
		StaleMaxAge:    cfg.Cache.StaleMaxAge,
		Prefetch:       cfg.Cache.Prefetch,
		Logger:         s.log,
		Metrics:        cacheM,
	})
	if err != nil {
		return nil, err
	}
	dir, err := stateDir(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	s.stateDir = dir
	if s.overrides, err = override.Open(dir, 0, time.Now()); err != nil {
		if s.overrides == nil {
			return nil, err
		}
		s.log.Warn("temporary overrides lost", "error", err)
	}
	if s.listM, err = blocklists.NewMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.geoM, err = newGeoipMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.listStore, err = openListStore(dir); err != nil {
		return nil, err
	}
	if err := s.listStore.Clean(); err != nil {
		s.log.Warn("cleaning the list store", "error", err)
	}
	s.procs = s.newProcs() // before the query log, which tells it of large batches
	s.logSpare.idle = procs.NewSpare().Cores
	if s.qlog, err = s.openQueryLog(cfg, dir); err != nil {
		return nil, err
	}
	if s.leaseW, err = s.startLeases(cfg); err != nil {
		s.closeQueryLog()
		return nil, err
	}
	// Watch the config and list files before they are first compiled: a file
	// replaced between the compile and the reload loop's start would
	// otherwise go unnoticed until it changed again.
	s.watchInputs(cfg)
	built := false
	defer func() {
		if !built {
			s.ws.close()
		}
	}()
	snap, err := policy.Compile(cfg, s.gen, time.Now(), s.leaseW.leases(), nil, s.listStore)
	if err != nil {
		s.leaseW.close()
		s.closeQueryLog()
		return nil, err
	}
	s.listsBuilt(snap.Lists(), snap.Addresses())
	s.answerChecksBuilt(snap)
	now := time.Now()
	snap = snap.WithOverrides(s.overrides.Active(now), now)
	sc := resolver.ServerConfig{
		Cache:          s.cache,
		Policy:         snap,
		BufSize:        uint16(cfg.Server.EDNSBufferSize),
		QueryTimeout:   cfg.Server.QueryTimeout,
		UDPSockets:     cfg.Server.UDPSockets,
		TCPMaxConns:    cfg.Server.TCP.MaxConnections,
		TCPIdleTimeout: cfg.Server.TCP.IdleTimeout,
		TCPReadTimeout: cfg.Server.TCP.ReadTimeout,
		RateLimit:      rateLimit(cfg),
		Logger:         s.log,
		Metrics:        serverM,
	}
	if s.qlog != nil {
		sc.QueryLog = s.qlog
	}
	s.server, err = resolver.NewServer(sc)
	if err != nil {
		return nil, err
	}
	backlog := s.server.UDPBacklog
	s.logSpare.backlog.Store(&backlog)
	if s.sg, err = s.openSafeguarding(cfg, dir); err != nil {
		s.leaseW.close()
		s.closeQueryLog()
		return nil, err
	}
	s.reloads.generation.Set(float64(s.gen))
	if err := s.openDashboard(cfg, dir); err != nil {
		s.sg.stop()
		s.leaseW.close()
		s.closeQueryLog()
		return nil, err
	}
	s.publish()
	built = true
	return s, nil
}

func (s *site) newUpstreams(cfg *config.Config) (*upstreams, error) {
	conv := func(us []config.Upstream) []forward.Upstream {
		out := make([]forward.Upstream, len(us))
		for i, u := range us {
			out[i] = forward.Upstream{Addr: u.Address, Protocol: string(u.Protocol), TLSServerName: u.TLSServerName}
		}
		return out
	}
	rc := cfg.Resolver
	t := resolver.NewTransport(resolver.TransportConfig{
		// The recursor sets its own shorter per-server timeouts through the
		// context; this only bounds an exchange from above.
		Timeout: max(rc.Timeout, 3*time.Second),
		BufSize: uint16(cfg.Server.EDNSBufferSize),
		Logger:  s.log,
	})
	fc := forward.Config{
		Upstreams: conv(rc.Upstreams),
		Exchanger: t,
		Logger:    s.log,
		Metrics:   s.fwdM,
	}
	for _, c := range rc.Conditional {
		fc.Conditional = append(fc.Conditional, forward.Rule{Domains: c.Domains, Upstreams: conv(c.Upstreams)})
	}
	if rc.Mode == config.ModeRecursive {
		var err error
		if fc.Fallback, err = s.newRecursion(cfg, t); err != nil {
			t.Close()
			return nil, err
		}
	}
	fwd, err := forward.New(fc)
	if err != nil {
		t.Close()
		return nil, err
	}
	return &upstreams{res: fwd, fwd: fwd, transport: t}, nil
}

// newRecursion builds the recursor, with the validator in front of it when
// DNSSEC is on.
func (s *site) newRecursion(cfg *config.Config, t *resolver.Transport) (resolver.Resolver, error) {
	rc := cfg.Resolver.Recursion
	var hints []dns.RR
	if rc.RootHints != "" {
		data, err := os.ReadFile(rc.RootHints)
		if err != nil {
			return nil, fmt.Errorf("reading root hints: %w", err)
		}
		if hints, err = recursor.ParseHints(rc.RootHints, data); err != nil {
			return nil, err
		}
	}
	rec, err := recursor.New(recursor.Config{
		Exchanger:         t,
		RootHints:         hints,
		QNameMinimisation: rc.QNameMinimisation,
		Use0x20:           rc.Use0x20,
		IPv6:              rc.IPv6,
		AllowLoopback:     rc.AllowLoopback,
		Logger:            s.log,
		Metrics:           s.recM,
	})
	if err != nil {
		return nil, err
	}
	ds := cfg.Resolver.DNSSEC
	if !ds.Enabled {
		return rec, nil
	}
	var anchors []dns.RR
	if ds.TrustAnchors != "" {
		data, err := os.ReadFile(ds.TrustAnchors)
		if err != nil {
			return nil, fmt.Errorf("reading trust anchors: %w", err)
		}
		if anchors, err = validator.ParseTrustAnchors(ds.TrustAnchors, data); err != nil {
			return nil, err
		}
	}
	return validator.New(validator.Config{
		Upstream:              rec,
		TrustAnchors:          anchors,
		ClockSkew:             ds.ClockSkew,
		NSEC3MaxIterations:    uint16(ds.NSEC3MaxIterations),
		DisableAggressiveNSEC: !ds.AggressiveNSEC,
		Logger:                s.log,
		Metrics:               s.valM,
	})
}

func rateLimit(cfg *config.Config) resolver.RateLimit {
	r := cfg.Access.RateLimit
	return resolver.RateLimit{QPS: float64(r.QueriesPerSecond), Burst: float64(r.Burst), Exempt: r.Exempt}
}

// run listens, serves until ctx ends, and then shuts down in order.
func (s *site) run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var dnsAddrs []string
	for _, a := range s.cfg.Listen.DNS {
		dnsAddrs = append(dnsAddrs, a.String())
	}
	if err := s.server.Listen(dnsAddrs); err != nil {
		return err
	}
	var hs *http.Server
	if s.cfg.Listen.HTTP != nil {
		ln, err := net.Listen("tcp", s.cfg.Listen.HTTP.String())
		if err != nil {
			s.shutdownDNS()
			return fmt.Errorf("listen http: %w", err)
		}
		hs = &http.Server{
			Handler:           s.dashboardHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		if tlsCert := s.cfg.Dashboard.TLSCert; tlsCert != "" {
			if s.dashCert, err = newCertReloader(tlsCert, s.cfg.Dashboard.TLSKey, s.log); err != nil {
				ln.Close()
				s.shutdownDNS()
				return err
			}
			hs.TLSConfig = s.dashCert.tlsConfig()
		}
		go func() {
			var err error
			if hs.TLSConfig != nil {
				err = hs.ServeTLS(ln, "", "")
			} else {
				err = hs.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "error", err)
			}
		}()
	}
	stopBlockPage, err := s.startBlockPage()
	if err == nil {
		// The HTTP-to-HTTPS redirect stops with the block page.
		var stopRedirect func()
		stopRedirect, err = s.startRedirect()
		stopPage := stopBlockPage
		stopBlockPage = func() { stopRedirect(); stopPage() }
	}
	if err != nil {
		stopBlockPage()
		if hs != nil {
			hs.Close()
		}
		s.shutdownDNS()
		return err
	}
	source := "built-in default"
	if s.path != "" {
		source = s.path
	}
	s.log.Info("gatehouse serving", "version", version, "config", source, "dns", dnsAddrs,
		"http", s.cfg.Listen.HTTP, "mode", s.cfg.Resolver.Mode, "generation", s.gen)
	procsCtx, stopProcs := context.WithCancel(ctx)
	defer stopProcs()
	s.startProcs(procsCtx)

	rf, err := s.startRefresher(s.cfg)
	if err != nil {
		stopBlockPage()
		s.shutdownDNS()
		return err
	}
	s.refresher = rf
	s.publish()
	dashCtx, stopDash := context.WithCancel(ctx)
	dashDone := make(chan struct{})
	go func() {
		defer close(dashDone)
		if s.dash != nil {
			s.dash.Run(dashCtx)
		}
	}()
	s.sg.start(s)
	go func() {
		defer close(s.loopDone)
		s.reloadLoop(ctx, hup)
	}()
	// Without its control socket the server still filters; the CLI's
	// override and reload commands say the server is unreachable.
	if s.ctl, err = s.startControl(s.stateDir); err != nil {
		s.log.Error("no control socket: `gatehouse override` and `gatehouse lists reload` cannot reach this server", "error", err)
	}
	<-ctx.Done()
	<-s.loopDone
	s.log.Info("shutting down")
	s.ctl.close()
	stopDash() // ends live streams, so the HTTP server can shut down
	<-dashDone
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		hs.Shutdown(sctx)
		cancel()
	}
	stopBlockPage()
	if s.dashStore != nil {
		s.dashStore.Close()
	}
	s.shutdownDNS()
	s.refresher.close()
	s.leaseW.close()
	s.sg.stop()       // before the query log: it holds evidence there
	s.closeQueryLog() // after the DNS server, so the last queries are written
	s.upstream.cur.Load().transport.Close()
	return nil
}

func (s *site) closeQueryLog() {
	if s.qlog == nil {
		return
	}
	if err := s.qlog.Close(); err != nil {
		s.log.Error("closing the query log", "error", err)
	}
}

func (s *site) shutdownDNS() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil {
		s.log.Warn("queries still running at shutdown", "error", err)
	}
}
