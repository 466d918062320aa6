package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/geoip"
	"gatehouse/policy/schedule"
)

// Answer-side reasons: the answer, not the question, decided. They follow
// the name-side reasons, so they extend the bounded set metrics use.
const (
	ReasonCNAME     Reason = iota + 64 // a CNAME or DNAME target is on a block list
	ReasonAddress                      // an answer address is on an address list
	ReasonGeo                          // an answer address is in a blocked country or network (ASN)
	ReasonRebinding                    // a public name points at a private address
)

var answerReasonNames = [...]string{"cname", "address", "geoip", "rebinding"}

// AnswerSide reports whether r is one of the answer-side reasons.
func (r Reason) AnswerSide() bool { return r >= ReasonCNAME && r <= ReasonRebinding }

// answerReasonString names answer-side reasons for Reason.String.
func answerReasonString(r Reason) (string, bool) {
	if r.AnswerSide() {
		return answerReasonNames[r-ReasonCNAME], true
	}
	return "", false
}

// AnswerOptions are the snapshot-wide inputs of answer-side checks.
type AnswerOptions struct {
	// Addresses are the compiled address lists; their IDs share the
	// ListID space of Options.Lists, so groups' Block masks select them.
	Addresses *blocklists.IPSet
	// Countries and ASNs index the GeoIP databases (nil: none).
	Countries, ASNs *geoip.Index
	// Internal are canonical domains whose names may point at private
	// addresses: conditional-forward domains, local zones, the school's
	// internal domains. Rebinding protection leaves names under them alone.
	Internal []string
	// Warnings say what was kept from the previous snapshot because it
	// failed to load (a GeoIP database being replaced, say).
	Warnings []string
}

// GroupAnswerOptions are one group's answer-side settings.
type GroupAnswerOptions struct {
	// BlockRebinding blocks public names answered with private, loopback,
	// link-local or unique-local addresses.
	BlockRebinding bool
	// Countries (two-letter codes) and ASNs whose addresses are blocked.
	Countries []string
	ASNs      []uint32
}

// answerPolicy is the compiled, snapshot-wide part of answer-side checks.
type answerPolicy struct {
	ips             *blocklists.IPSet
	ipCats          map[string]blocklists.Mask // address lists by category name, for overrides
	countries, asns *geoip.Index
	internal        []string
	warnings        []string
}

// groupAnswer is one group's compiled answer-side settings. The texts are
// built once here, so a block decision carries them without formatting.
type groupAnswer struct {
	rebinding   bool
	countries   []uint32 // sorted geoip.CountryCode values
	countryText []string // "country KP", parallel to countries
	asns        []uint32 // sorted
	asnText     []string // "AS64500", parallel to asns
}

func newGroupAnswer(o GroupAnswerOptions) (groupAnswer, error) {
	ga := groupAnswer{rebinding: o.BlockRebinding}
	for _, cc := range o.Countries {
		v, err := geoip.CountryCode(cc)
		if err != nil {
			return ga, err
		}
		ga.countries = append(ga.countries, v)
	}
	slices.Sort(ga.countries)
	ga.countries = slices.Compact(ga.countries)
	for _, v := range ga.countries {
		ga.countryText = append(ga.countryText, "country "+geoip.CountryString(v))
	}
	ga.asns = slices.Compact(slices.Sorted(slices.Values(o.ASNs)))
	for _, v := range ga.asns {
		ga.asnText = append(ga.asnText, "AS"+strconv.FormatUint(uint64(v), 10))
	}
	return ga, nil
}

