package forward

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the forwarder's Prometheus metrics. The upstream label is
// "proto://addr", bounded by the configuration.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	healthy  *prometheus.GaugeVec
}

// NewMetrics creates the forwarder's metrics and registers them with reg
// (nil: not registered). Several Forwarders, such as the old and new one
// during a reload, may share one Metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse",
			Subsystem: "forward",
			Name:      "requests_total",
			Help:      "Queries sent to upstream resolvers, by upstream and result (success, servfail, refused, timeout, error).",
		}, []string{"upstream", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gatehouse",
			Subsystem: "forward",
			Name:      "request_duration_seconds",
			Help:      "Time from sending a query to an upstream resolver until its reply or failure.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2, 13), // 1 ms to 4 s
		}, []string{"upstream"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse",
			Subsystem: "forward",
			Name:      "upstream_healthy",
			Help:      "Whether an upstream resolver is considered healthy (1) or is being skipped after consecutive failures (0).",
		}, []string{"upstream"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.healthy} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering forward metrics: %w", err)
			}
		}
	}
	return m, nil
}

// upstreamMetrics are one upstream's metric children, looked up once so the
// query path does no label hashing.
type upstreamMetrics struct {
	requests [numResults]prometheus.Counter
	duration prometheus.Observer
	healthy  prometheus.Gauge
}

func (m *Metrics) forUpstream(label string) upstreamMetrics {
	um := upstreamMetrics{
		duration: m.duration.WithLabelValues(label),
		healthy:  m.healthy.WithLabelValues(label),
	}
	for r := range numResults {
		um.requests[r] = m.requests.WithLabelValues(label, r.String())
	}
	return um
}
