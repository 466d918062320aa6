package recursor

import (
	"github.com/miekg/dns"
)

// kind is what a reply means for the resolution.
type kind int

const (
	kindAnswer   kind = iota // records for the name: an answer, or a CNAME/DNAME chain
	kindNXDomain             // the name does not exist
	kindNoData               // the name exists, without records of the type
	kindReferral             // go ask the servers of a zone below
	kindLame                 // the server is not authoritative for the zone, or made no sense
	kindRefused
	kindServfail
	kindFormerr // FORMERR or NOTIMP: perhaps it cannot take EDNS
	kindBroken  // any other rcode
)

// reply is a response scrubbed and classified for one question to one zone.
type reply struct {
	kind  kind
	rcode int
	// chain holds the answer records, from the query name through any
	// CNAME and DNAME records (DNAMEs with the CNAME synthesised from them)
	// to the records of the queried type, with their RRSIGs.
	chain    []dns.RR
	final    string // the name chain ends at: the query name, or the last target
	answered bool   // chain ends in records of the queried type
	hops     int    // CNAME and DNAME records in chain
	chase    bool   // chain stops at a name this reply says nothing about: resolve final
	loop     bool   // chain comes back to a name already in it
	// ns holds the authority records worth passing on: for negative
	// answers the SOA, and denial of existence (NSEC, NSEC3) with RRSIGs;
	// for positive ones denial records only (wildcard proofs).
	ns     []dns.RR
	hasSOA bool
	negTTL uint32 // with hasSOA: min(SOA TTL, SOA MINIMUM), RFC 2308 section 5
	// cut is, for a referral, the zone delegated to, its name servers and
	// in-bailiwick glue; for an answer to an NS question, the same built
	// from the answer (priming uses it). expires is unset; cutTTL is the
	// NS records' TTL.
	cut    *deleg
	cutTTL uint32
	// dsProof is, for a referral with DNSSEC records, what the parent zone
	// said about the DS RRset at the cut: the DS records with their
	// RRSIGs, or the NSEC/NSEC3 records (with RRSIGs) proving there is
	// none. Unvalidated; the validator checks it like a fetched DS reply.
	dsProof []dns.RR
}

// clone returns a copy of rep that shares no record with it (the cut,
// never changed once built, is shared).
func (rep *reply) clone() *reply {
	c := *rep
	c.chain, c.ns, c.dsProof = copyRRs(rep.chain), copyRRs(rep.ns), copyRRs(rep.dsProof)
	return &c
}

