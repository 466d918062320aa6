package querylog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the query log's Prometheus metrics (gatehouse_querylog_*).
// The query path touches none of them: Enqueue counts drops in a plain
// atomic that the writer goroutine folds into dropped_total.
type Metrics struct {
	queued        prometheus.Gauge
	written       prometheus.Counter
	dropped       prometheus.Counter
	writeDuration prometheus.Histogram
	mergeDuration prometheus.Histogram
	staged        prometheus.Gauge
	dbBytes       prometheus.Gauge
	purged        prometheus.Counter
	pseudonymised prometheus.Counter
	errors        prometheus.Counter
}

// NewMetrics registers the query log metrics on reg. A nil reg gives
// working, unregistered metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "gatehouse", "querylog"
	m := &Metrics{
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queued",
			Help: "Entries waiting in the in-memory queue for the writer."}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "written_total",
			Help: "Entries committed to the database."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dropped_total",
			Help: "Entries lost: queue full, or their batch could not be written."}),
		writeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "write_duration_seconds",
			Help:    "Time to write and commit one batch of entries, not counting the turns it gives DNS.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		mergeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "merge_duration_seconds",
			Help:    "Time to move one slice of staged entries into the indexed table, not counting the turns it gives DNS.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		staged: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "staged",
			Help: "Committed entries staged, not yet merged into the indexed table."}),
		dbBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "database_bytes",
			Help: "Size of the database file and its write-ahead log."}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "purged_total",
			Help: "Entries deleted by retention."}),
		pseudonymised: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pseudonymised_total",
			Help: "Entries whose client identity was replaced by a keyed hash."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Database errors met by the writer and maintenance (writing goes on after them)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.queued, m.written, m.dropped, m.writeDuration, m.mergeDuration, m.staged, m.dbBytes, m.purged, m.pseudonymised, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering querylog metrics: %w", err)
		}
	}
	return m, nil
}
