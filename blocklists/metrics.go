package blocklists

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the blocklists metrics (gatehouse_blocklists_*). Their list
// labels are list names from the configuration, so bounded by it; the
// version label holds one value per locked list at a time. A nil *Metrics
// records nothing.
type Metrics struct {
	entries      *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	failures     *prometheus.CounterVec
	lockedLoaded *prometheus.GaugeVec
	lockedInfo   *prometheus.GaugeVec

	mu      sync.Mutex
	lists   map[string]bool // lists with an entries series
	locked  map[string]lockedSeries
	remotes map[string]bool // lists with refresh series
}

// lockedSeries is what the metrics show of one locked list.
type lockedSeries struct {
	version string
	loaded  time.Time
}

// failureReasons are the values of the reason label.
func failureReasons() []string {
	return []string{ReasonHTTPStatus, ReasonTooSmall, ReasonNotAList, ReasonNetwork, ReasonTooLarge, ReasonStorage}
}

// NewMetrics registers the blocklists metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "gatehouse", "blocklists"
	m := &Metrics{
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "entries",
			Help: "Distinct entries of each list in the Set in force."}, []string{"list"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_refresh_success_timestamp_seconds",
			Help: "When each downloaded list was last downloaded or confirmed unchanged by its server."}, []string{"list"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "refresh_failures_total",
			Help: "Failed or rejected refreshes of each downloaded list, by reason; the last good copy stays in force."}, []string{"list", "reason"}),
		lockedLoaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "locked_list_loaded_timestamp_seconds",
			Help: "When the version in force of each locked-category list (IWF, CTIRU) was loaded."}, []string{"list"}),
		lockedInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "locked_list_info",
			Help: "The version in force of each locked-category list: the first 12 hex digits of its SHA-256, or local for a local file."}, []string{"list", "version"}),
		lists:   map[string]bool{},
		locked:  map[string]lockedSeries{},
		remotes: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.entries, m.lastSuccess, m.failures, m.lockedLoaded, m.lockedInfo} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering blocklists metrics: %w", err)
		}
	}
	return m, nil
}

// SetLists shows the lists of the Set just put in force: call it after
// each successful build with the Set's Lists. store (which may be nil)
// gives the versions of downloaded locked lists; other locked lists show
// version "local". A locked list's load time moves when its entries were
// read anew, not when they were carried over. Lists no longer present
// lose their series.
func (m *Metrics) SetLists(infos []ListInfo, store *Store) {
	if m == nil {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, info := range infos {
		seen[info.Name] = true
		m.lists[info.Name] = true
		m.entries.WithLabelValues(info.Name).Set(float64(info.Entries))
		if !info.Category.Locked() {
			continue
		}
		version := "local"
		if store != nil {
			if meta, err := store.Meta(info.Name); err == nil && slices.Contains(info.Sources, redactURL(meta.URL)) {
				version = meta.Version()
			}
		}
		old, had := m.locked[info.Name]
		loaded := now
		if had && info.Reused && old.version == version {
			loaded = old.loaded
		}
		if had && old.version != version {
			m.lockedInfo.DeleteLabelValues(info.Name, old.version)
		}
		m.locked[info.Name] = lockedSeries{version: version, loaded: loaded}
		m.lockedInfo.WithLabelValues(info.Name, version).Set(1)
		m.lockedLoaded.WithLabelValues(info.Name).Set(float64(loaded.UnixNano()) / 1e9)
	}
	for name := range m.lists {
		if !seen[name] {
			delete(m.lists, name)
			m.entries.DeleteLabelValues(name)
		}
	}
	for name, old := range m.locked {
		if !seen[name] || !infoLocked(infos, name) {
			delete(m.locked, name)
			m.lockedInfo.DeleteLabelValues(name, old.version)
			m.lockedLoaded.DeleteLabelValues(name)
		}
	}
}

func infoLocked(infos []ListInfo, name string) bool {
	for _, info := range infos {
		if info.Name == name {
			return info.Category.Locked()
		}
	}
	return false
}

// setRemotes starts the refresh series of the downloaded lists (failure
// counters at zero, the last success from the stored copy) and removes
// those of lists no longer downloaded.
func (m *Metrics) setRemotes(lists []*remoteState) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[string]bool{}
	for _, l := range lists {
		now[l.Name] = true
		m.remotes[l.Name] = true
		for _, reason := range failureReasons() {
			m.failures.WithLabelValues(l.Name, reason)
		}
		if !l.st.LastSuccess.IsZero() {
			m.lastSuccess.WithLabelValues(l.Name).Set(float64(l.st.LastSuccess.UnixNano()) / 1e9)
		}
	}
	for name := range m.remotes {
		if !now[name] {
			delete(m.remotes, name)
			m.lastSuccess.DeleteLabelValues(name)
			m.failures.DeletePartialMatch(prometheus.Labels{"list": name})
		}
	}
}

func (m *Metrics) refreshed(list string, at time.Time) {
	if m != nil {
		m.lastSuccess.WithLabelValues(list).Set(float64(at.UnixNano()) / 1e9)
	}
}

func (m *Metrics) refreshFailed(list, reason string) {
	if m != nil {
		m.failures.WithLabelValues(list, reason).Inc()
	}
}
