package validator

import (
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Aggressive use of DNSSEC-validated cache (RFC 8198): the NSEC records a
// secure zone signed, once validated, prove the absence of every name and
// type in their spans, not only of the question that fetched them. The
// validator keeps them, with the zone's validated SOA, and answers
// NXDOMAIN and NODATA itself when they prove it, so a run of questions
// for names that do not exist (typos, random-subdomain floods) costs one
// upstream query per span, not per name.
//
// Only NSEC records verified with a secure zone's keys are kept (denialsBy
// is the only way in), so nothing from an insecure or bogus zone is ever
// used. NSEC3 is not used: its opt-out spans prove nothing about unsigned
// delegations, and hashing every question would cost more than the
// queries it saves on a school's traffic.

const (
	// maxNSECPerZone bounds the NSEC records kept for one zone; the
	// oldest-inserted half is dropped when it is reached.
	maxNSECPerZone = 512
	// maxNegZones bounds the zones whose NSEC records are kept.
	maxNegZones = 1024
)

// negCache holds validated NSEC records and SOAs by zone.
type negCache struct {
	zones *lru.Cache[string, *negZone]
}

// negZone is one secure zone's validated NSEC records, sorted canonically
// by owner, and its SOA RRset with RRSIGs.
type negZone struct {
	mu         sync.Mutex
	nsec       []negNSEC
	soa        []dns.RR
	soaExpires time.Time
	seq        uint64 // insertions so far
}

type negNSEC struct {
	owner   string
	nsec    *dns.NSEC
	sigs    []dns.RR
	expires time.Time
	added   uint64 // insertion order, for eviction
}

func newNegCache() *negCache {
	zones, _ := lru.New[string, *negZone](maxNegZones) // size is positive: cannot fail
	return &negCache{zones: zones}
}

func (c *negCache) zone(name string, create bool) *negZone {
	if z, ok := c.zones.Get(name); ok {
		return z
	}
	if !create {
		return nil
	}
	z, _, _ := c.zones.PeekOrAdd(name, &negZone{})
	if z == nil {
		z, _ = c.zones.Get(name)
	}
	return z
}

// expiry returns when a verified set stops being usable: its TTL from now,
// or its earliest signature expiration if sooner.
func expiry(s *rrset, now time.Time) time.Time {
	exp := now.Add(min(ttlOf(s), maxKeyTTL))
	for _, sig := range s.sigs {
		if e := time.Unix(int64(sig.Expiration), 0); e.Before(exp) {
			exp = e
		}
	}
	return exp
}

// add keeps a verified SOA or NSEC RRset that zone signed.
func (c *negCache) add(zone string, s *rrset, now time.Time) {
	switch {
	case s.typ == dns.TypeSOA && s.name == zone:
	case s.typ == dns.TypeNSEC && isAncestor(zone, s.name):
	default:
		return // a zone's key proves nothing about names outside it
	}
	exp := expiry(s, now)
	if !now.Before(exp) {
		return
	}
	z := c.zone(zone, true)
	z.mu.Lock()
	defer z.mu.Unlock()
	// Copies: the records also go to the client, whose caches may change
	// them.
	var sigs []dns.RR
	for _, sig := range s.sigs {
		if dns.CanonicalName(sig.SignerName) == zone {
			sigs = append(sigs, dns.Copy(sig))
		}
	}
	if s.typ == dns.TypeSOA {
		z.soa = append([]dns.RR{dns.Copy(s.rrs[0])}, sigs...)
		z.soaExpires = exp
		return
	}
	n, ok := s.rrs[0].(*dns.NSEC)
	if !ok || len(s.rrs) != 1 {
		return
	}
	z.seq++
	e := negNSEC{owner: s.name, nsec: dns.Copy(n).(*dns.NSEC), sigs: sigs, expires: exp, added: z.seq}
	i, found := slices.BinarySearchFunc(z.nsec, s.name, func(e negNSEC, name string) int { return canonicalCompare(e.owner, name) })
	if found {
		z.nsec[i] = e
		return
	}
	z.nsec = slices.Insert(z.nsec, i, e)
	if len(z.nsec) > maxNSECPerZone {
		z.evict(now)
	}
}

// evict drops expired records and, if that is not enough, the older half.
func (z *negZone) evict(now time.Time) {
	z.nsec = slices.DeleteFunc(z.nsec, func(e negNSEC) bool { return !now.Before(e.expires) })
	if len(z.nsec) <= maxNSECPerZone*3/4 {
		return
	}
	seqs := make([]uint64, len(z.nsec))
	for i, e := range z.nsec {
		seqs[i] = e.added
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)/2]
	z.nsec = slices.DeleteFunc(z.nsec, func(e negNSEC) bool { return e.added < cut })
}

