package trust

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"gatehouse/querylog"
	"gatehouse/safeguarding"
)

// Version is the summary format's version; a collector refuses others.
const Version = 1

// Share says what a site's summary carries beyond aggregate counts.
type Share string

const (
	// ShareAggregate is counts only: the default.
	ShareAggregate Share = "aggregate"
	// ShareIdentities adds the week's concerns with their devices and
	// bypass attempts per device, for a trust DSL entitled to them.
	ShareIdentities Share = "identities"
)

// ParseShare reads a config value.
func ParseShare(s string) (Share, error) {
	switch Share(s) {
	case ShareAggregate, ShareIdentities:
		return Share(s), nil
	}
	return "", fmt.Errorf("share %q: must be aggregate or identities", s)
}

// Summary is one site's week, as it leaves the site.
type Summary struct {
	Version   int       `json:"version"`
	Site      string    `json:"site"`
	From      time.Time `json:"from"` // the week, [From, To)
	To        time.Time `json:"to"`
	Generated time.Time `json:"generated"`
	Share     Share     `json:"share"`
	// Safeguarding is nil when safeguarding is off at the site.
	Safeguarding *Safeguarding `json:"safeguarding,omitempty"`
	// Filtering is nil when the query log is off at the site.
	Filtering *Filtering `json:"filtering,omitempty"`
	// Identities is set only when Share is ShareIdentities.
	Identities *Identities `json:"identities,omitempty"`
}

// Safeguarding is the week's concerns in counts.
type Safeguarding struct {
	Concerns   int            `json:"concerns"`    // raised in the week
	ByPriority map[string]int `json:"by_priority"` // of the week's concerns
	ByCategory map[string]int `json:"by_category"`
	ByStatus   map[string]int `json:"by_status"`
	Open       int            `json:"open"`    // open now, any week
	Overdue    int            `json:"overdue"` // open and overdue now
	// OverdueByPriority counts the overdue by priority.
	OverdueByPriority map[string]int `json:"overdue_by_priority"`
	Deliveries        Deliveries     `json:"deliveries"`
	AuditHead         string         `json:"audit_head"`
	AuditVerified     bool           `json:"audit_verified"`
	AuditStatus       string         `json:"audit_status"`
}

// Deliveries is alert delivery health. The last error is not included:
// it can name staff mailboxes and webhook addresses.
type Deliveries struct {
	Pending int `json:"pending"`
	Failing int `json:"failing"`
	Dead    int `json:"dead"`
}

// Filtering is the week's query log totals.
type Filtering struct {
	Queries           int64            `json:"queries"`
	Blocked           int64            `json:"blocked"`
	Bypass            int64            `json:"bypass"`
	BlockedByCategory map[string]int64 `json:"blocked_by_category"`
	// BypassByKind is bypass attempts by kind (the category: DoH canary,
	// Private Relay, DoH/VPN endpoints).
	BypassByKind map[string]int64 `json:"bypass_by_kind"`
	ByGroup      []GroupTotals    `json:"by_group"`
}

// GroupTotals is one group's (year group, staff, guests) totals.
type GroupTotals struct {
	Group   string `json:"group"`
	Queries int64  `json:"queries"`
	Blocked int64  `json:"blocked"`
	Bypass  int64  `json:"bypass"`
}

// Identities is what a site shares only to an entitled trust DSL.
type Identities struct {
	Concerns []ConcernDetail `json:"concerns"`
	Bypass   []BypassDetail  `json:"bypass"`
}

// ConcernDetail is one of the week's concerns with its device.
type ConcernDetail struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Priority string    `json:"priority"`
	Category string    `json:"category"`
	Device   string    `json:"device"`
	Group    string    `json:"group"`
	Status   string    `json:"status"`
	Overdue  bool      `json:"overdue"`
}

// BypassDetail is one device's bypass attempts of one kind.
type BypassDetail struct {
	Device string `json:"device"`
	Kind   string `json:"kind"`
	N      int64  `json:"n"`
}

// Build makes a site's summary of [from, to) from what the site already
// reports: the safeguarding engine's weekly summary (nil when off) and
// the query log's report (nil when off). With ShareAggregate nothing that
// names a device or a looked-up name is copied.
func Build(site string, from, to, now time.Time, w *safeguarding.WeeklySummary, q *querylog.Report, share Share) Summary {
	s := Summary{Version: Version, Site: site, From: from, To: to, Generated: now, Share: share}
	if w != nil {
		sg := &Safeguarding{
			Concerns: len(w.Concerns), ByPriority: map[string]int{}, ByCategory: map[string]int{}, ByStatus: map[string]int{},
			Open: w.Open, Overdue: len(w.Overdue), OverdueByPriority: map[string]int{},
			Deliveries: Deliveries{Pending: w.Deliveries.Pending, Failing: w.Deliveries.Failing, Dead: w.Deliveries.Dead},
			AuditHead:  w.AuditHead, AuditStatus: w.AuditStatus,
			AuditVerified: len(w.AuditStatus) >= 8 && w.AuditStatus[:8] == "verified",
		}
		for _, c := range w.Concerns {
			sg.ByPriority[c.Priority.String()]++
			sg.ByCategory[c.Category]++
			sg.ByStatus[string(c.Status)]++
		}
		for _, c := range w.Overdue {
			sg.OverdueByPriority[c.Priority.String()]++
		}
		s.Safeguarding = sg
		if q == nil {
			q = w.QueryLog
		}
	}
	if q != nil {
		f := &Filtering{Queries: q.Total, BlockedByCategory: map[string]int64{}, BypassByKind: map[string]int64{}}
		for _, g := range q.ByGroup {
			f.Blocked += g.Blocked
			f.Bypass += g.Bypass
			f.ByGroup = append(f.ByGroup, GroupTotals{Group: g.Group, Queries: g.Queries, Blocked: g.Blocked, Bypass: g.Bypass})
		}
		for _, c := range q.BlockedByCategory {
			f.BlockedByCategory[c.Key] += c.N
		}
		for _, b := range q.Bypass {
			f.BypassByKind[b.Category] += b.N
		}
		s.Filtering = f
	}
	if share == ShareIdentities {
		id := &Identities{Concerns: []ConcernDetail{}, Bypass: []BypassDetail{}}
		if w != nil {
			for _, c := range w.Concerns {
				id.Concerns = append(id.Concerns, ConcernDetail{ID: c.ID, Time: c.Time, Priority: c.Priority.String(), Category: c.Category,
					Device: c.Device.String(), Group: c.Device.Group, Status: string(c.Status), Overdue: c.Overdue})
			}
		}
		if q != nil {
			for _, b := range q.Bypass {
				id.Bypass = append(id.Bypass, BypassDetail{Device: b.Client.String(), Kind: b.Category, N: b.N})
			}
		}
		s.Identities = id
	}
	return s
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
