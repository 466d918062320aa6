package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"gatehouse/blocklists"
	"gatehouse/config"
	"gatehouse/dashboard"
	"gatehouse/dashboard/store"
	"gatehouse/policy/schedule"
)

// siteView is what the HTTP side may read of the site's reloadable
// parts; the reload loop publishes a new one after each change, so
// handlers never read fields only the loop may touch.
type siteView struct {
	cfg       *config.Config
	refresher *refresher
	leaseW    *leaseWatch
}

// publish makes the current config, refresher and lease watcher visible
// to the dashboard. Only the goroutine that owns them calls it.
func (s *site) publish() {
	s.view.Store(&siteView{cfg: s.cfg, refresher: s.refresher, leaseW: s.leaseW})
}

// noteReload records the outcome of a reload attempt for the status page.
func (s *site) noteReload(err error) {
	r := &dashboard.Reload{At: time.Now()}
	if err != nil {
		r.Err = err.Error()
	}
	s.lastReload.Store(r)
}

// openDashboard reads the metrics token file (a missing or short token
// stops the start), then, when the dashboard or the block page is on,
// opens the dashboard database in dir and builds the dashboard (also the
// block page's handler).
func (s *site) openDashboard(cfg *config.Config, dir string) error {
	dc := cfg.Dashboard
	if dc.Metrics.TokenFile != "" { // /metrics is guarded with the dashboard off too
		data, err := os.ReadFile(dc.Metrics.TokenFile)
		if err != nil {
			return fmt.Errorf("dashboard.metrics.token_file: %w", err)
		}
		s.metricsToken = strings.TrimSpace(string(data))
		if len(s.metricsToken) < 16 || strings.ContainsAny(s.metricsToken, " \t\r\n") {
			return fmt.Errorf("dashboard.metrics.token_file %s: the token must be one line of at least 16 characters without spaces", dc.Metrics.TokenFile)
		}
	}
	if !dc.Enabled && cfg.Listen.BlockPage == nil {
		return nil
	}
	if dc.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(dc.TLSCert, dc.TLSKey); err != nil {
			return fmt.Errorf("dashboard TLS certificate: %w", err)
		}
	}
	st, err := store.Open(store.Path(dir))
	if err != nil {
		return err
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		st.Close()
		return err
	}
	dcfg := dashboard.Config{
		Store:         st,
		Site:          dashSite{s: s, dir: dir},
		Metrics:       s.reg,
		Location:      loc,
		SecureCookies: dc.TLSCert != "",
		Logger:        s.log.With("component", "dashboard"),
	}
	if s.qlog != nil {
		dcfg.QueryLog = s.qlog
	}
	// The site's control methods (control.go) are the dashboard's buttons.
	dcfg.Control = s
	if s.sg != nil {
		dcfg.Safeguarding = s.sg.engine
	}
	if dcfg.Trust, err = s.openTrust(cfg, dir); err != nil {
		st.Close()
		return err
	}
	d, err := dashboard.New(dcfg)
	if err != nil {
		st.Close()
		return err
	}
	s.dash, s.dashStore = d, st
	return nil
}

// dashboardHandler is listen.http: /healthz, the guarded /metrics and,
// when enabled, the dashboard.
func (s *site) dashboardHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", dashboard.MetricsAccess(metrics, s.cfg.Dashboard.Metrics.Allow, s.metricsToken))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "ok generation %d\n", s.server.Policy().Gen)
	})
	if s.dash != nil && s.cfg.Dashboard.Enabled {
		mux.Handle("/", s.dash.Handler())
	}
	return mux
}

// startBlockPage starts the block page's HTTP server and its HTTPS
// reset listener, as configured. stop closes both.
func (s *site) startBlockPage() (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range stops {
			f()
		}
	}
	if a := s.cfg.Listen.BlockPage; a != nil && s.dash != nil {
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			return stop, fmt.Errorf("listen block_page: %w", err)
		}
		hs := &http.Server{
			Handler:           s.dash.BlockPage(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    16 << 10,
		}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("block page server stopped", "error", err)
			}
		}()
		stops = append(stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			hs.Shutdown(ctx)
			cancel()
		})
	}
	if a := s.cfg.Listen.BlockPageHTTPS; a != nil {
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			return stop, fmt.Errorf("listen block_page_https: %w", err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := dashboard.ServeReset(ln); err != nil {
				s.log.Error("block page HTTPS listener stopped", "error", err)
			}
		}()
		stops = append(stops, func() { ln.Close(); <-done })
	}
	return stop, nil
}

// dashSite is the site as the dashboard sees it.
type dashSite struct {
	s   *site
	dir string
}

var _ dashboard.Site = dashSite{}

func (d dashSite) Config() *config.Config { return d.s.view.Load().cfg }

func (d dashSite) Identify(addr netip.Addr, now time.Time) dashboard.Device {
	c := d.s.server.Policy().Identify(addr, now)
	return dashboard.Device{Addr: addr, MAC: c.MACText, Hostname: c.Hostname, Group: c.Group, Rule: c.Rule, LeaseSource: c.LeaseSource}
}

func (d dashSite) Status() dashboard.SiteStatus {
	v := d.s.view.Load()
	snap := d.s.server.Policy()
	st := dashboard.SiteStatus{Started: d.s.started, Version: version, Generation: snap.Gen, StateDir: d.dir}
	if r := d.s.lastReload.Load(); r != nil {
		st.LastReload = *r
	}
	downloads := map[string]blocklists.ListStatus{}
	if v.refresher != nil {
		for _, ls := range v.refresher.r.Status() {
			downloads[ls.Name] = ls
		}
	}
	if set := snap.Lists(); set != nil {
		for _, l := range set.Lists() {
			ls := dashboard.ListStatus{Name: l.Name, Category: l.Category.String(), Allow: l.Allow, Locked: l.Category.Locked(),
				Entries: l.Entries, Source: strings.Join(l.Sources, ", "),
				Issues: l.Stats.Invalid + l.Stats.Unsupported}
			if dl, ok := downloads[l.Name]; ok {
				ls.Source, ls.Version, ls.LastRefresh, ls.LastError = dl.URL, dl.Version, dl.LastSuccess, dl.LastError
				if dl.Held != nil {
					ls.HeldVersion, ls.HeldLines = dl.Held.Version(), dl.Held.ValidLines
				}
				delete(downloads, l.Name)
			}
			st.Lists = append(st.Lists, ls)
		}
	}
	// Downloaded lists with no good copy yet are not in the Set.
	for _, c := range v.cfg.Lists {
		if dl, ok := downloads[c.Name]; ok {
			ls := dashboard.ListStatus{Name: c.Name, Category: c.Category, Source: dl.URL, LastError: dl.LastError}
			if cat, err := blocklists.ParseCategory(c.Category); err == nil {
				ls.Locked = cat.Locked()
			}
			if ls.LastError == "" {
				ls.LastError = "not downloaded yet"
			}
			st.Lists = append(st.Lists, ls)
		}
	}
	if v.leaseW != nil {
		for _, l := range v.leaseW.w.Status() {
			ls := dashboard.LeaseStatus{Path: l.Path, Format: string(l.Format), Leases: l.Leases, LastRead: l.LastRead}
			if l.Err != nil {
				ls.Err = l.Err.Error()
			}
			st.Leases = append(st.Leases, ls)
		}
	}
	return st
}
