package policy

import (
	"slices"
	"time"

	"gatehouse/blocklists"
	"gatehouse/policy/override"
	"gatehouse/policy/schedule"
	"gatehouse/safesearch"
)

// groupOverrides are one group's overrides in force when the snapshot was
// made, compiled for Decide. Each keeps its end time: Decide ignores the
// expired ones by itself, so an override stops at Until to the second
// even before the reload loop drops it.
type groupOverrides struct {
	domains []domainOverride // in creation order: a later one wins a tie
	cats    []categoryOverride
}

type domainOverride struct {
	suffix string // canonical, with the trailing dot
	allow  bool
	until  time.Time
	list   string // "override <id>", built once here, never per query
}

type categoryOverride struct {
	mask     blocklists.Mask // the block lists of the category
	allow    bool
	until    time.Time
	category string
	list     string
}

// WithOverrides returns a copy of s with ovs as the overrides in force
// (replacing any s had). Overrides for a group s does not define (the
// config dropped it), of a locked category, or already ended at now are
// left out, as are category overrides when no list (of names or addresses) has that category.
// Everything else is shared with s.
func (s *Snapshot) WithOverrides(ovs []override.Override, now time.Time) *Snapshot {
	c := *s
	c.overrides = nil
	c.groups = make(map[string]*group, len(s.groups))
	for name, g := range s.groups {
		cg := *g
		cg.ov = nil
		c.groups[name] = &cg
	}
	for _, o := range ovs {
		g := c.groups[o.Group]
		if g == nil || !o.Active(now) {
			continue
		}
		list := "override " + o.ID
		allow := o.Action == override.Allow
		if o.Domain != "" {
			name, err := blocklists.Canonical(o.Domain)
			if err != nil {
				continue
			}
			if g.ov == nil {
				g.ov = new(groupOverrides)
			}
			g.ov.domains = append(g.ov.domains, domainOverride{suffix: name, allow: allow, until: o.Until, list: list})
		} else {
			cat, err := blocklists.ParseCategory(o.Category)
			if err != nil || cat.Locked() || s.lists == nil {
				continue
			}
			mask := s.lists.CategoryMask(cat) &^ s.lists.LockedMask()
			if mask == 0 && s.ans.ipCats[cat.String()] == 0 {
				continue // no list of the category, names or addresses (answer.go)
			}
			if g.ov == nil {
				g.ov = new(groupOverrides)
			}
			g.ov.cats = append(g.ov.cats, categoryOverride{mask: mask, allow: allow, until: o.Until, category: cat.String(), list: list})
		}
		c.overrides = append(c.overrides, o)
	}
	return &c
}

// Overrides returns the overrides compiled into s (those in force when it
// was made; some may have expired since), oldest first.
func (s *Snapshot) Overrides() []override.Override { return slices.Clone(s.overrides) }

// HasGroup reports whether a group called name is defined
// (override.Policy).
func (s *Snapshot) HasGroup(name string) bool { return s.groups[name] != nil }

// LockedListed returns the locked list that lists domain (canonical), a
// name above it, or the names below it by a wildcard entry
// (override.Policy): an allow override there would be pointless at best,
// since Decide applies locked lists first, and is refused.
func (s *Snapshot) LockedListed(domain string) (string, bool) {
	if s.lists == nil {
		return "", false
	}
	for _, n := range [...]string{domain, "x." + domain} {
		if m := s.lists.Match(n, 0, 0); m.Locked {
			return s.listNames[m.List], true
		}
	}
	return "", false
}