// DecideAnswer is the answer-side decision for an answer to name: its
// CNAME and DNAME targets and its A and AAAA addresses, in answer order. d
// is the decision Decide made for the question. Answers from the cache are
// decided again on every hit, so a policy change applies at once. It is
// pure and does not allocate unless it blocks.
//
// Only Pass and Allow decisions are checked; any other d is returned as it
// is (blocks are answered before resolution; rewrites are our own). For
// Allow (an allow entry names the question) only locked lists are
// checked: nothing allows IWF or CTIRU content, even behind a CNAME.
//
// Precedence, first match wins:
//
//	| order | check                                        | decision                    |
//	|-------|----------------------------------------------|-----------------------------|
//	| 1     | a target is on a list the group blocks       | block, ReasonCNAME (locked  |
//	|       | (name-list semantics: allow entries win;     | lists: ReasonLocked);       |
//	|       | locked lists always apply), in answer order  | Matched "cname target X"    |
//	| 2     | an address is on an address list the group   | block, ReasonAddress;       |
//	|       | blocks (locked address lists always apply)   | Matched the entry (CIDR)    |
//	| 3     | an address is in a country the group blocks  | block, ReasonGeo,           |
//	|       |                                              | Matched "country KP"        |
//	| 4     | an address is in an ASN the group blocks     | block, ReasonGeo, "AS64500" |
//	| 5     | block_rebinding, the name is not internal,   | block, ReasonRebinding,     |
//	|       | and an address is private/loopback/link-     | Matched "private 10.0.0.0/8"|
//	|       | local/unique-local/unspecified/CGNAT         |                             |
//	| 6     | otherwise                                    | d                           |
//
// A block uses the group's block answer style (a NODATA entry of an RPZ
// list stays NODATA) and carries the same explanation fields as a
// name-side block: Category, List and Matched.
func (s *Snapshot) DecideAnswer(c clientmap.Client, d Decision, name string, targets []string, addrs []netip.Addr, now time.Time) Decision {
	if d.Action != Pass && d.Action != Allow || len(targets) == 0 && len(addrs) == 0 {
		return d
	}
	g := s.groups[c.Group]
	if g == nil {
		g = s.groups[s.defaultGroup]
	}
	var block, allow blocklists.Mask
	if d.Action == Pass {
		block, allow = g.activeBlock(s.sched, now), g.allow
		if g.ov != nil {
			ovAllow, ovBlock := s.answerOverrideMasks(g, now)
			block = block&^ovAllow | ovBlock
		}
	}
	if s.lists != nil {
		for _, t := range targets {
			m := s.lists.Match(t, block, allow)
			if m.Action != blocklists.Block && m.Action != blocklists.NoData {
				continue
			}
			out := s.listDecision(g, m, block)
			out.Reason = ReasonCNAME
			if m.Locked {
				out.Reason = ReasonLocked
			}
			out.Matched = "cname target " + t
			if e := m.Entry(); e != t {
				out.Matched += " (" + e + ")"
			}
			return out
		}
	}
	// One pass per kind of check, so the table's order decides which
	// check explains an answer with several addresses.
	a := &s.ans
	for _, addr := range addrs {
		if m, ok := a.ips.Match(addr.Unmap(), block); ok {
			out := Decision{Action: Block, Reason: ReasonAddress, Style: g.style, Category: m.Category.String(), List: m.Name, Matched: m.Entry()}
			if m.Locked {
				out.Reason = ReasonLocked
			}
			return out
		}
	}
	if d.Action == Allow {
		return d
	}
	if len(g.ans.countries) > 0 {
		for _, addr := range addrs {
			if v, ok := a.countries.Lookup(addr.Unmap()); ok {
				if i, found := slices.BinarySearch(g.ans.countries, v); found {
					return Decision{Action: Block, Reason: ReasonGeo, Style: g.style, Category: "geoip", List: "country", Matched: g.ans.countryText[i]}
				}
			}
		}
	}
	if len(g.ans.asns) > 0 {
		for _, addr := range addrs {
			if v, ok := a.asns.Lookup(addr.Unmap()); ok {
				if i, found := slices.BinarySearch(g.ans.asns, v); found {
					return Decision{Action: Block, Reason: ReasonGeo, Style: g.style, Category: "geoip", List: "asn", Matched: g.ans.asnText[i]}
				}
			}
		}
	}
	if g.ans.rebinding {
		for _, addr := range addrs {
			if r, ok := rebindRange(addr.Unmap()); ok && !s.internalName(name) {
				return Decision{Action: Block, Reason: ReasonRebinding, Style: g.style, Category: "rebinding", List: "rebinding", Matched: r}
			}
		}
	}
	if ovAllow, ovBlock := g.ov.categoryMasks(now); d.Action == Pass && ovAllow|ovBlock != 0 && s.lists != nil {
		ov := ovAllow | ovBlock
		// A target an override's category holds is allowed only while it
		// lasts: the answer must not outlive it.
		for _, t := range targets {
			if m := s.lists.Match(t, ov, 0); m.Action != blocklists.NoAction {
				d.TTLCap = minTTLCap(d.TTLCap, schedule.CapTTL(^uint32(0), now, g.ov.nextEnd(now)))
				break
			}
		}
	}
	return d
}

