package policy

import (
	"fmt"
	"net/netip"
	"time"

	"gatehouse/clientmap"
)

// Action is what a Decision tells the query path to do.
type Action uint8

const (
	// Pass: no rule matched; resolve normally.
	Pass Action = iota
	// Allow: an allow rule matched; resolve normally, skip answer-side checks.
	Allow
	// Block: answer locally in the group's block style.
	Block
)

func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Allow:
		return "allow"
	case Block:
		return "block"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Decision is the outcome of Decide: small and comparable, so it can be
// logged and compared in tests.
type Decision struct {
	Action Action
	// Reason names the rule class that decided, for logs and metrics
	// (a bounded set: "", "list", "schedule", ...).
	Reason string
}

// Snapshot is one immutable, consistent view of the policy.
type Snapshot struct {
	// Gen counts reloads; it appears in logs and the config_generation gauge.
	Gen      uint64
	LoadedAt time.Time

	allow    []netip.Prefix // clients allowed to query at all
	allowAny bool
	clients  *clientmap.Map
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
	return &Snapshot{
		Gen:      opts.Gen,
		LoadedAt: opts.LoadedAt,
		allow:    allow,
		allowAny: opts.AllowAny,
		clients:  opts.Clients,
	}, nil
}

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

// WithLeases returns a copy of s whose client map knows the leases l: DHCP
// leases change every few seconds, and swapping them in must not wait for
// a full recompile. Everything else is shared (it is immutable).
func (s *Snapshot) WithLeases(l *clientmap.Leases) *Snapshot {
	c := *s
	c.clients = s.clients.WithLeases(l)
	return &c
}

// Clients returns the client map, for explaining decisions.
func (s *Snapshot) Clients() *clientmap.Map { return s.clients }

// Decide is the policy decision for one question from one client at now. It
// is pure (no I/O, no clock) and does not allocate. name is canonical (lower
// case, fully qualified) and must not be retained: it may point into a
// reused buffer.
//
// Precedence (filled in as lists, schedules and safe search arrive):
//
//	| order | check        | result |
//	|-------|--------------|--------|
//	| (f)   | otherwise    | pass   |
func (s *Snapshot) Decide(c clientmap.Client, name string, qtype uint16, now time.Time) Decision {
	return Decision{Action: Pass}
}
