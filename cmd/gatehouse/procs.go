package main

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/procs"
)

// reloadBusy is how long a reload keeps every P: a 5M-name list builds in
// a few seconds.
const reloadBusy = 10 * time.Second

// queryLogBusy is how long a large query log batch keeps every P: batches
// come every 250 ms while the rate stays high.
const queryLogBusy = 2 * time.Second

// newProcs creates the scaler (run by startProcs) unless the config or a
// GOMAXPROCS set by the operator says otherwise; nil then.
func (s *site) newProcs() *procs.Scaler {
	if !s.cfg.Server.AdaptiveProcs {
		return nil
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		s.log.Info("server.adaptive_procs is off: GOMAXPROCS is set in the environment", "GOMAXPROCS", v)
		return nil
	}
	return procs.New(procs.Config{OnChange: func(n int, why string) {
		s.procsGauge.Set(float64(n)) // set by startProcs before Run starts
		s.log.Debug("scheduler processors changed", "procs", n, "why", why)
	}})
}

// busy tells the scaler, if any, that heavy work starts now.
func (s *site) busy(d time.Duration) {
	if s.procs != nil {
		s.procs.Busy(d)
	}
}

// startProcs runs the scaler made by newProcs, if any: the Go scheduler on
// one P while the site is nearly idle (internal/procs says why). The gauge
// shows the current choice.
func (s *site) startProcs(ctx context.Context) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatehouse_go_procs",
		Help: "Processors the Go scheduler runs on now (GOMAXPROCS); see server.adaptive_procs.",
	})
	g.Set(float64(runtime.GOMAXPROCS(0)))
	if err := s.reg.Register(g); err != nil {
		s.log.Warn("registering gatehouse_go_procs", "error", err)
	}
	s.procsGauge = g
	if s.procs != nil {
		go s.procs.Run(ctx)
	}
}
