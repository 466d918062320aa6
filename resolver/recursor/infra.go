package recursor

import (
	"fmt"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// infra holds what the recursor learns about the DNS's structure, shared by
// all queries: delegations (so a warm resolver asks the right servers
// straight away) and the addresses of name servers. Final answers are not
// kept here. It is safe for concurrent use.
type infra struct {
	delegs *lru.Cache[string, *deleg]
	addrs  *lru.Cache[addrKey, addrEntry]
}

// addrKey names one address family of one name server name.
type addrKey struct {
	name string
	v6   bool
}

// addrEntry is a name server name's addresses of one family; none means the
// name is known to have none (NXDOMAIN, NODATA).
type addrEntry struct {
	addrs   []netip.Addr
	expires time.Time
}

func newInfra(size int) (*infra, error) {
	delegs, err := lru.New[string, *deleg](size)
	if err != nil {
		return nil, fmt.Errorf("creating delegation cache: %w", err)
	}
	addrs, err := lru.New[addrKey, addrEntry](size)
	if err != nil {
		return nil, fmt.Errorf("creating address cache: %w", err)
	}
	return &infra{delegs: delegs, addrs: addrs}, nil
}

// deleg returns the unexpired delegation cached for zone, or nil.
func (c *infra) deleg(zone string, now time.Time) *deleg {
	d, ok := c.delegs.Get(zone)
	if !ok {
		return nil
	}
	if !now.Before(d.expires) {
		c.delegs.Remove(zone)
		return nil
	}
	return d
}

func (c *infra) putDeleg(d *deleg) { c.delegs.Add(d.zone, d) }

// lookupAddrs returns the cached addresses of one family of name, and
// whether anything (even "no addresses") is known.
func (c *infra) lookupAddrs(name string, v6 bool, now time.Time) ([]netip.Addr, bool) {
	k := addrKey{name, v6}
	e, ok := c.addrs.Get(k)
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		c.addrs.Remove(k)
		return nil, false
	}
	return e.addrs, true
}

func (c *infra) putAddrs(name string, v6 bool, addrs []netip.Addr, expires time.Time) {
	c.addrs.Add(addrKey{name, v6}, addrEntry{addrs: addrs, expires: expires})
}

// infraTTL is how long infrastructure data with TTL ttl is kept.
func infraTTL(ttl uint32) time.Duration {
	return min(time.Duration(ttl)*time.Second, maxInfraTTL)
}
