package recursor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the recursor's Prometheus metrics. Several Recursors, such as
// the old and new one during a reload, may share one Metrics.
type Metrics struct {
	exchanges *prometheus.CounterVec
	duration  prometheus.Histogram
	budget    *prometheus.CounterVec
	held      *prometheus.CounterVec
	infra     *prometheus.GaugeVec
	primings  *prometheus.CounterVec

	results [numResults]prometheus.Counter
	holds   [numHolds]prometheus.Counter
	// infra cache sizes: delegations, addresses, servers, lame
	infraDelegs, infraAddrs, infraServers, infraLame prometheus.Gauge
}

// NewMetrics creates the recursor's metrics and registers them with reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "exchanges_total",
			Help:      "Queries sent to authoritative servers, by result (ok, timeout, error, mismatch, lame, refused, servfail, formerr, broken).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "exchange_duration_seconds",
			Help:      "Time from sending a query to an authoritative server until its reply or failure.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2, 13), // 1 ms to 4 s
		}),
		budget: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "budget_exceeded_total",
			Help:      "Resolutions stopped because they exceeded their work budget, by the limit hit (queries, referrals, glueless, cnames, time).",
		}, []string{"kind"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "servers_held_total",
			Help:      "Times a server was set aside for a while, by reason (lame, refused, servfail, broken, mismatch, unresponsive, noedns).",
		}, []string{"reason"}),
		infra: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "infra_cache_entries",
			Help:      "Entries in the infrastructure caches, by cache (delegations, addresses, servers, lame).",
		}, []string{"cache"}),
		primings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse",
			Subsystem: "recursor",
			Name:      "primings_total",
			Help:      "Root priming queries (RFC 8109), by result (success, failure).",
		}, []string{"result"}),
	}
	for r := range numResults {
		m.results[r] = m.exchanges.WithLabelValues(r.String())
	}
	for h := range numHolds {
		m.holds[h] = m.held.WithLabelValues(h.String())
	}
	m.infraDelegs = m.infra.WithLabelValues("delegations")
	m.infraAddrs = m.infra.WithLabelValues("addresses")
	m.infraServers = m.infra.WithLabelValues("servers")
	m.infraLame = m.infra.WithLabelValues("lame")
	for _, k := range []string{budgetQueries, budgetReferrals, budgetGlueless, budgetCNAMEs, budgetTime} {
		m.budget.WithLabelValues(k)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.exchanges, m.duration, m.budget, m.held, m.infra, m.primings} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering recursor metrics: %w", err)
			}
		}
	}
	return m, nil
}

// outcome is the result of one exchange, a metrics label.
type outcome int

const (
	resultOK       outcome = iota // a usable reply: answer, referral, negative answer
	resultTimeout                 // no reply in time
	resultError                   // the exchange failed otherwise
	resultMismatch                // the reply's question (or its case, with 0x20) did not match
	resultLame                    // not authoritative for the zone, or an out-of-zone reply
	resultRefused
	resultServfail
	resultFormerr // FORMERR or NOTIMP
	resultBroken  // any other unusable reply
	numResults
)

func (r outcome) String() string {
	return [...]string{"ok", "timeout", "error", "mismatch", "lame", "refused", "servfail", "formerr", "broken"}[r]
}

// hold is why a server is set aside.
type hold int

const (
	holdLame hold = iota
	holdRefused
	holdServfail
	holdBroken
	holdMismatch
	holdUnresponsive
	holdNoEDNS
	numHolds
)

func (h hold) String() string {
	return [...]string{"lame", "refused", "servfail", "broken", "mismatch", "unresponsive", "noedns"}[h]
}
