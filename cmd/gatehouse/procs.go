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

// startProcs runs the Go scheduler on one P while the site is nearly idle
// (internal/procs says why), unless the config or a GOMAXPROCS set by the
// operator says otherwise. The gauge shows the current choice.
func (s *site) startProcs(ctx context.Context) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatehouse_go_procs",
		Help: "Processors the Go scheduler runs on now (GOMAXPROCS); see server.adaptive_procs.",
	})
	g.Set(float64(runtime.GOMAXPROCS(0)))
	if err := s.reg.Register(g); err != nil {
		s.log.Warn("registering gatehouse_go_procs", "error", err)
	}
	if !s.cfg.Server.AdaptiveProcs {
		return
	}
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		s.log.Info("server.adaptive_procs is off: GOMAXPROCS is set in the environment", "GOMAXPROCS", v)
		return
	}
	s.procs = procs.New(procs.Config{OnChange: func(n int, why string) {
		g.Set(float64(n))
		s.log.Debug("scheduler processors changed", "procs", n, "why", why)
	}})
	go s.procs.Run(ctx)
}
