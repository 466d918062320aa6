package dashboard

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/querylog"
)

// statusView is the status page.
type statusView struct {
	Problems []problem
	Started  time.Time
	Version  string
	Mode     string

	QPS          float64 // over the last sample interval
	QPSChart     chart
	Window       string  // the span the rates below cover, e.g. "last 60 min"
	CacheHitRate float64 // NaN when nothing was asked
	BlockedShare float64
	CacheEntries float64
	MemoryBytes  float64

	Upstreams []upstreamView
	Recursion *recursionView

	Lists  []listView
	Leases []LeaseStatus

	Generation uint64
	LastReload Reload
	Reloads    map[string]float64

	QueryLog *querylog.Status
	Disk     *diskView

	// CanAccept shows the lists' "Accept" buttons, which post CSRF.
	CanAccept bool
	CSRF      string
}

type problem struct {
	Severe bool
	Text   string
	Link   string // a page that shows more, "" for none
}

type upstreamView struct {
	Addr    string
	Healthy bool
}

type recursionView struct {
	SuccessRate float64 // of exchanges in the window; NaN without any
	Exchanges   float64
}

type listView struct {
	ListStatus
	Entries float64
}

type diskView struct {
	Dir        string
	Free, Size uint64
	FreeShare  float64
}

// Thresholds for problems.
const (
	diskLowShare       = 0.10
	diskLowBytes       = 256 << 20
	recursionMinSample = 20
	recursionLowRate   = 0.5
)

func (d *Dashboard) status(w http.ResponseWriter, r *http.Request) {
	v := d.buildStatus()
	v.Problems = append(v.Problems, d.safeguardingProblems(r.Context())...)
	sess := sessionFrom(r.Context())
	if _, ok := d.cfg.Control.(ListAccepter); ok && can(sess.Role, permPolicy) {
		v.CanAccept, v.CSRF = true, sess.CSRF
	}
	d.render(w, r, sess, http.StatusOK, "status", v)
}

