package clientmap

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Client is the identity of whoever sent a query, as far as we know it.
type Client struct {
	Addr     netip.Addr
	MAC      MAC    // from the DHCP lease; zero when unknown
	MACText  string // MAC as text ("aa:bb:cc:dd:ee:ff"), "" when unknown: formatted once per lease
	Hostname string // from the DHCP lease; "" when unknown
	Group    string // the group whose policy applies
	// Rule says which rule placed the client in Group, e.g. "subnet
	// 10.20.0.0/16" or "default": every decision and log entry carries it.
	Rule string
	// LeaseSource is the lease file the MAC and hostname came from.
	LeaseSource string
	// Forwarder is the trusted forwarder that named this client (EDNS
	// Client Subnet, dnsmasq add-mac); invalid for a direct query.
	Forwarder netip.Addr
}

// Forwarded is what a trusted forwarder says about the client it asks for.
type Forwarded struct {
	// Addr is the client's address from EDNS Client Subnet (the network
	// address when the forwarder sends a shorter prefix); invalid when
	// not given.
	Addr netip.Addr
	// MAC is the client's MAC from the dnsmasq add-mac option; zero when
	// not given.
	MAC MAC
}

// Rule places clients in one group. Precedence across all rules: a device
// rule (address, then MAC) beats a hostname pattern, which beats a subnet
// (longest prefix wins), which beats the default group.
type Rule struct {
	Group     string
	Addresses []netip.Addr
	MACs      []MAC
	Hostnames []string // patterns with *, matched case-insensitively
	Subnets   []netip.Prefix
}

// Config lists what a Map is built from.
type Config struct {
	// DefaultGroup receives every client that no rule places elsewhere.
	DefaultGroup string
	Rules        []Rule
}

// Map assigns clients to groups. It is immutable: WithLeases returns a new
// Map sharing the compiled rules.
type Map struct {
	defaultGroup string
	addrs        map[[16]byte]placement
	macs         map[MAC]placement
	hosts        []hostRule   // most specific pattern first
	subnets      []subnetRule // longest prefix first
	leases       *Leases
}

type placement struct {
	group, rule string
}

type hostRule struct {
	pattern string // lower case
	placement
}

type subnetRule struct {
	prefix netip.Prefix
	placement
}