// decideOverride applies g's overrides to name at now (step 2 of Decide).
// m is the list match against block, the group's block lists in force.
// It returns the decision when an override decides; otherwise it returns
// ok false and the block lists and match the rest of Decide should use
// (category allow overrides take their lists out).
func (s *Snapshot) decideOverride(g *group, name string, m blocklists.Match, block blocklists.Mask, now time.Time) (d Decision, ok bool, _ blocklists.Match, _ blocklists.Mask) {
	ov := g.ov
	// The most specific domain override decides; the later of two for the
	// same domain wins.
	var best *domainOverride
	for i := range ov.domains {
		o := &ov.domains[i]
		if !now.Before(o.until) {
			continue
		}
		if _, in := under(name, o.suffix); in && (best == nil || len(o.suffix) >= len(best.suffix)) {
			best = o
		}
	}
	if best != nil {
		d := Decision{Reason: ReasonOverride, Category: "override", List: best.list, Matched: name[len(name)-len(best.suffix):],
			TTLCap: schedule.CapTTL(^uint32(0), now, best.until)}
		if best.allow {
			return s.allowedByOverride(g, name, d, now), true, m, block
		}
		d.Action, d.Style = Block, g.style
		return d, true, m, block
	}
	if s.lists == nil || len(ov.cats) == 0 {
		return Decision{}, false, m, block
	}
	allowMask, blockMask := ov.categoryMasks(now)
	if blockMask != 0 {
		if bm := s.lists.Match(name, blockMask, 0); bm.Action == blocklists.Block || bm.Action == blocklists.NoData {
			if o := g.ov.category(bm.List, false, now); o != nil {
				d := Decision{Action: Block, Reason: ReasonOverride, Style: g.style, Category: o.category, List: o.list, Matched: bm.Suffix,
					TTLCap: schedule.CapTTL(^uint32(0), now, o.until)}
				if bm.Action == blocklists.NoData {
					d.Style = StyleNODATA
				}
				return d, true, m, block
			}
		}
	}
	if allowMask != 0 && m.Action != blocklists.Allow && m.Lists&allowMask != 0 {
		// Blocked by a list of a category allowed for now: allowed,
		// unless a list of another category blocks it too.
		o := g.ov.category(m.List, true, now)
		matched := m.Suffix
		block &^= allowMask
		m = s.lists.Match(name, block, g.allow)
		if o != nil && m.Action != blocklists.Block && m.Action != blocklists.NoData {
			d := Decision{Reason: ReasonOverride, Category: o.category, List: o.list, Matched: matched,
				TTLCap: schedule.CapTTL(^uint32(0), now, o.until)}
			return s.allowedByOverride(g, name, d, now), true, m, block
		}
	}
	return Decision{}, false, m, block
}

// categoryMasks returns the lists that category overrides in force at now
// allow and block.
func (ov *groupOverrides) categoryMasks(now time.Time) (allow, block blocklists.Mask) {
	if ov == nil {
		return 0, 0
	}
	for i := range ov.cats {
		if o := &ov.cats[i]; now.Before(o.until) {
			if o.allow {
				allow |= o.mask
			} else {
				block |= o.mask
			}
		}
	}
	return allow, block
}

// nextEnd is when the first category override in force at now ends (zero
// when none is).
func (ov *groupOverrides) nextEnd(now time.Time) time.Time {
	var end time.Time
	for i := range ov.cats {
		if o := &ov.cats[i]; now.Before(o.until) && (end.IsZero() || o.until.Before(end)) {
			end = o.until
		}
	}
	return end
}

// minTTLCap combines TTL caps, where 0 means none.
func minTTLCap(a, b uint32) uint32 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// category returns the active category override of the wanted action
// whose lists include id.
func (ov *groupOverrides) category(id blocklists.ListID, allow bool, now time.Time) *categoryOverride {
	var found *categoryOverride
	for i := range ov.cats {
		if o := &ov.cats[i]; o.allow == allow && o.mask.Has(id) && now.Before(o.until) {
			found = o // the latest wins, as for domains
		}
	}
	return found
}

// allowedByOverride turns d into an Allow, except that a safe search
// rewrite still applies: an override lifts blocks, it does not switch off
// YouTube's restricted mode or Google's SafeSearch (change the group's
// safe_search for that).
func (s *Snapshot) allowedByOverride(g *group, name string, d Decision, now time.Time) Decision {
	if r, ok := s.safeSearch.Decide(name, g.safeSearch); ok && r.Action == safesearch.Rewrite {
		return Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: string(r.Provider), Matched: r.Match, Target: r.Target, TTLCap: d.TTLCap}
	}
	d.Action = Allow
	return d
}