func (d *Dashboard) buildStatus() statusView {
	now := d.now()
	f, gerr := gather(d.cfg.Metrics)
	st := d.cfg.Site.Status()
	cfg := d.cfg.Site.Config()
	v := statusView{
		Started: st.Started, Version: st.Version, Mode: string(cfg.Resolver.Mode),
		Generation: st.Generation, LastReload: st.LastReload,
		CacheEntries: f.sum(mCacheEntries), MemoryBytes: f.sum(mResidentBytes),
		Reloads: f.byLabel(mReloads, "result"), Leases: st.Leases,
	}
	if gerr != nil {
		v.Problems = append(v.Problems, problem{Text: "Some metrics could not be read: " + gerr.Error()})
	}

	// Rates: the last interval for q/s, the whole history for shares.
	hist := append(d.samples.history(), takeSample(f, now))
	first, last := hist[0], hist[len(hist)-1]
	if len(hist) >= 2 {
		v.QPS = rate(hist[len(hist)-2], last, func(s sample) float64 { return s.queries })
	}
	v.Window = "since start"
	if len(hist) >= 2 && last.at.Sub(first.at) > time.Second {
		v.Window = "last " + ago(last.at.Sub(first.at))
		v.Window = strings.TrimSuffix(v.Window, " ago")
	}
	v.CacheHitRate = share(last.hits-first.hits, last.hits+last.misses-first.hits-first.misses)
	v.BlockedShare = share(last.blocked-first.blocked, last.decided-first.decided)
	if len(hist) == 1 || last.decided-first.decided <= 0 {
		v.CacheHitRate = share(last.hits, last.hits+last.misses)
		v.BlockedShare = share(last.blocked, last.decided)
	}
	v.QPSChart = qpsChart(hist, d.cfg.Location)

	healthy := f.byLabel(mUpstreamOK, "upstream")
	var down []string
	for addr, h := range healthy {
		v.Upstreams = append(v.Upstreams, upstreamView{Addr: addr, Healthy: h > 0})
		if h <= 0 {
			down = append(down, addr)
		}
	}
	slices.SortFunc(v.Upstreams, func(a, b upstreamView) int { return strings.Compare(a.Addr, b.Addr) })
	slices.Sort(down)
	if len(down) > 0 {
		severe := len(down) == len(healthy)
		msg := "Upstream servers not answering: " + strings.Join(down, ", ") + "."
		if severe && cfg.Resolver.Mode == "forward" {
			msg += " No upstream is healthy: names not in the cache cannot be resolved."
		}
		v.Problems = append(v.Problems, problem{Severe: severe, Text: msg})
	}
	if cfg.Resolver.Mode == "recursive" {
		rv := &recursionView{Exchanges: last.recAll - first.recAll, SuccessRate: share(last.recOK-first.recOK, last.recAll-first.recAll)}
		v.Recursion = rv
		if rv.Exchanges >= recursionMinSample && rv.SuccessRate < recursionLowRate {
			v.Problems = append(v.Problems, problem{Severe: rv.SuccessRate < 0.1,
				Text: "Recursion is failing: only " + pctText(rv.SuccessRate) + " of queries to authoritative servers succeeded " + v.Window + ". Check the internet connection and firewall (UDP and TCP port 53 outbound)."})
		}
	}

	if st.LastReload.Err != "" {
		v.Problems = append(v.Problems, problem{Text: "The last configuration reload failed (" + st.LastReload.At.In(d.cfg.Location).Format("15:04:05") + "): " + st.LastReload.Err + ". The previous configuration is still in force."})
	}
	entries := f.byLabel(mListEntries, "list")
	for _, l := range st.Lists {
		lv := listView{ListStatus: l, Entries: float64(l.Entries)}
		if e, ok := entries[l.Name]; ok {
			lv.Entries = e
		}
		v.Lists = append(v.Lists, lv)
		if l.LastError != "" {
			text := "List " + l.Name + ": " + l.LastError + ". The last good copy is still in use."
			if l.HeldVersion != "" {
				text += " The new download (" + itoa(l.HeldLines) + " lines) is held: if the list really shrank, accept it in the Lists table or with \"gatehouse lists accept " + l.Name + "\"."
			}
			v.Problems = append(v.Problems, problem{Severe: l.Locked, Text: text})
		}
		if l.Locked && lv.Entries == 0 {
			v.Problems = append(v.Problems, problem{Severe: true, Text: "Locked list " + l.Name + " (" + l.Category + ") has no entries: illegal content is not being blocked."})
		}
	}
	for _, l := range st.Leases {
		if l.Err != "" {
			v.Problems = append(v.Problems, problem{Text: "Lease file " + l.Path + ": " + l.Err + ". Devices may be shown without names and fall into subnet groups."})
		}
	}

	if d.cfg.QueryLog != nil {
		qs := d.cfg.QueryLog.Status()
		v.QueryLog = &qs
		if qs.Failing {
			v.Problems = append(v.Problems, problem{Severe: true, Text: "The query log cannot write: " + qs.LastError + "."})
		}
		if dropped := last.qlDropped - first.qlDropped; dropped > 0 && len(hist) > 1 {
			v.Problems = append(v.Problems, problem{Text: "The query log dropped " + itoa(int(dropped)) + " entries " + v.Window + " (queue full or write errors)."})
		}
	}
	if st.StateDir != "" {
		if free, size, err := diskUsage(st.StateDir); err == nil && size > 0 {
			v.Disk = &diskView{Dir: st.StateDir, Free: free, Size: size, FreeShare: float64(free) / float64(size)}
			if v.Disk.FreeShare < diskLowShare || free < diskLowBytes {
				v.Problems = append(v.Problems, problem{Severe: free < diskLowBytes/4,
					Text: "Disk space is low: " + humanBytes(int64(free)) + " free on the disk holding " + st.StateDir + "."})
			}
		}
	}
	slices.SortStableFunc(v.Problems, func(a, b problem) int {
		switch {
		case a.Severe && !b.Severe:
			return -1
		case b.Severe && !a.Severe:
			return 1
		}
		return 0
	})
	return v
}

func share(part, whole float64) float64 {
	if whole <= 0 {
		return math.NaN()
	}
	return part / whole
}

func pctText(f float64) string {
	return funcs["pct"].(func(float64) string)(f)
}
