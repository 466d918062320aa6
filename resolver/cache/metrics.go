package cache

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	namespace = "gatehouse"
	subsystem = "cache"
)

// Metrics are the cache's Prometheus metrics. Build them with NewMetrics
// and pass them in Config.Metrics; one Metrics serves one Cache at a time
// (the entries gauge reports the Cache built with it most recently).
type Metrics struct {
	hits       prometheus.Counter
	misses     prometheus.Counter
	evictions  prometheus.Counter
	inserts    prometheus.Counter
	stale      prometheus.Counter
	prefetches prometheus.Counter
	shared     prometheus.Counter
	entries    prometheus.GaugeFunc

	size atomic.Pointer[func() int] // Len of the bound Cache
}

// NewMetrics creates the cache metrics and registers them with reg. A nil
// reg leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: name, Help: help,
		})
	}
	m := &Metrics{
		hits:       counter("hits_total", "Queries answered from a fresh cache entry."),
		misses:     counter("misses_total", "Queries that found no fresh entry and went to upstream (or joined an upstream query in flight)."),
		evictions:  counter("evictions_total", "Entries dropped to make room for new ones."),
		inserts:    counter("inserts_total", "Answers stored, new or replacing an older entry."),
		stale:      counter("stale_served_total", "Expired answers served because upstream failed (RFC 8767)."),
		prefetches: counter("prefetches_total", "Background refreshes started for popular entries near expiry."),
		shared:     counter("upstream_shared_total", "Misses answered by another query's upstream exchange already in flight."),
	}
	m.entries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: subsystem, Name: "entries",
		Help: "Entries held, including expired ones kept for serve-stale.",
	}, func() float64 {
		if f := m.size.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.hits, m.misses, m.evictions, m.inserts, m.stale, m.prefetches, m.shared, m.entries,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering cache metrics: %w", err)
		}
	}
	return m, nil
}
