package dashboard

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// families is one gather of the registry, by metric name.
type families map[string]*dto.MetricFamily

func gather(g prometheus.Gatherer) (families, error) {
	mfs, err := g.Gather()
	out := families{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out, err
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sum adds the series of name whose labels match every name=value pair.
func (f families) sum(name string, match ...string) float64 {
	mf := f[name]
	if mf == nil {
		return 0
	}
	var total float64
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(match); i += 2 {
			if label(m, match[i]) != match[i+1] {
				continue next
			}
		}
		total += value(m)
	}
	return total
}

// byLabel returns each series' value keyed by one label.
func (f families) byLabel(name, key string) map[string]float64 {
	out := map[string]float64{}
	if mf := f[name]; mf != nil {
		for _, m := range mf.Metric {
			out[label(m, key)] += value(m)
		}
	}
	return out
}

// Metric names the status page reads.
const (
	mQueries       = "gatehouse_server_queries_total"
	mDecisions     = "gatehouse_policy_decisions_total"
	mCacheHits     = "gatehouse_cache_hits_total"
	mCacheMisses   = "gatehouse_cache_misses_total"
	mCacheEntries  = "gatehouse_cache_entries"
	mUpstreamOK    = "gatehouse_forward_upstream_healthy"
	mForwardReqs   = "gatehouse_forward_requests_total"
	mRecExchanges  = "gatehouse_recursor_exchanges_total"
	mListEntries   = "gatehouse_blocklists_entries"
	mLeasesActive  = "gatehouse_leases_active"
	mGeneration    = "gatehouse_config_generation"
	mReloads       = "gatehouse_config_reloads_total"
	mQLQueued      = "gatehouse_querylog_queued"
	mQLDropped     = "gatehouse_querylog_dropped_total"
	mQLBytes       = "gatehouse_querylog_database_bytes"
	mStartTime     = "process_start_time_seconds"
	mResidentBytes = "process_resident_memory_bytes"
)

// sample is the counters the history needs, at one moment.
type sample struct {
	at                                      time.Time
	queries, blocked, decided, hits, misses float64
	recOK, recAll                           float64
	qlDropped                               float64
}

func takeSample(f families, at time.Time) sample {
	return sample{
		at:        at,
		queries:   f.sum(mQueries),
		blocked:   f.sum(mDecisions, "action", "block"),
		decided:   f.sum(mDecisions),
		hits:      f.sum(mCacheHits),
		misses:    f.sum(mCacheMisses),
		recOK:     f.sum(mRecExchanges, "result", "ok"),
		recAll:    f.sum(mRecExchanges),
		qlDropped: f.sum(mQLDropped),
	}
}

// sampler keeps a ring of recent samples for the q/s chart and the
// recent rates.
type sampler struct {
	g    prometheus.Gatherer
	mu   sync.Mutex
	ring []sample
	next int
	full bool
}

func newSampler(g prometheus.Gatherer, n int) *sampler {
	return &sampler{g: g, ring: make([]sample, n)}
}

func (s *sampler) take(at time.Time) {
	f, _ := gather(s.g) // a partial gather still has the counters that worked
	s.add(takeSample(f, at))
}

func (s *sampler) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = x
	s.next = (s.next + 1) % len(s.ring)
	if s.next == 0 {
		s.full = true
	}
}

// history returns the samples, oldest first.
func (s *sampler) history() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		return append([]sample(nil), s.ring[:s.next]...)
	}
	return append(append([]sample(nil), s.ring[s.next:]...), s.ring[:s.next]...)
}

// rate is the per-second change of one counter between two samples;
// counters reset by a restart count from zero.
func rate(a, b sample, get func(sample) float64) float64 {
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 {
		return 0
	}
	d := get(b) - get(a)
	if d < 0 {
		d = get(b)
	}
	return d / dt
}
