package clientmap

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Read results, the values of the result label of
// gatehouse_leases_reads_total.
const (
	readSuccess = "success" // read and published
	readPartial = "partial" // published, but some records were bad and skipped
	readFailure = "failure" // unreadable or empty; the previous leases are kept
)

// LeaseMetrics are the lease watcher's Prometheus metrics. The source label
// is a configured lease file path, so its values are bounded by the
// configuration. A nil *LeaseMetrics records nothing.
type LeaseMetrics struct {
	active   *prometheus.GaugeVec
	reads    *prometheus.CounterVec
	lastRead *prometheus.GaugeVec
}

// NewLeaseMetrics registers the gatehouse_leases_* metrics on reg.
func NewLeaseMetrics(reg prometheus.Registerer) (*LeaseMetrics, error) {
	m := &LeaseMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "leases", Name: "active",
			Help: "Leases held from each lease file: active when read, kept while the file is unreadable.",
		}, []string{"source"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "leases", Name: "reads_total",
			Help: "Lease file reads by result: success, partial (bad records skipped) or failure (previous leases kept).",
		}, []string{"source", "result"}),
		lastRead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "leases", Name: "last_read_timestamp_seconds",
			Help: "Unix time of the last read of each lease file that was published (success or partial).",
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.active, m.reads, m.lastRead} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering lease metrics: %w", err)
		}
	}
	return m, nil
}

// init creates a source's series so they read 0 before the first event.
func (m *LeaseMetrics) init(source string) {
	if m == nil {
		return
	}
	for _, r := range []string{readSuccess, readPartial, readFailure} {
		m.reads.WithLabelValues(source, r)
	}
	m.active.WithLabelValues(source)
}

func (m *LeaseMetrics) read(source, result string, at time.Time) {
	if m == nil {
		return
	}
	m.reads.WithLabelValues(source, result).Inc()
	if result != readFailure {
		m.lastRead.WithLabelValues(source).Set(float64(at.UnixNano()) / 1e9)
	}
}

func (m *LeaseMetrics) setActive(source string, n int) {
	if m == nil {
		return
	}
	m.active.WithLabelValues(source).Set(float64(n))
}