// New compiles the rules. A device, pattern or subnet claimed by two groups
// is an error: which group wins would otherwise depend on rule order.
func New(cfg Config) (*Map, error) {
	if cfg.DefaultGroup == "" {
		return nil, errors.New("clientmap: a default group is required")
	}
	m := &Map{defaultGroup: cfg.DefaultGroup, addrs: map[[16]byte]placement{}, macs: map[MAC]placement{}}
	var errs []error
	hosts := map[string]string{}
	subnets := map[netip.Prefix]string{}
	for _, r := range cfg.Rules {
		for _, a := range r.Addresses {
			a = a.Unmap()
			if g, dup := m.addrs[a.As16()]; dup {
				errs = append(errs, fmt.Errorf("clientmap: address %s is in groups %s and %s", a, g.group, r.Group))
				continue
			}
			m.addrs[a.As16()] = placement{r.Group, "address " + a.String()}
		}
		for _, mac := range r.MACs {
			if g, dup := m.macs[mac]; dup {
				errs = append(errs, fmt.Errorf("clientmap: MAC %s is in groups %s and %s", mac, g.group, r.Group))
				continue
			}
			m.macs[mac] = placement{r.Group, "mac " + mac.String()}
		}
		for _, h := range r.Hostnames {
			p := strings.ToLower(h)
			if g, dup := hosts[p]; dup {
				errs = append(errs, fmt.Errorf("clientmap: hostname pattern %q is in groups %s and %s", h, g, r.Group))
				continue
			}
			hosts[p] = r.Group
			m.hosts = append(m.hosts, hostRule{p, placement{r.Group, "hostname " + h}})
		}
		for _, p := range r.Subnets {
			p = p.Masked()
			if g, dup := subnets[p]; dup {
				errs = append(errs, fmt.Errorf("clientmap: subnet %s is in groups %s and %s", p, g, r.Group))
				continue
			}
			subnets[p] = r.Group
			m.subnets = append(m.subnets, subnetRule{p, placement{r.Group, "subnet " + p.String()}})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The most literal pattern is the most specific: "staff-ipad-*" before
	// "*-ipad". Ties keep config order.
	slices.SortStableFunc(m.hosts, func(a, b hostRule) int {
		return cmp.Compare(literalLen(b.pattern), literalLen(a.pattern))
	})
	slices.SortStableFunc(m.subnets, func(a, b subnetRule) int { return cmp.Compare(b.prefix.Bits(), a.prefix.Bits()) })
	return m, nil
}

func literalLen(p string) int { return len(p) - strings.Count(p, "*") }

// WithLeases returns a copy of m that also knows the DHCP leases l.
func (m *Map) WithLeases(l *Leases) *Map {
	c := *m
	c.leases = l
	return &c
}

// Leases returns the leases m knows (nil when none).
func (m *Map) Leases() *Leases { return m.leases }

// Lookup identifies the client at addr at time now (leases expire). It does
// not allocate.
func (m *Map) Lookup(addr netip.Addr, now time.Time) Client {
	addr = addr.Unmap()
	c := Client{Addr: addr}
	lease, macText, haveLease := m.leases.lookupText(addr, now)
	if haveLease {
		c.MAC, c.MACText, c.Hostname, c.LeaseSource = lease.MAC, macText, lease.Hostname, lease.Source
	}
	p, ok := m.place(addr, c.MAC, c.Hostname)
	if !ok {
		p = placement{m.defaultGroup, "default"}
	}
	c.Group, c.Rule = p.group, p.rule
	return c
}

// LookupForwarded identifies the client a trusted forwarder at fwd asks
// for, from what it said in f. The address is f.Addr, or the forwarder's
// own when the forwarder sent none; the lease for that address gives the
// hostname, but only when it is the same device (no MAC from the
// forwarder, or the same one). Precedence is Lookup's, except that with a
// MAC and no address the MAC rule comes before the forwarder's own address
// and subnet rules. MACText stays empty for a MAC that no lease
// formats, so the lookup does not allocate; callers that log format it.
func (m *Map) LookupForwarded(fwd netip.Addr, f Forwarded, now time.Time) Client {
	addr := fwd.Unmap()
	c := Client{Forwarder: addr}
	if f.Addr.IsValid() {
		addr = f.Addr.Unmap()
		lease, macText, ok := m.leases.lookupText(addr, now)
		if ok && (f.MAC.IsZero() || f.MAC == lease.MAC) {
			c.MAC, c.MACText, c.Hostname, c.LeaseSource = lease.MAC, macText, lease.Hostname, lease.Source
		}
	}
	c.Addr = addr
	if !f.MAC.IsZero() && c.MAC.IsZero() {
		c.MAC = f.MAC
	}
	// With only a MAC, the address is the forwarder's: a rule for that
	// address describes the forwarder, so the MAC rule comes first.
	p, ok := m.macs[c.MAC]
	if !ok || f.Addr.IsValid() || c.MAC.IsZero() {
		p, ok = m.place(addr, c.MAC, c.Hostname)
	}
	if !ok {
		p = placement{m.defaultGroup, "default"}
	}
	c.Group, c.Rule = p.group, p.rule
	return c
}

func (m *Map) place(addr netip.Addr, mac MAC, hostname string) (placement, bool) {
	if p, ok := m.addrs[addr.As16()]; ok {
		return p, true
	}
	if !mac.IsZero() {
		if p, ok := m.macs[mac]; ok {
			return p, true
		}
	}
	if hostname != "" {
		for _, h := range m.hosts {
			if globMatch(h.pattern, hostname) {
				return h.placement, true
			}
		}
	}
	for _, s := range m.subnets {
		if s.prefix.Contains(addr) {
			return s.placement, true
		}
	}
	return placement{}, false
}

// globMatch reports whether name matches pattern (lower case; * matches any
// run of characters), comparing ASCII case-insensitively without
// allocating.
func globMatch(pattern, name string) bool {
	// Iterative matching with one backtrack point: linear in practice and
	// never exponential, whatever a hostile hostname looks like.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == lower(name[n]):
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
