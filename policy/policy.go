package policy

import (
	"fmt"
	"net/netip"
	"time"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/policy/override"
	"gatehouse/policy/schedule"
	"gatehouse/safesearch"
)

// Action is what a Decision tells the query path to do.
type Action uint8

const (
	// Pass: no rule matched; resolve normally.
	Pass Action = iota
	// Allow: an allow rule matched; resolve normally, skip answer-side checks.
	Allow
	// Block: answer locally in Decision.Style.
	Block
	// Rewrite: answer with a CNAME to Decision.Target and the target's
	// records, resolved live (safe search).
	Rewrite
)

func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Allow:
		return "allow"
	case Block:
		return "block"
	case Rewrite:
		return "rewrite"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Decision is the outcome of Decide: small and comparable, so it can be
// logged and compared in tests. Its strings are shared, never built per
// query.
type Decision struct {
	Action Action
	// Reason names the kind of rule that decided (bounded: it labels
	// metrics).
	Reason Reason
	// Style is how to answer a Block.
	Style Style
	// Category, List and Matched explain the decision: the category
	// ("pornography", "safesearch", "bypass"), the list or provider that
	// matched, and the matched entry (a suffix of the query name).
	Category, List, Matched string
	// Target is the CNAME target of a Rewrite.
	Target string
	// TTLCap, when nonzero, is the most seconds any answer TTL may claim:
	// the decision for this name changes at a schedule edge that soon.
	TTLCap uint32
}

// Snapshot is one immutable, consistent view of the policy.
type Snapshot struct {
	// Gen counts reloads; it appears in logs and the config_generation gauge.
	Gen      uint64
	LoadedAt time.Time

	allow    []netip.Prefix // clients allowed to query at all
	allowAny bool
	clients  *clientmap.Map
	trusted  []netip.Prefix // forwarders believed about their clients

	groups       map[string]*group
	defaultGroup string
	safeSearch   *safesearch.Table
	blockTTL     uint32
	pageV4       netip.Addr // block page addresses (invalid when none)
	pageV6       netip.Addr
	lists        *blocklists.Set // nil: no lists
	listNames    [blocklists.MaxLists]string
	sched        *schedule.Schedule  // nil: no periods
	overrides    []override.Override // compiled into groups (WithOverrides)
	ans          answerPolicy        // answer-side checks (answer.go)
}

// Options are the compiled inputs of a Snapshot.
type Options struct {
	Gen      uint64
	LoadedAt time.Time
	// Allow lists the networks that may query; everyone else is refused so
	// that Gatehouse is never an open resolver.
	Allow    []netip.Prefix
	AllowAny bool
	Clients  *clientmap.Map
	// TrustedForwarders may name the client they forward for (EDNS Client
	// Subnet, dnsmasq add-mac); from anyone else those options are ignored.
	TrustedForwarders []netip.Prefix
	// Groups are the groups' policies; DefaultGroup must be one of them.
	Groups       []GroupOptions
	DefaultGroup string
	// SafeSearch is the provider table (nil: the built-in one).
	SafeSearch *safesearch.Table
	// BlockTTL is the TTL of block answers (default 60 s).
	BlockTTL time.Duration
	// PageAddresses serve the block page (for StyleBlockPage).
	PageAddresses []netip.Addr
	// Lists are the compiled block and allow lists (nil: none); groups
	// select from them with masks.
	Lists *blocklists.Set
	// Schedule holds the periods groups' timed blocks refer to.
	Schedule *schedule.Schedule
	// Answer configures the checks of answers (answer.go).
	Answer AnswerOptions
}

// GroupOptions is one group's policy.
type GroupOptions struct {
	Name         string
	Style        Style
	SafeSearch   safesearch.Settings
	BypassExempt bool
	// Block and Allow select lists of Options.Lists (locked lists apply
	// to every group regardless).
	Block, Allow blocklists.Mask
	// Timed adds lists to Block during (or outside) periods.
	Timed []TimedOptions
	// Answer is the group's answer-side settings (answer.go).
	Answer GroupAnswerOptions
}

// TimedOptions is one schedule-gated block.
type TimedOptions struct {
	Mask    blocklists.Mask
	Periods []string
	Outside bool
}