// exact returns the unexpired NSEC owned by name, and pred the unexpired
// one with the greatest owner before name (canonically), wrapping to the
// last: the only record whose span can cover name.
func (z *negZone) find(name string, now time.Time) (exact, pred *negNSEC) {
	i, found := slices.BinarySearchFunc(z.nsec, name, func(e negNSEC, name string) int { return canonicalCompare(e.owner, name) })
	if found && now.Before(z.nsec[i].expires) {
		exact = &z.nsec[i]
	}
	if len(z.nsec) > 0 {
		j := i - 1
		if j < 0 {
			j = len(z.nsec) - 1 // the zone's last NSEC wraps around
		}
		if now.Before(z.nsec[j].expires) {
			pred = &z.nsec[j]
		}
	}
	return exact, pred
}

// synthesize answers q from the validated NSEC records of the closest
// enclosing zone in the cache, when they prove NXDOMAIN or NODATA; else
// it returns nil.
func (r *run) synthesize(q resolver.Question) *dns.Msg {
	switch q.Type {
	case dns.TypeANY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
		return nil
	}
	start := q.Name
	if q.Type == dns.TypeDS && start != "." {
		start = parent(start) // the DS RRset is the parent zone's
	}
	var (
		zone string
		z    *negZone
	)
	for n := start; ; n = parent(n) {
		if z = r.v.neg.zone(n, false); z != nil {
			zone = n
			break
		}
		if n == "." {
			return nil
		}
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if !r.now.Before(z.soaExpires) {
		return nil // no SOA to put in the negative answer
	}
	var used []*negNSEC
	nsecs := func() []*dns.NSEC {
		out := make([]*dns.NSEC, len(used))
		for i, e := range used {
			out[i] = e.nsec
		}
		return out
	}
	// The records that can take part in a proof: the one at the name, or
	// the one covering it and those at or covering its wildcard.
	exact, pred := z.find(q.Name, r.now)
	switch {
	case exact != nil:
		used = append(used, exact)
	case pred != nil && nsecCovers(zone, pred.nsec, q.Name):
		used = append(used, pred)
		we, wp := z.find(wildcardOf(nsecClosestEncloser(q.Name, pred.nsec)), r.now)
		for _, e := range []*negNSEC{we, wp} {
			if e != nil && !slices.Contains(used, e) {
				used = append(used, e)
			}
		}
	default:
		return nil
	}
	rcode := -1
	if exact == nil && nsecProvesNX(zone, q.Name, nsecs()) {
		rcode = dns.RcodeNameError
	} else if ok, _ := nsecProvesNodata(zone, q.Name, q.Type, nsecs()); ok {
		rcode = dns.RcodeSuccess
	}
	if rcode < 0 {
		return nil
	}
	// The answer lives as long as its shortest-lived record, and no longer
	// than the zone's negative TTL (RFC 8198 section 5.4, RFC 9077).
	soa := z.soa[0].(*dns.SOA)
	exp := z.soaExpires
	for _, e := range used {
		exp = minTime(exp, e.expires)
	}
	ttl := min(uint32(exp.Sub(r.now)/time.Second), soa.Minttl, soa.Hdr.Ttl)
	if ttl == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.Response = true
	m.RecursionDesired = true
	m.RecursionAvailable = true
	m.Rcode = rcode
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: dns.ClassINET}}
	add := func(rr dns.RR) {
		rr = dns.Copy(rr)
		rr.Header().Ttl = ttl
		m.Ns = append(m.Ns, rr)
	}
	for _, rr := range z.soa {
		add(rr)
	}
	for _, e := range used {
		add(e.nsec)
		for _, sig := range e.sigs {
			add(sig)
		}
	}
	m.SetEdns0(resolver.DefaultBufSize, true)
	r.v.metrics.aggressive.WithLabelValues(dns.RcodeToString[rcode]).Inc()
	return m
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
