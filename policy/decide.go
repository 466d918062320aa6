package policy

import (
	"fmt"
	"time"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/policy/schedule"
	"gatehouse/safesearch"
)

// Reason says which kind of rule decided: a bounded set, so it can label
// metrics.
type Reason uint8

// Reasons.
const (
	ReasonNone       Reason = iota
	ReasonBypass            // an anti-bypass rule (DoH canary, Private Relay, DDR) or a bypass-category list
	ReasonSafeSearch        // safe search: a rewrite, or an engine without a safe mode
	ReasonList              // a block list
	ReasonLocked            // a locked category (iwf, ctiru): nobody can allow it
	ReasonAllowlist         // an allow entry
	ReasonSchedule          // a list active only in some periods
	ReasonOverride          // a temporary override (Decision.List says which)

	// NumReasons is one more than the largest Reason, for arrays indexed
	// by it.
	NumReasons = int(ReasonOverride) + 1
)

var reasonNames = [...]string{"none", "bypass", "safesearch", "list", "locked", "allowlist", "schedule", "override"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	if name, ok := answerReasonString(r); ok {
		return name
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Style is how a blocked name is answered.
type Style uint8

// Styles.
const (
	// StyleNXDOMAIN: the name does not exist (with our SOA, so the negative
	// answer is cached only for the block TTL).
	StyleNXDOMAIN Style = iota
	// StyleNull: 0.0.0.0 for A, :: for AAAA, no data for other types.
	StyleNull
	// StyleBlockPage: Gatehouse's own address for A and AAAA, where the
	// block page explains; no data for other types.
	StyleBlockPage
	// StyleNODATA: the name exists but has no records of the type (used
	// for DDR's _dns.resolver.arpa, answered locally).
	StyleNODATA
)

// ParseStyle reads a config block_answer value.
func ParseStyle(s string) (Style, error) {
	switch s {
	case "nxdomain":
		return StyleNXDOMAIN, nil
	case "null":
		return StyleNull, nil
	case "blockpage":
		return StyleBlockPage, nil
	}
	return 0, fmt.Errorf("unknown block answer %q", s)
}

// group is one group's compiled policy.
type group struct {
	name         string
	style        Style
	safeSearch   safesearch.Settings
	bypassExempt bool
	block, allow blocklists.Mask // lists selected at all times
	timed        []timedBlock
	timedAll     blocklists.Mask // every list some timed block adds
	ov           *groupOverrides // nil: none (the common case costs one test)
	ans          groupAnswer     // answer-side checks (answer.go)
}

// bypassRule is one built-in anti-bypass rule (safesearch.md section 3).
type bypassRule struct {
	name  string // canonical; the rule covers the name and everything below
	kind  string // the decision's category: reports count attempts per kind
	list  string // what the log calls it
	style Style
}

// bypassRules are on for every group unless it is exempt. Each is its own
// logged decision, so attempts can be counted per device.
var bypassRules = [...]bypassRule{
	// Firefox turns its default DNS over HTTPS off when this does not
	// resolve (support.mozilla.org "canary domain").
	{"use-application-dns.net.", "doh-canary", "firefox-doh-canary", StyleNXDOMAIN},
	// iCloud Private Relay: Apple asks networks that must audit traffic
	// to answer these with NXDOMAIN or no data, not to time out.
	{"mask.icloud.com.", "private-relay", "icloud-private-relay", StyleNXDOMAIN},
	{"mask-h2.icloud.com.", "private-relay", "icloud-private-relay", StyleNXDOMAIN},
	// DDR (RFC 9462): answered here with no data, so devices are never
	// told of a public encrypted resolver to upgrade to.
	{"_dns.resolver.arpa.", "ddr", "ddr", StyleNODATA},
}

// Decide is the policy decision for one question from one client at now. It
// is pure (no I/O, no clock) and does not allocate. name is canonical (lower
// case, fully qualified) and must not be retained: it may point into a
// reused buffer; Decision.Matched is a substring of it.
//
// Precedence, first match wins:
//
//	| order | check                                      | result                          |
//	|-------|--------------------------------------------|---------------------------------|
//	| 1     | a locked list (iwf, ctiru) lists the name  | block; nothing can allow it     |
//	| 1a    | a temporary override of the group:         |                                 |
//	|       |   the most specific domain override        | allow or block                  |
//	|       |   a block override of a category listing it| block (group's style)           |
//	|       |   an allow override of the category of     | allow, unless a list of another |
//	|       |   every block list that matches            | category the group blocks       |
//	|       |                                            | matches too (then on to 2)      |
//	|       |   (an allowed name that safe search        | rewrite, as in 3                |
//	|       |   rewrites is still rewritten)             |                                 |
//	| 2     | anti-bypass rule, group not exempt         | block (NXDOMAIN; DDR: NODATA)   |
//	| 3     | safe search: provider on for the group     | rewrite to the safe host        |
//	|       | engine without a safe mode, on             | block (group's style)           |
//	| 4     | an allow entry of the group                | allow                           |
//	| 5     | a block list of the group, or one a timed  | block (group's style; RPZ NODATA|
//	|       | block adds during its periods, or the      | entries answer no data)         |
//	|       | built-in public DoH/DoT resolver list      |                                 |
//	|       | (unless the group is bypass-exempt)        |                                 |
//	| 6     | otherwise                                  | pass                            |
//
// The most specific entry explains a list decision (blocklists.Set.Match).
// When the name is on a list that a timed block switches, TTLCap is set to
// the time left to the next edge, so no device keeps the answer past it;
// an override's decision is capped at the override's end the same way.
func (s *Snapshot) Decide(c clientmap.Client, name string, qtype uint16, now time.Time) Decision {
	g := s.groups[c.Group]
	if g == nil {
		g = s.groups[s.defaultGroup]
	}
	var m blocklists.Match
	block := g.block
	if s.lists != nil {
		for i := range g.timed {
			if g.timed[i].active(s.sched, now) {
				block |= g.timed[i].mask
			}
		}
		m = s.lists.Match(name, block, g.allow)
		if m.Locked {
			return s.listDecision(g, m, block)
		}
	}
	if g.ov != nil {
		var d Decision
		var ok bool
		if d, ok, m, block = s.decideOverride(g, name, m, block, now); ok {
			return d
		}
	}
	if !g.bypassExempt {
		for i := range bypassRules {
			r := &bypassRules[i]
			if m, ok := under(name, r.name); ok {
				return Decision{Action: Block, Reason: ReasonBypass, Style: r.style, Category: r.kind, List: r.list, Matched: m}
			}
		}
	}
	if r, ok := s.safeSearch.Decide(name, g.safeSearch); ok {
		d := Decision{Reason: ReasonSafeSearch, Category: "safesearch", List: string(r.Provider), Matched: r.Match}
		switch r.Action {
		case safesearch.Rewrite:
			d.Action, d.Target = Rewrite, r.Target
		default:
			d.Action, d.Style = Block, g.style
		}
		return d
	}
	d := s.listDecision(g, m, block)
	if g.timedAll != 0 && s.lists.Match(name, g.timedAll, 0).Action != blocklists.NoAction {
		// The answer flips at the next edge of a period this name's lists
		// follow: expire it then.
		var edge time.Time
		for i := range g.timed {
			if e := g.timed[i].nextEdge(s.sched, now); !e.IsZero() && (edge.IsZero() || e.Before(edge)) {
				edge = e
			}
		}
		if !edge.IsZero() {
			d.TTLCap = schedule.CapTTL(^uint32(0), now, edge)
		}
	}
	return d
}

// listDecision turns a list match into a decision.
func (s *Snapshot) listDecision(g *group, m blocklists.Match, block blocklists.Mask) Decision {
	if m.Action == blocklists.NoAction {
		return Decision{Action: Pass}
	}
	d := Decision{Category: m.Category.String(), List: s.listNames[m.List], Matched: m.Suffix}
	switch m.Action {
	case blocklists.Allow:
		d.Action, d.Reason = Allow, ReasonAllowlist
	case blocklists.Block, blocklists.NoData:
		d.Action, d.Reason, d.Style = Block, ReasonList, g.style
		if m.Action == blocklists.NoData {
			d.Style = StyleNODATA
		}
		switch {
		case m.Locked:
			d.Reason = ReasonLocked
		case m.Category == blocklists.Bypass:
			// DoH/DoT resolvers, VPN and proxy sites: an attempt to get
			// round the filter, counted as such.
			d.Reason = ReasonBypass
		case m.Lists&g.block == 0 && m.Lists&block != 0:
			d.Reason = ReasonSchedule // only a timed block selected it
		}
	default:
		return Decision{Action: Pass}
	}
	return d
}

// under reports whether name is suffix or below it, returning the part of
// name that matched (a substring: no allocation).
func under(name, suffix string) (string, bool) {
	if len(name) < len(suffix) || name[len(name)-len(suffix):] != suffix {
		return "", false
	}
	if len(name) > len(suffix) && name[len(name)-len(suffix)-1] != '.' {
		return "", false // "xmask.icloud.com." is not under "mask.icloud.com."
	}
	return name[len(name)-len(suffix):], true
}