// New validates opts and builds a Snapshot.
func New(opts Options) (*Snapshot, error) {
	if len(opts.Allow) == 0 && !opts.AllowAny {
		return nil, fmt.Errorf("policy: no client network is allowed to query")
	}
	if opts.Clients == nil {
		return nil, fmt.Errorf("policy: no client map")
	}
	allow := make([]netip.Prefix, len(opts.Allow))
	for i, p := range opts.Allow {
		allow[i] = p.Masked()
	}
	var trusted []netip.Prefix
	for _, p := range opts.TrustedForwarders {
		trusted = append(trusted, p.Masked())
	}
	s := &Snapshot{
		Gen:          opts.Gen,
		LoadedAt:     opts.LoadedAt,
		allow:        allow,
		allowAny:     opts.AllowAny,
		clients:      opts.Clients,
		trusted:      trusted,
		groups:       make(map[string]*group, len(opts.Groups)),
		defaultGroup: opts.DefaultGroup,
		safeSearch:   opts.SafeSearch,
		blockTTL:     uint32(opts.BlockTTL / time.Second),
	}
	if s.safeSearch == nil {
		s.safeSearch = safesearch.Builtin()
	}
	if s.blockTTL == 0 {
		s.blockTTL = 60
	}
	s.lists, s.sched = opts.Lists, opts.Schedule
	if s.lists != nil {
		for _, l := range s.lists.Lists() {
			s.listNames[l.ID] = l.Name
		}
	}
	var err error
	if s.ans, err = newAnswerPolicy(opts.Answer, s.lists); err != nil {
		return nil, err
	}
	for _, g := range opts.Groups {
		cg := &group{name: g.Name, style: g.Style, safeSearch: g.SafeSearch, bypassExempt: g.BypassExempt,
			block: g.Block, allow: g.Allow}
		var err error
		if cg.ans, err = newGroupAnswer(g.Answer); err != nil {
			return nil, fmt.Errorf("policy: group %s: %w", g.Name, err)
		}
		for _, t := range g.Timed {
			if s.sched == nil {
				return nil, fmt.Errorf("policy: group %s has timed blocks but there is no schedule", g.Name)
			}
			for _, p := range t.Periods {
				if !s.sched.Has(p) {
					return nil, fmt.Errorf("policy: group %s: no period %q", g.Name, p)
				}
			}
			cg.timed = append(cg.timed, timedBlock{mask: t.Mask, periods: t.Periods, outside: t.Outside})
			cg.timedAll |= t.Mask
		}
		s.groups[g.Name] = cg
	}
	if len(s.groups) == 0 {
		// A snapshot built without groups (tests of access control) gets
		// one default group with default settings.
		if s.defaultGroup == "" {
			s.defaultGroup = "default"
		}
		s.groups[s.defaultGroup] = &group{name: s.defaultGroup}
	}
	if s.groups[s.defaultGroup] == nil {
		return nil, fmt.Errorf("policy: default group %q is not defined", s.defaultGroup)
	}
	for _, a := range opts.PageAddresses {
		if a.Unmap().Is4() {
			s.pageV4 = a.Unmap()
		} else {
			s.pageV6 = a
		}
	}
	return s, nil
}

// BlockTTL is the TTL for block answers, in seconds.
func (s *Snapshot) BlockTTL() uint32 { return s.blockTTL }

// PageAddresses returns the block page's IPv4 and IPv6 addresses (either
// may be invalid).
func (s *Snapshot) PageAddresses() (v4, v6 netip.Addr) { return s.pageV4, s.pageV6 }

// Allowed reports whether addr may query at all. A handful of prefixes is
// typical, so a linear scan beats anything cleverer.
func (s *Snapshot) Allowed(addr netip.Addr) bool {
	if s.allowAny {
		return true
	}
	addr = addr.Unmap()
	for _, p := range s.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Identify maps a client address to its identity and group at now (DHCP
// leases expire). It does not allocate.
func (s *Snapshot) Identify(addr netip.Addr, now time.Time) clientmap.Client {
	return s.clients.Lookup(addr, now)
}

// TrustedForwarder reports whether addr is a trusted forwarder, whose
// EDNS client options name the real client. Few or none are configured, so
// a linear scan; none costs nothing.
func (s *Snapshot) TrustedForwarder(addr netip.Addr) bool {
	if len(s.trusted) == 0 {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// IdentifyForwarded maps the client a trusted forwarder at fwd asks for
// (from its EDNS options f) to its identity and group. Only call it for a
// TrustedForwarder. It does not allocate.
func (s *Snapshot) IdentifyForwarded(fwd netip.Addr, f clientmap.Forwarded, now time.Time) clientmap.Client {
	return s.clients.LookupForwarded(fwd, f, now)
}

// WithLeases returns a copy of s whose client map knows the leases l: DHCP
// leases change every few seconds, and swapping them in must not wait for
// a full recompile. Everything else is shared (it is immutable).
func (s *Snapshot) WithLeases(l *clientmap.Leases) *Snapshot {
	c := *s
	c.clients = s.clients.WithLeases(l)
	return &c
}

// Lists returns the compiled lists (nil when none), for explaining
// decisions and carrying unchanged lists into the next snapshot.
func (s *Snapshot) Lists() *blocklists.Set { return s.lists }

// Clients returns the client map, for explaining decisions.
func (s *Snapshot) Clients() *clientmap.Map { return s.clients }
