package validator

import (
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Aggressive use of DNSSEC-validated cache (RFC 8198): the NSEC and NSEC3
// records a secure zone signed, once validated, prove the absence of every name and
// type in their spans, not only of the question that fetched them. The
// validator keeps them, with the zone's validated SOA, and answers
// NXDOMAIN and NODATA itself when they prove it, so a run of questions
// for names that do not exist (typos, random-subdomain floods) costs one
// upstream query per span, not per name.
//
// Only NSEC and NSEC3 records verified with a secure zone's keys are kept
// (denialsBy is the only way in), so nothing from an insecure or bogus
// zone is ever used. NSEC3 records with the opt-out flag are not kept:
// their spans may hide unsigned delegations (RFC 8198), nor
// are those with more iterations than the validator accepts.

const (
	// maxNSECPerZone bounds the NSEC records, and apart the NSEC3
	// records, kept for one zone; past it the expired ones and then the
	// oldest-inserted half are dropped.
	maxNSECPerZone = 512
	// maxNegZones bounds the zones whose NSEC records are kept.
	maxNegZones = 1024
)

// negCache holds validated NSEC and NSEC3 records and SOAs by zone.
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
	// nsec3 holds the zone's NSEC3 records, all with the same hash
	// parameters (a change of salt or iterations starts afresh).
	nsec3 []negNSEC3
}

