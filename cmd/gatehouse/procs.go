package main

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
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

// logSpare tells the query log's writer how much CPU it may take
// (querylog.Config.Spare): what the machine leaves idle, but nothing
// while queries wait in the DNS sockets. Idle time alone misleads under
// a load that waits for its answers (a client with a window of queries
// outstanding, as dnsperf): the more CPU the writer takes, the slower the
// answers and the longer such a client idles, so the writer would see
// ever more CPU spare while DNS starved.
type logSpare struct {
	idle func() (cores float64, ok bool) // procs.Spare.Cores
	// backlog is resolver.Server.UDPBacklog, set once DNS is served.
	backlog atomic.Pointer[func() (reads, full uint64)]
	// reads and full are the backlog at the previous call; only the
	// writer goroutine calls cores.
	reads, full uint64
}

// backlogShare is the share of reads finding a full batch above which
// DNS is taken to be short of CPU: under a saturating load most reads
// do; at 20,000 q/s on two cores almost none.
const backlogShare = 0.05

func (l *logSpare) cores() (float64, bool) {
	idle, ok := l.idle()
	if f := l.backlog.Load(); f != nil {
		reads, full := (*f)()
		dr, df := reads-l.reads, full-l.full
		l.reads, l.full = reads, full
		if dr > 0 && float64(df) > backlogShare*float64(dr) {
			return 0, true
		}
	}
	return idle, ok
}