// activeBlock is the group's block mask at now, with its timed blocks.
func (g *group) activeBlock(sched *schedule.Schedule, now time.Time) blocklists.Mask {
	m := g.block
	for i := range g.timed {
		if g.timed[i].active(sched, now) {
			m |= g.timed[i].mask
		}
	}
	return m
}

// answerOverrideMasks are g's category overrides in force at now as masks
// over the name and the address lists: an override that allows (or
// blocks) a category for a while does so for answers too.
func (s *Snapshot) answerOverrideMasks(g *group, now time.Time) (allow, block blocklists.Mask) {
	for i := range g.ov.cats {
		o := &g.ov.cats[i]
		if !now.Before(o.until) {
			continue
		}
		m := o.mask | s.ans.ipCats[o.category]
		if o.allow {
			allow |= m
		} else {
			block |= m
		}
	}
	return allow, block
}

// rebindRange names the non-public range addr is in, if it is in one:
// where a rebinding attack points a public name to reach devices on the
// school network or the client itself.
func rebindRange(a netip.Addr) (string, bool) {
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0:
			return "unspecified 0.0.0.0/8", true
		case b[0] == 10:
			return "private 10.0.0.0/8", true
		case b[0] == 127:
			return "loopback 127.0.0.0/8", true
		case b[0] == 100 && b[1]&0xC0 == 64:
			return "shared 100.64.0.0/10", true
		case b[0] == 169 && b[1] == 254:
			return "link-local 169.254.0.0/16", true
		case b[0] == 172 && b[1]&0xF0 == 16:
			return "private 172.16.0.0/12", true
		case b[0] == 192 && b[1] == 168:
			return "private 192.168.0.0/16", true
		}
		return "", false
	}
	b := a.As16()
	switch {
	case a.IsUnspecified():
		return "unspecified ::", true
	case a.IsLoopback():
		return "loopback ::1", true
	case b[0]&0xFE == 0xFC:
		return "unique-local fc00::/7", true
	case b[0] == 0xFE && b[1]&0xC0 == 0x80:
		return "link-local fe80::/10", true
	}
	return "", false
}

// specialUse are domains that are never public names: RFC 6761 and RFC
// 8375 special-use names, the reverse-mapping trees, and the suffixes
// networks commonly use internally. Their names may point anywhere.
var specialUse = []string{
	"localhost.", "local.", "home.arpa.", "internal.", "lan.", "intranet.", "corp.", "private.",
	"test.", "invalid.", "in-addr.arpa.", "ip6.arpa.",
}

// internalName reports whether name may point at private addresses:
// single-label names, special-use domains, and the site's internal ones.
func (s *Snapshot) internalName(name string) bool {
	if i := indexByte(name, '.'); i < 0 || i == len(name)-1 {
		return true // "printer." or ".": not a public name
	}
	for _, d := range specialUse {
		if _, ok := under(name, d); ok {
			return true
		}
	}
	for _, d := range s.ans.internal {
		if _, ok := under(name, d); ok {
			return true
		}
	}
	return false
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// Addresses returns the compiled address lists (nil when none), for
// explaining decisions.
func (s *Snapshot) Addresses() *blocklists.IPSet { return s.ans.ips }

// Warnings are problems the snapshot was built around, such as a GeoIP
// database that failed to load and was kept from the previous snapshot.
func (s *Snapshot) Warnings() []string { return s.ans.warnings }

// GeoIP returns the loaded country and ASN indexes (nil when not
// configured), for status and explanations.
func (s *Snapshot) GeoIP() (countries, asns *geoip.Index) { return s.ans.countries, s.ans.asns }

// newAnswerPolicy checks and keeps o.
func newAnswerPolicy(o AnswerOptions, lists *blocklists.Set) (answerPolicy, error) {
	if o.Addresses != nil && lists != nil {
		for _, l := range lists.Lists() {
			if o.Addresses.Mask().Has(l.ID) {
				return answerPolicy{}, fmt.Errorf("policy: address list %s and list %s share id %d", o.Addresses.ListName(l.ID), l.Name, l.ID)
			}
		}
	}
	ap := answerPolicy{ips: o.Addresses, countries: o.Countries, asns: o.ASNs, internal: o.Internal, warnings: o.Warnings}
	for _, l := range o.Addresses.Lists() {
		if ap.ipCats == nil {
			ap.ipCats = map[string]blocklists.Mask{}
		}
		ap.ipCats[l.Category.String()] |= blocklists.MaskOf(l.ID)
	}
	return ap, nil
}