func copyRRs(rrs []dns.RR) []dns.RR {
	if rrs == nil {
		return nil
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// classify scrubs resp, the reply of a server of zone to a query for qname
// and qtype (both canonical), and says what it means.
//
// Scrubbing is the defence against cache poisoning by a server that adds
// records it has no authority for (Unbound's iter_scrub.c): only records
// whose owner is inside zone are looked at; of the answer section, only the
// chain from qname; of the authority section, only an NS set delegating
// towards qname, the SOA above the final name, and denial-of-existence
// records; of the additional section, only A and AAAA glue for the
// delegation's name servers inside zone. Everything else is dropped, so it
// can be neither cached nor returned.
func classify(resp *dns.Msg, zone, qname string, qtype uint16) *reply {
	rep := &reply{rcode: resp.Rcode, final: qname}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeYXDomain:
	case dns.RcodeRefused:
		rep.kind = kindRefused
		return rep
	case dns.RcodeServerFailure:
		rep.kind = kindServfail
		return rep
	case dns.RcodeFormatError, dns.RcodeNotImplemented:
		rep.kind = kindFormerr
		return rep
	default:
		rep.kind = kindBroken
		return rep
	}
	canonicalOwners(resp.Answer)
	canonicalOwners(resp.Ns)
	canonicalOwners(resp.Extra)

	rep.walk(inZone(resp.Answer, zone), zone, qname, qtype)
	switch {
	case len(rep.chain) > 0:
		if !resp.Authoritative {
			rep.kind = kindLame // a cached or forged answer, not the authority's
			return rep
		}
		rep.kind = kindAnswer
		if rep.loop {
			return rep // the zone's data loops: the resolution fails
		}
		if rep.answered {
			if rep.rcode == dns.RcodeNameError {
				rep.rcode = dns.RcodeSuccess // data and NXDOMAIN: the data wins
			}
			if qtype == dns.TypeNS && rep.final == qname {
				rep.cut = nsDeleg(rep.chain, resp.Extra, zone, qname)
				rep.cutTTL, _ = nsTTL(rep.chain, qname)
			}
			rep.authority(resp.Ns, zone, false)
			return rep
		}
		// The chain stops short of the answer. If its last name is in this
		// zone and the reply says it has nothing there, that is the
		// (negative) answer; otherwise it has to be resolved anew.
		rep.authority(resp.Ns, zone, true)
		if rep.rcode == dns.RcodeYXDomain || (dns.IsSubDomain(zone, rep.final) &&
			(rep.rcode == dns.RcodeNameError || rep.hasSOA)) {
			return rep
		}
		rep.chase = true
		rep.rcode = dns.RcodeSuccess
		// Keep only denial records: they may prove a wildcard expansion
		// in the chain.
		rep.ns, rep.hasSOA, rep.negTTL = nil, false, 0
		rep.authority(resp.Ns, zone, false)
		return rep
	case len(resp.Answer) > 0:
		rep.kind = kindLame // answer records, none about the question
		return rep
	case resp.Rcode == dns.RcodeNameError:
		if !resp.Authoritative {
			rep.kind = kindLame
			return rep
		}
		rep.kind = kindNXDomain
		rep.authority(resp.Ns, zone, true)
		return rep
	case resp.Rcode == dns.RcodeYXDomain:
		rep.kind = kindBroken // only meaningful after a DNAME
		return rep
	}
	if cut := referral(resp, zone, qname, qtype); cut != nil {
		rep.kind = kindReferral
		rep.cut = cut
		rep.cutTTL, _ = nsTTL(resp.Ns, cut.zone)
		rep.dsProof = referralDS(resp.Ns, zone, cut.zone)
		return rep
	}
	if resp.Authoritative {
		rep.kind = kindNoData
		rep.authority(resp.Ns, zone, true)
		return rep
	}
	// Not authoritative and no usable referral: an empty answer, or a
	// referral to the zone itself, upwards or sideways.
	rep.kind = kindLame
	return rep
}

// walk follows the chain from qname through rrs (all inside zone).
func (rep *reply) walk(rrs []dns.RR, zone, qname string, qtype uint16) {
	cur := qname
	seen := map[string]bool{cur: true}
	next := func(target string) bool {
		rep.hops++
		if seen[target] {
			rep.loop = true
			return false
		}
		seen[target] = true
		cur = target
		return dns.IsSubDomain(zone, cur) // beyond the zone: nothing here is trusted
	}
	for range len(rrs) + 1 {
		if d := dnameAbove(rrs, cur); d != nil {
			// RFC 6672 section 3: substitute and synthesise the CNAME.
			// The server's own synthesised CNAME is not used: the DNAME,
			// with its RRSIG, is what can be validated.
			target, ok := substitute(cur, d.Hdr.Name, d.Target)
			rep.chain = append(rep.chain, rrsetOf(rrs, d.Hdr.Name, dns.TypeDNAME)...)
			if !ok {
				rep.rcode = dns.RcodeYXDomain // the result would be too long
				rep.final = cur
				return
			}
			rep.chain = append(rep.chain, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: cur, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
				Target: target,
			})
			if !next(target) {
				break
			}
			continue
		}
		if set := rrsetOf(rrs, cur, qtype); hasType(set, qtype) {
			rep.chain = append(rep.chain, set...)
			rep.answered = true
			break
		}
		if qtype == dns.TypeCNAME {
			break
		}
		c := cnameAt(rrs, cur)
		if c == nil {
			break
		}
		rep.chain = append(rep.chain, c)
		rep.chain = append(rep.chain, sigsFor(rrs, cur, dns.TypeCNAME)...)
		if !next(dns.CanonicalName(c.Target)) {
			break
		}
	}
	rep.final = cur
}

// authority keeps the authority records worth passing on (see reply.ns).
func (rep *reply) authority(rrs []dns.RR, zone string, negative bool) {
	for _, rr := range rrs {
		h := rr.Header()
		if !dns.IsSubDomain(zone, h.Name) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.SOA:
			if negative && !rep.hasSOA && dns.IsSubDomain(h.Name, rep.final) {
				rep.ns = append(rep.ns, rr)
				rep.hasSOA = true
				rep.negTTL = min(h.Ttl, rr.Minttl)
			}
		case *dns.NSEC, *dns.NSEC3:
			rep.ns = append(rep.ns, rr)
		case *dns.RRSIG:
			switch rr.TypeCovered {
			case dns.TypeNSEC, dns.TypeNSEC3:
				rep.ns = append(rep.ns, rr)
			case dns.TypeSOA:
				if negative && dns.IsSubDomain(h.Name, rep.final) {
					rep.ns = append(rep.ns, rr)
				}
			}
		}
	}
}

// referral returns the delegation in resp's authority section if it is one
// the resolver can follow: an NS set for a zone strictly below zone, at or
// above qname (for DS, strictly above: the parent answers DS), with glue
// from inside zone. Referrals to zone itself, upwards or sideways are not.
func referral(resp *dns.Msg, zone, qname string, qtype uint16) *deleg {
	cut := ""
	for _, rr := range resp.Ns {
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			if dns.IsSubDomain(zone, rr.Header().Name) {
				return nil // a negative answer, whatever else it holds
			}
		case dns.TypeNS:
			owner := rr.Header().Name
			if cut == "" && owner != zone && dns.IsSubDomain(zone, owner) && dns.IsSubDomain(owner, qname) &&
				(qtype != dns.TypeDS || owner != qname) {
				cut = owner
			}
		}
	}
	if cut == "" {
		return nil
	}
	return nsDeleg(resp.Ns, resp.Extra, zone, cut)
}

