package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/config"
	"gatehouse/policy"
)

// reloadDebounce lets editors and config-management tools finish writing
// (write, rename, chmod...) before we read the file.
const reloadDebounce = 300 * time.Millisecond

type reloadMetrics struct {
	total       *prometheus.CounterVec
	generation  prometheus.Gauge
	lastSuccess prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) (*reloadMetrics, error) {
	m := &reloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "config", Name: "reloads_total",
			Help: "Configuration reloads, by result (success, failure, unchanged).",
		}, []string{"result"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "config", Name: "generation",
			Help: "Generation of the policy in force; it grows by one with every successful reload.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "When the configuration in force was loaded.",
		}),
	}
	for _, c := range []prometheus.Collector{m.total, m.generation, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"success", "failure", "unchanged"} {
		m.total.WithLabelValues(r)
	}
	m.lastSuccess.SetToCurrentTime()
	return m, nil
}

// reloadLoop is the single writer of reloadable state. SIGHUP reloads at
// once; a change to the config file reloads after reloadDebounce, and only
// if the content changed. It returns when ctx ends.
// hup is the SIGHUP channel, registered by run before anything listens: a
// `systemctl reload` in the first moments must not meet SIGHUP's default
// action, which ends the process.
func (s *site) reloadLoop(ctx context.Context, hup <-chan os.Signal) {

	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	ws := s.ws
	if ws != nil {
		defer ws.close()
		events, watchErrs = ws.w.Events, ws.w.Errors
	}
	hash := s.cfgHash
	var configChanged, listsChanged <-chan time.Time
	// overridesExpire fires when the next override ends, to drop it.
	var overridesExpire <-chan time.Time
	expireAt := func(next time.Time) {
		overridesExpire = nil
		if !next.IsZero() {
			overridesExpire = time.After(time.Until(next) + time.Second)
		}
	}
	expireAt(s.applyOverrides())
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-s.ctlCh:
			var err error
			switch req.kind {
			case ctlReloadLists:
				s.log.Info("lists reload requested")
				hash, err = s.reloadResult(hash, true)
				s.followLists(ws)
				s.refresher.recheck()
				s.dashCert.reload()
			case ctlOverrides:
				expireAt(s.applyOverrides())
			}
			req.done <- err
		case <-overridesExpire:
			expireAt(s.applyOverrides())
		case <-hup:
			s.log.Info("SIGHUP: reloading")
			hash = s.reload(hash, true)
			s.followLists(ws)
			s.dashCert.reload()
		case ev := <-events:
			isConfig, isList := ws.classify(ev)
			if isConfig {
				configChanged = time.After(reloadDebounce)
			}
			if isList {
				listsChanged = time.After(reloadDebounce)
			}
		case err := <-watchErrs:
			s.log.Warn("watching config and list files", "error", err)
		case <-configChanged:
			configChanged = nil
			hash = s.reload(hash, false)
			s.followLists(ws)
		case <-listsChanged:
			// A list file changed: rebuild; unchanged lists are carried over.
			listsChanged = nil
			s.log.Info("a list file changed: reloading lists")
			hash = s.reload(hash, true)
		case <-s.listsCh:
			// A downloaded list changed: rebuild, as for a list file.
			s.log.Info("a downloaded list changed: reloading lists")
			hash = s.reload(hash, true)
		case <-s.leaseCh:
			// A DHCP lease changed: the same policy, with the new leases.
			s.server.SetPolicy(s.server.Policy().WithLeases(s.leaseW.leases()))
		}
	}
}

// watchInputs starts watching the config file and cfg's lists, and notes
// the config's hash from after the watch began, so no change is missed.
func (s *site) watchInputs(cfg *config.Config) {
	ws, err := newWatchSet(s.path)
	if err != nil {
		s.log.Warn("config and list file changes will not be noticed; use SIGHUP to reload", "error", err)
		return
	}
	s.ws = ws
	for _, err := range ws.follow(cfg) {
		s.log.Warn("list changes will not be noticed until SIGHUP", "error", err)
	}
	s.cfgHash = s.fileHash()
}

// followLists points the watcher at the lists of the config in force.
func (s *site) followLists(ws *watchSet) {
	if ws == nil {
		return
	}
	for _, err := range ws.follow(s.cfg) {
		s.log.Warn("list changes will not be noticed until SIGHUP", "error", err)
	}
}

