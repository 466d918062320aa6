package safeguarding

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics (gatehouse_safeguarding_*).
// Delivery trouble shows here and in Engine.DeliveryHealth: a growing
// outbox_messages{state="failing"} or any "dead" message needs a
// technician.
type Metrics struct {
	signals     prometheus.Counter
	dropped     *prometheus.CounterVec
	concerns    *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	outbox      *prometheus.GaugeVec
	oldest      prometheus.Gauge
	escalations prometheus.Counter
	errors      prometheus.Counter
}

// NewMetrics registers the metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "gatehouse", "safeguarding"
	m := &Metrics{
		signals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "signals_total",
			Help: "Blocked and bypass lookups the engine received from the query log."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "signals_dropped_total",
			Help: "Lookups not examined: the engine's queue was full (queue) or too many devices were tracked at once (tracking)."}, []string{"reason"}),
		concerns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "concerns_total",
			Help: "Concerns raised, by priority."}, []string{"priority"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "deliveries_total",
			Help: "Delivery attempts by channel (email, webhook, syslog) and result (sent, failed, dead)."}, []string{"channel", "result"}),
		outbox: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "outbox_messages",
			Help: "Messages in the outbox: pending (not yet sent), failing (pending after a failed attempt), dead (given up)."}, []string{"state"}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "outbox_oldest_pending_seconds",
			Help: "Age of the oldest message waiting to be sent (0 when none)."}),
		escalations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "escalations_total",
			Help: "Overdue concerns escalated (re-notified)."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Database and legal-hold errors met by the engine (it retries)."}),
	}
	for _, r := range []string{"queue", "tracking"} {
		m.dropped.WithLabelValues(r)
	}
	for _, p := range Priorities() {
		m.concerns.WithLabelValues(p.String())
	}
	for _, s := range []string{"pending", "failing", "dead"} {
		m.outbox.WithLabelValues(s)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.signals, m.dropped, m.concerns, m.deliveries, m.outbox, m.oldest, m.escalations, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering safeguarding metrics: %w", err)
		}
	}
	return m, nil
}