type negNSEC3 struct {
	nsec3   *dns.NSEC3
	sigs    []dns.RR
	expires time.Time
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
	fresh := &negZone{}
	if z, found, _ := c.zones.PeekOrAdd(name, fresh); found {
		return z // another goroutine added it first
	}
	return fresh
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
func (c *negCache) add(zone string, s *rrset, maxIter uint16, now time.Time) {
	switch {
	case s.typ == dns.TypeSOA && s.name == zone:
	case s.typ == dns.TypeNSEC && isAncestor(zone, s.name):
	case s.typ == dns.TypeNSEC3 && parent(s.name) == zone:
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
	if s.typ == dns.TypeNSEC3 {
		z.addNSEC3(s, sigs, exp, maxIter, now)
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

// addNSEC3 keeps a verified NSEC3 record, unless it is opt-out, uses
// parameters the validator does not accept, or differs in them from the
// ones kept (then those are dropped: the zone was re-salted).
func (z *negZone) addNSEC3(s *rrset, sigs []dns.RR, exp time.Time, maxIter uint16, now time.Time) {
	n, ok := s.rrs[0].(*dns.NSEC3)
	if !ok || len(s.rrs) != 1 || n.Hash != dns.SHA1 || n.Flags != 0 || n.Iterations > maxIter {
		return
	}
	if len(z.nsec3) > 0 {
		first := z.nsec3[0].nsec3
		if first.Iterations != n.Iterations || !strings.EqualFold(first.Salt, n.Salt) {
			z.nsec3 = nil
		}
	}
	c := dns.Copy(n).(*dns.NSEC3)
	c.Hdr.Name = s.name // canonical, as nsec3Proof compares them
	e := negNSEC3{nsec3: c, sigs: sigs, expires: exp}
	for i, o := range z.nsec3 {
		if o.nsec3.Hdr.Name == s.name {
			z.nsec3[i] = e
			return
		}
	}
	z.nsec3 = append(z.nsec3, e)
	if len(z.nsec3) > maxNSECPerZone {
		z.nsec3 = slices.DeleteFunc(z.nsec3, func(e negNSEC3) bool { return !now.Before(e.expires) })
		if len(z.nsec3) > maxNSECPerZone*3/4 {
			z.nsec3 = slices.Delete(z.nsec3, 0, len(z.nsec3)/2) // the older half
		}
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
	rcode, proof, exp := z.nsecDenial(zone, q, r.now)
	if rcode < 0 {
		rcode, proof, exp = z.nsec3Denial(r, zone, q)
	}
	if rcode < 0 {
		return nil
	}
	// The answer lives as long as its shortest-lived record, and no longer
	// than the zone's negative TTL (RFC 8198, RFC 9077).
	soa := z.soa[0].(*dns.SOA)
	exp = minTime(exp, z.soaExpires)
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
	for _, rr := range append(slices.Clip(z.soa), proof...) {
		rr = dns.Copy(rr)
		rr.Header().Ttl = ttl
		m.Ns = append(m.Ns, rr)
	}
	m.SetEdns0(resolver.DefaultBufSize, true)
	r.v.metrics.aggressive.WithLabelValues(dns.RcodeToString[rcode]).Inc()
	return m
}

// nsecDenial returns the rcode that z's NSEC records prove for q (-1 for
// none), the records of the proof with their RRSIGs, and when the first of
// them expires.
func (z *negZone) nsecDenial(zone string, q resolver.Question, now time.Time) (int, []dns.RR, time.Time) {
	var used []*negNSEC
	// The records that can take part in a proof: the one at the name, or
	// the one covering it and those at or covering its wildcard.
	exact, pred := z.find(q.Name, now)
	switch {
	case exact != nil:
		used = append(used, exact)
	case pred != nil && nsecCovers(zone, pred.nsec, q.Name):
		used = append(used, pred)
		we, wp := z.find(wildcardOf(nsecClosestEncloser(q.Name, pred.nsec)), now)
		for _, e := range []*negNSEC{we, wp} {
			if e != nil && !slices.Contains(used, e) {
				used = append(used, e)
			}
		}
	default:
		return -1, nil, time.Time{}
	}
	nsecs := make([]*dns.NSEC, len(used))
	for i, e := range used {
		nsecs[i] = e.nsec
	}
	rcode := -1
	if exact == nil && nsecProvesNX(zone, q.Name, nsecs) {
		rcode = dns.RcodeNameError
	} else if ok, _ := nsecProvesNodata(zone, q.Name, q.Type, nsecs); ok {
		rcode = dns.RcodeSuccess
	}
	if rcode < 0 {
		return -1, nil, time.Time{}
	}
	var (
		proof []dns.RR
		exp   time.Time
	)
	for i, e := range used {
		proof = append(append(proof, e.nsec), e.sigs...)
		if i == 0 || e.expires.Before(exp) {
			exp = e.expires
		}
	}
	return rcode, proof, exp
}

// nsec3Denial is nsecDenial for z's NSEC3 records: the proofs of RFC 5155
// section 8, checked by the same code as upstream answers, over records
// that are none of them opt-out.
func (z *negZone) nsec3Denial(r *run, zone string, q resolver.Question) (int, []dns.RR, time.Time) {
	var recs []*dns.NSEC3
	byRec := make(map[*dns.NSEC3]*negNSEC3)
	for i := range z.nsec3 {
		if e := &z.nsec3[i]; r.now.Before(e.expires) {
			recs = append(recs, e.nsec3)
			byRec[e.nsec3] = e
		}
	}
	if len(recs) == 0 {
		return -1, nil, time.Time{}
	}
	p := r.nsec3Proof(zone, recs)
	if p == nil || p.tooCostly {
		return -1, nil, time.Time{}
	}
	rcode := -1
	if d, err := p.deny(q.Name, q.Type, false); err == nil && d.status == Secure {
		rcode = dns.RcodeSuccess
	} else if d, err := p.deny(q.Name, q.Type, true); err == nil && d.status == Secure {
		rcode = dns.RcodeNameError
	}
	if rcode < 0 {
		return -1, nil, time.Time{}
	}
	// The records the proof used: the match for the name, or the closest
	// encloser's, the next closer name's cover and the wildcard's match or
	// cover. The hashes are cached in p: no new work.
	var used []*dns.NSEC3
	use := func(n *dns.NSEC3) {
		if n != nil && !slices.Contains(used, n) {
			used = append(used, n)
		}
	}
	if h, err := p.hash(q.Name); err == nil && p.match(h) != nil {
		use(p.match(h))
	} else if ce, cov, ok, err := p.closestEncloser(q.Name); err == nil && ok {
		hc, _ := p.hash(ce)
		use(p.match(hc))
		use(cov)
		if hw, err := p.hash(wildcardOf(ce)); err == nil {
			use(p.match(hw))
			use(p.cover(hw))
		}
	}
	var (
		proof []dns.RR
		exp   time.Time
	)
	for i, n := range used {
		e := byRec[n]
		proof = append(append(proof, e.nsec3), e.sigs...)
		if i == 0 || e.expires.Before(exp) {
			exp = e.expires
		}
	}
	return rcode, proof, exp
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