func (s *site) fileHash() [32]byte {
	if s.path == "" {
		return [32]byte{}
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(data)
}

// reload reads the config, builds everything aside, and swaps it in; on any
// error the running config stays in force. It returns the content hash now
// in force (the old one when the reload failed).
func (s *site) reload(prev [32]byte, force bool) [32]byte {
	hash, _ := s.reloadResult(prev, force)
	return hash
}

// reloadResult is reload, also returning why a reload failed.
func (s *site) reloadResult(prev [32]byte, force bool) (_ [32]byte, err error) {
	s.busy(reloadBusy) // parsing lists on one P would hold up DNS
	applied := false
	defer func() {
		if err != nil || applied {
			s.noteReload(err) // for the dashboard's status page
		}
	}()
	if s.path == "" {
		// The built-in default: nothing to read again.
		s.reloads.total.WithLabelValues("unchanged").Inc()
		return prev, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Mid-rename, or deleted: keep serving; a later event retries.
			s.log.Warn("config file is missing; keeping the configuration in force", "file", s.path)
		} else {
			s.log.Error("reading config; keeping the configuration in force", "error", err)
		}
		s.reloads.total.WithLabelValues("failure").Inc()
		return prev, fmt.Errorf("reading config: %w", err)
	}
	hash := sha256.Sum256(data)
	if hash == prev && !force {
		s.reloads.total.WithLabelValues("unchanged").Inc()
		return prev, nil
	}
	cfg, err := config.Parse(s.path, data)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				s.log.Error("config rejected; keeping the configuration in force", "error", e.Error())
			}
		} else {
			s.log.Error("config rejected; keeping the configuration in force", "error", err)
		}
		s.reloads.total.WithLabelValues("failure").Inc()
		return prev, fmt.Errorf("config rejected, the configuration in force stays: %w", err)
	}
	if err := s.apply(cfg); err != nil {
		s.log.Error("config rejected; keeping the configuration in force", "error", err)
		s.reloads.total.WithLabelValues("failure").Inc()
		return prev, fmt.Errorf("config rejected, the configuration in force stays: %w", err)
	}
	s.reloads.total.WithLabelValues("success").Inc()
	applied = true
	s.reloads.generation.Set(float64(s.gen))
	s.reloads.lastSuccess.SetToCurrentTime()
	s.log.Info("configuration reloaded", "generation", s.gen)
	return hash, nil
}

// apply builds every reloadable part from cfg, then swaps them all in.
// Nothing is swapped unless everything built.
func (s *site) apply(cfg *config.Config) error {
	leaseW, leases := s.leaseW, s.server.Policy().Clients().Leases()
	if !leaseW.sameSources(cfg) {
		var err error
		if leaseW, err = s.startLeases(cfg); err != nil {
			return err
		}
		leases = leaseW.leases()
	}
	newWatcher := leaseW != s.leaseW
	fail := func(err error) error {
		if newWatcher {
			leaseW.close()
		}
		return err
	}
	now := time.Now()
	snap, err := policy.Compile(cfg, s.gen+1, now, leases, s.server.Policy(), s.listStore)
	if err != nil {
		return fail(err)
	}
	snap = snap.WithOverrides(s.overrides.Active(now), now)
	upstreamsChanged := !reflect.DeepEqual(cfg.Resolver, s.cfg.Resolver)
	var up *upstreams
	if upstreamsChanged {
		if up, err = s.newUpstreams(cfg); err != nil {
			return fail(err)
		}
	}
	sgInfra, sgSchool, err := s.sg.prepare(cfg)
	if err != nil {
		return fail(err)
	}
	for _, name := range restartOnly(s.cfg, cfg) {
		s.log.Warn("this setting changed but needs a restart to take effect", "setting", name)
	}

	s.gen++
	s.level.Set(cfg.Log.Level)
	s.server.SetRateLimit(rateLimit(cfg))
	if upstreamsChanged {
		old := s.upstream.cur.Swap(up)
		s.cache.Flush() // answers from the old upstreams must not outlive them
		time.AfterFunc(transportGrace, func() { old.transport.Close() })
	}
	s.server.SetPolicy(snap)
	s.listsBuilt(snap.Lists(), snap.Addresses())
	s.answerChecksBuilt(snap)
	if !s.refresher.same(cfg) {
		s.refresher.close()
		rf, err := s.startRefresher(cfg)
		if err != nil {
			s.log.Error("starting list downloads", "error", err)
		}
		s.refresher = rf
	}
	if newWatcher {
		s.leaseW.close()
		s.leaseW = leaseW
	}
	s.sg.apply(s, s.cfg, cfg, sgInfra, sgSchool)
	s.cfg = cfg
	s.publish()
	return nil
}

// restartOnly names the settings that differ between old and new but are
// only read at start-up.
func restartOnly(old, cfg *config.Config) []string {
	var out []string
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	check("listen", old.Listen, cfg.Listen)
	check("server", old.Server, cfg.Server)
	check("cache", old.Cache, cfg.Cache)
	check("state_dir", old.StateDir, cfg.StateDir)
	check("query_log", old.QueryLog, cfg.QueryLog)
	// The retentions are read at each pruning: not restart-only.
	oldDash, newDash := old.Dashboard, cfg.Dashboard
	oldDash.AccessLogRetention, oldDash.ClosedReviewRetention = 0, 0
	newDash.AccessLogRetention, newDash.ClosedReviewRetention = 0, 0
	check("dashboard", oldDash, newDash)
	check("timezone", old.TimeZone, cfg.TimeZone)
	check("trust", old.Trust, cfg.Trust)
	var oldRet, newRet []time.Duration
	for _, g := range old.Groups {
		oldRet = append(oldRet, g.LogRetention)
	}
	for _, g := range cfg.Groups {
		newRet = append(newRet, g.LogRetention)
	}
	check("groups[].log_retention", oldRet, newRet)
	check("log.format", old.Log.Format, cfg.Log.Format)
	check("safeguarding.enabled", old.Safeguarding.Enabled, cfg.Safeguarding.Enabled)
	check("safeguarding.retention", old.Safeguarding.Retention, cfg.Safeguarding.Retention)
	return out
}
