package safeguarding

import (
	"time"

	"gatehouse/querylog"
)

// Signal reports whether an entry can raise a concern: a blocked lookup or
// a bypass attempt with a category. Allowed, rewritten and failed lookups
// never do.
func Signal(e *querylog.Entry) bool {
	return (e.Decision == querylog.Blocked || e.Decision == querylog.BypassAttempt) && e.Category != ""
}

// DeviceKey is how the detector tells devices apart: the MAC address when
// the DHCP lease gives one (it survives an address change), else the
// address.
func DeviceKey(e *querylog.Entry) string {
	if e.MAC != "" {
		return "mac " + e.MAC
	}
	return "addr " + e.Client.String()
}

// Key is one device and category: the unit of thresholds and
// de-duplication.
type Key struct {
	Device, Category string
}

// Verdict says what one entry did.
type Verdict uint8

// Verdicts.
const (
	Ignored Verdict = iota // not a signal, priority none, or below threshold
	Raise                  // a new concern, with Outcome.Evidence
	Join                   // evidence for the device's open concern in this category
)

// Outcome is the detector's answer for one entry.
type Outcome struct {
	Verdict  Verdict
	Key      Key
	Priority Priority
	Rule     Rule
	// Evidence is, for Raise, the hits that reached the threshold (oldest
	// first) and, for Join, the entry itself.
	Evidence []querylog.Entry
	// Concern is the open concern a Join belongs to (set by Bind).
	Concern int64
}

// Detector applies the alert rules to a stream of entries in time order.
// It is a plain value used by one goroutine; memory is bounded by MaxKeys
// tracks of at most one rule's threshold entries each.
type Detector struct {
	// MaxKeys bounds the devices × categories tracked at once; entries
	// for new keys beyond it are ignored and counted in Overflow.
	MaxKeys  int
	Overflow uint64

	tracks map[Key]*track
}

type track struct {
	hits    []querylog.Entry // within the window, oldest first, at most threshold
	until   time.Time        // hits before this join the open concern
	concern int64
	last    time.Time
	window  time.Duration
}

// DefaultMaxKeys is the Detector's default bound.
const DefaultMaxKeys = 100_000

// Observe runs one entry through the rules of s.
func (d *Detector) Observe(e querylog.Entry, s *Settings) Outcome {
	if !Signal(&e) {
		return Outcome{}
	}
	p := s.priorityOf(e.Category)
	if p == None {
		return Outcome{}
	}
	r, ok := s.ruleFor(e.Category, p)
	if !ok {
		return Outcome{}
	}
	k := Key{Device: DeviceKey(&e), Category: e.Category}
	if d.tracks == nil {
		d.tracks = map[Key]*track{}
	}
	t := d.tracks[k]
	if t == nil {
		limit := d.MaxKeys
		if limit <= 0 {
			limit = DefaultMaxKeys
		}
		if len(d.tracks) >= limit {
			d.Prune(e.Time)
			if len(d.tracks) >= limit {
				d.Overflow++
				return Outcome{}
			}
		}
		t = &track{}
		d.tracks[k] = t
	}
	now := e.Time
	window := time.Duration(r.Window)
	t.last, t.window = now, window
	if now.Before(t.until) && t.concern != 0 {
		return Outcome{Verdict: Join, Key: k, Priority: p, Rule: r, Evidence: []querylog.Entry{e}, Concern: t.concern}
	}
	// Keep only hits inside the window ending now.
	keep := t.hits[:0]
	for _, h := range t.hits {
		if now.Sub(h.Time) < window {
			keep = append(keep, h)
		}
	}
	t.hits = append(keep, e)
	if len(t.hits) > r.Threshold {
		t.hits = t.hits[len(t.hits)-r.Threshold:]
	}
	if len(t.hits) < r.Threshold {
		return Outcome{Verdict: Ignored, Key: k, Priority: p, Rule: r}
	}
	ev := append([]querylog.Entry(nil), t.hits...)
	t.hits = t.hits[:0]
	t.until, t.concern = now.Add(window), 0
	return Outcome{Verdict: Raise, Key: k, Priority: p, Rule: r, Evidence: ev}
}

// Bind records the concern a Raise became, so later hits join it.
func (d *Detector) Bind(k Key, concern int64) {
	if t := d.tracks[k]; t != nil {
		t.concern = concern
	}
}

// Restore re-opens a concern for later hits until until: after a restart,
// retries of a page that raised a concern before it still join it.
func (d *Detector) Restore(k Key, concern int64, until time.Time, window time.Duration) {
	if d.tracks == nil {
		d.tracks = map[Key]*track{}
	}
	d.tracks[k] = &track{until: until, concern: concern, last: until.Add(-window), window: window}
}

// Prune forgets tracks with nothing in their window at now.
func (d *Detector) Prune(now time.Time) {
	for k, t := range d.tracks {
		if now.Sub(t.last) >= t.window && !now.Before(t.until) {
			delete(d.tracks, k)
		}
	}
}

// Len is the number of tracks held.
func (d *Detector) Len() int { return len(d.tracks) }
