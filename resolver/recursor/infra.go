package recursor

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
)

// infra holds what the recursor learns about the DNS's structure, shared by
// all queries: delegations (so a warm resolver asks the right servers
// straight away), the addresses of name servers, and what parents' signed
// referrals said about DS records (so the validator need not ask again).
// Final answers are not kept here. It is safe for concurrent use.
type infra struct {
	delegs *lru.Cache[string, *deleg]
	addrs  *lru.Cache[addrKey, addrEntry]
	ds     *lru.Cache[string, dsEntry] // by cut
	names  *lru.Cache[string, nameEntry]
	// replies holds the final authoritative replies of resolutions (answers,
	// CNAME/DNAME chains, negative answers with their proofs), so a chain
	// leading to a name resolved a moment ago need not ask again. Only
	// chased targets are looked up here: client questions are the answer
	// cache's business.
	replies *lru.Cache[replyKey, replyEntry]
}

type replyKey struct {
	name  string
	qtype uint16
	do    bool // with DNSSEC records
}

type replyEntry struct {
	rep     *reply // a private copy: callers get clones
	stored  time.Time
	expires time.Time
}

// dsEntry is a referral's DS RRset or proof of no DS (see reply.dsProof),
// shared read-only: callers get copies.
type dsEntry struct {
	rrs     []dns.RR
	stored  time.Time
	expires time.Time
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
	glue    bool // from a referral's additional section, not the name's own zone
}

// nameEntry records that a name exists in zone and is not a zone cut
// (an empty non-terminal or a name with data), as QNAME minimisation
// found: later resolutions below it need not ask for it again.
type nameEntry struct {
	zone    string
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
	ds, err := lru.New[string, dsEntry](size)
	if err != nil {
		return nil, fmt.Errorf("creating DS cache: %w", err)
	}
	names, err := lru.New[string, nameEntry](size)
	if err != nil {
		return nil, fmt.Errorf("creating name cache: %w", err)
	}
	replies, err := lru.New[replyKey, replyEntry](size)
	if err != nil {
		return nil, fmt.Errorf("creating reply cache: %w", err)
	}
	return &infra{delegs: delegs, addrs: addrs, ds: ds, names: names, replies: replies}, nil
}

// putReply keeps a final reply for name and qtype for as long as the
// shortest TTL in it (for a negative answer, no longer than its negative
// TTL) and no longer than its earliest signature expiry.
func (c *infra) putReply(name string, qtype uint16, do bool, rep *reply, now time.Time) {
	rrs := append(slices.Clip(rep.chain), rep.ns...)
	if len(rrs) == 0 {
		return
	}
	expires := rrsExpiry(rrs, now)
	if rep.hasSOA {
		expires = minTime(expires, now.Add(infraTTL(rep.negTTL)))
	}
	if !now.Before(expires) {
		return
	}
	c.replies.Add(replyKey{name, qtype, do}, replyEntry{rep: rep.clone(), stored: now, expires: expires})
}

// reply returns a copy of the unexpired reply cached for name and qtype,
// or nil.
func (c *infra) reply(name string, qtype uint16, do bool, now time.Time) *reply {
	k := replyKey{name, qtype, do}
	e, ok := c.replies.Get(k)
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		c.replies.Remove(k)
		return nil
	}
	rep := e.rep.clone()
	age(rep.chain, now.Sub(e.stored))
	age(rep.ns, now.Sub(e.stored))
	return rep
}

// age counts the TTLs of rrs down by elapsed, so records kept for a while
// leave with what is left of their lives.
func age(rrs []dns.RR, elapsed time.Duration) {
	secs := uint32(min(elapsed/time.Second, 1<<31))
	for _, rr := range rrs {
		h := rr.Header()
		h.Ttl -= min(h.Ttl, secs)
	}
}

// rrsExpiry returns when records fetched now expire: after the shortest
// TTL among them (at most maxInfraTTL), or at the earliest expiration of
// their signatures if sooner.
func rrsExpiry(rrs []dns.RR, now time.Time) time.Time {
	ttl := rrs[0].Header().Ttl
	var sigEnd time.Time
	for _, rr := range rrs {
		ttl = min(ttl, rr.Header().Ttl)
		if sig, ok := rr.(*dns.RRSIG); ok {
			if e := time.Unix(int64(sig.Expiration), 0); sigEnd.IsZero() || e.Before(sigEnd) {
				sigEnd = e
			}
		}
	}
	expires := now.Add(infraTTL(ttl))
	if !sigEnd.IsZero() {
		expires = minTime(expires, sigEnd)
	}
	return expires
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// putName records that name exists in zone and is not a cut.
func (c *infra) putName(name, zone string, expires time.Time) {
	c.names.Add(name, nameEntry{zone: zone, expires: expires})
}

// knownBelow returns the deepest name between zone (excluded) and name
// (included) known to exist in zone without being a cut, or zone.
func (c *infra) knownBelow(name, zone string, now time.Time) string {
	for n := name; n != zone && n != "."; n = parent(n) {
		if e, ok := c.names.Get(n); ok && e.zone == zone && now.Before(e.expires) {
			return n
		}
	}
	return zone
}

// putDS keeps a referral's DS records or proof of none for cut, for as
// long as the shortest TTL among them and no longer than the earliest
// signature expiry (past it the records would no longer validate, while
// the parent would hand out fresh signatures).
func (c *infra) putDS(cut string, rrs []dns.RR, now time.Time) {
	if len(rrs) == 0 {
		return
	}
	expires := rrsExpiry(rrs, now)
	if !now.Before(expires) {
		return
	}
	c.ds.Add(cut, dsEntry{rrs: rrs, stored: now, expires: expires})
}

// lookupDS returns copies of the unexpired DS records or proof cached for
// cut, or nil.
func (c *infra) lookupDS(cut string, now time.Time) []dns.RR {
	e, ok := c.ds.Get(cut)
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		c.ds.Remove(cut)
		return nil
	}
	out := copyRRs(e.rrs)
	age(out, now.Sub(e.stored))
	return out
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

// putGlue caches a referral's glue addresses of one family for name,
// unless the name's own answer is cached: glue is the parent's copy and
// ranks below it (RFC 2181 section 5.4.1).
func (c *infra) putGlue(name string, v6 bool, addrs []netip.Addr, now, expires time.Time) {
	k := addrKey{name, v6}
	if e, ok := c.addrs.Peek(k); ok && !e.glue && now.Before(e.expires) {
		return
	}
	c.addrs.Add(k, addrEntry{addrs: addrs, expires: expires, glue: true})
}

// infraTTL is how long infrastructure data with TTL ttl is kept.
func infraTTL(ttl uint32) time.Duration {
	return min(time.Duration(ttl)*time.Second, maxInfraTTL)
}