// referralDS returns what a referral from a server of zone to cut says
// about cut's DS RRset (RFC 4035 section 3.1.4, RFC 5155 section 7.2.7):
// the DS records owned by cut with their RRSIGs or, when there are none,
// the NSEC and NSEC3 records inside zone with their RRSIGs. The DS RRset
// lives on the parent side, so cut being strictly below zone (referral
// checks that) makes the parent's servers the authority for it; DS
// records for any other name, and records from outside zone, are dropped.
func referralDS(rrs []dns.RR, zone, cut string) []dns.RR {
	var ds, denial []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		switch rr := rr.(type) {
		case *dns.DS:
			if h.Name == cut {
				ds = append(ds, rr)
			}
		case *dns.NSEC, *dns.NSEC3:
			if dns.IsSubDomain(zone, h.Name) {
				denial = append(denial, rr)
			}
		case *dns.RRSIG:
			switch rr.TypeCovered {
			case dns.TypeDS:
				if h.Name == cut {
					ds = append(ds, rr)
				}
			case dns.TypeNSEC, dns.TypeNSEC3:
				if dns.IsSubDomain(zone, h.Name) {
					denial = append(denial, rr)
				}
			}
		}
	}
	if hasType(ds, dns.TypeDS) {
		return ds
	}
	if hasType(denial, dns.TypeNSEC) || hasType(denial, dns.TypeNSEC3) {
		return denial
	}
	return nil
}

// nsDeleg builds the delegation to cut from the NS records for cut in rrs
// and the glue in extra that lies inside zone.
func nsDeleg(rrs, extra []dns.RR, zone, cut string) *deleg {
	d := newDeleg(cut)
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok && ns.Hdr.Name == cut {
			d.addNS(ns.Ns)
		}
	}
	if len(d.ns) == 0 {
		return nil
	}
	for _, rr := range extra {
		if dns.IsSubDomain(zone, rr.Header().Name) {
			d.addGlue(rr, true)
		}
	}
	return d
}

// nsTTL returns the smallest TTL of the NS records for zone in rrs.
func nsTTL(rrs []dns.RR, zone string) (uint32, bool) {
	var ttl uint32
	found := false
	for _, rr := range rrs {
		if h := rr.Header(); h.Rrtype == dns.TypeNS && h.Name == zone {
			if !found || h.Ttl < ttl {
				ttl = h.Ttl
			}
			found = true
		}
	}
	return ttl, found
}

func canonicalOwners(rrs []dns.RR) {
	for _, rr := range rrs {
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
	}
}

// inZone returns the records of rrs whose owner is inside zone.
func inZone(rrs []dns.RR, zone string) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if dns.IsSubDomain(zone, rr.Header().Name) {
			out = append(out, rr)
		}
	}
	return out
}

// rrsetOf returns the records of type t owned by owner, with the RRSIGs
// covering them; t ANY returns every record at owner.
func rrsetOf(rrs []dns.RR, owner string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Name != owner {
			continue
		}
		if t == dns.TypeANY || h.Rrtype == t {
			out = append(out, rr)
		} else if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == t {
			out = append(out, rr)
		}
	}
	return out
}

// sigsFor returns the RRSIGs at owner covering type t.
func sigsFor(rrs []dns.RR, owner string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.Hdr.Name == owner && sig.TypeCovered == t {
			out = append(out, rr)
		}
	}
	return out
}

// hasType reports whether set holds a record of type t itself (not only
// signatures over it).
func hasType(set []dns.RR, t uint16) bool {
	for _, rr := range set {
		if t == dns.TypeANY || rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// cnameAt returns the first CNAME record owned by name.
func cnameAt(rrs []dns.RR, name string) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Name == name {
			return c
		}
	}
	return nil
}

// dnameAbove returns a DNAME record owned by a proper ancestor of name.
func dnameAbove(rrs []dns.RR, name string) *dns.DNAME {
	for _, rr := range rrs {
		if d, ok := rr.(*dns.DNAME); ok && d.Hdr.Name != name && dns.IsSubDomain(d.Hdr.Name, name) {
			return d
		}
	}
	return nil
}

// substitute replaces owner, a suffix of name, with target (RFC 6672
// section 2.2). It fails when the result is not a valid name (too long).
func substitute(name, owner, target string) (string, bool) {
	prefix := name[:len(name)-len(owner)]
	if owner == "." {
		prefix = name
	}
	target = dns.CanonicalName(target)
	out := prefix + target
	if target == "." {
		out = prefix
	}
	if out == "" {
		out = "."
	}
	var buf [512]byte
	n, err := dns.PackDomainName(out, buf[:], 0, nil, false)
	if err != nil || n > 255 { // RFC 1035 section 2.3.4
		return "", false
	}
	return out, true
}
