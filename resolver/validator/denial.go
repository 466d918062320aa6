package validator

import (
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Authenticated denial of existence: NSEC (RFC 4035 section 5.4, RFC 6840
// section 4) and NSEC3 (RFC 5155 section 8, RFC 9276).

// denial is the outcome of checking a negative answer.
type denial struct {
	status Status
	fail   *failure
	// With status Secure: nodata is set when the name exists (NODATA, or
	// an empty non-terminal), and delegation when it is a delegation point
	// (NS without SOA), which for a DS question means an unsigned
	// delegation.
	nodata, delegation bool
	ttl                time.Duration // how long the proof lives
}

// denialRecords are the SOA, NSEC and NSEC3 records one zone signed in a
// message, verified.
type denialRecords struct {
	nsec  []*dns.NSEC
	nsec3 []*dns.NSEC3
	ttl   time.Duration
	fail  *failure
}

// authority is a message's authority section as RRsets, with the denial
// records each zone signed there once they are verified.
type authority struct {
	sets     []*rrset
	verified map[string]*denialRecords // by signer zone
}

func newAuthority(section []dns.RR) *authority {
	return &authority{sets: groupRRsets(section), verified: make(map[string]*denialRecords)}
}

// denialsBy verifies, once per message, every SOA, NSEC and NSEC3 RRset in
// auth that zone signed.
func (r *run) denialsBy(zone string, keys []zkey, auth *authority) (*denialRecords, error) {
	if d := auth.verified[zone]; d != nil {
		return d, nil
	}
	d := &denialRecords{ttl: maxKeyTTL}
	var sets []*rrset
	for _, s := range auth.sets {
		switch s.typ {
		case dns.TypeSOA, dns.TypeNSEC, dns.TypeNSEC3:
		default:
			continue
		}
		if !slices.ContainsFunc(s.sigs, func(sig *dns.RRSIG) bool { return dns.CanonicalName(sig.SignerName) == zone }) {
			continue // another zone's proof (a wildcard earlier in a CNAME chain)
		}
		sets = append(sets, s)
	}
	r.preverify(zone, keys, sets)
	for _, s := range sets {
		_, f, err := r.verifySet(s, zone, keys)
		if err != nil {
			return nil, err
		}
		if f != nil {
			d.fail = f
			break
		}
		d.ttl = min(d.ttl, ttlOf(s))
		if r.v.neg != nil {
			r.v.neg.add(zone, s, r.v.cfg.NSEC3MaxIterations, r.now)
		}
		for _, rr := range s.rrs {
			switch rr := rr.(type) {
			case *dns.NSEC:
				d.nsec = append(d.nsec, rr)
			case *dns.NSEC3:
				d.nsec3 = append(d.nsec3, rr)
			}
		}
	}
	auth.verified[zone] = d
	return d, nil
}

// checkDenial validates the proof in auth that name has no qtype data (nx
// false) or does not exist at all (nx true).
func (r *run) checkDenial(name string, qtype uint16, nx bool, auth *authority) (denial, error) {
	what := name + " " + dns.Type(qtype).String()
	// The denying zone: the deepest signer of a denial record that may
	// hold name. The DS RRset lives on the parent side of a cut.
	signer, records := "", false
	for _, s := range auth.sets {
		switch s.typ {
		case dns.TypeNSEC, dns.TypeNSEC3:
			records = true
		case dns.TypeSOA:
		default:
			continue
		}
		z := signerOf(s)
		if z == "" || !isAncestor(z, name) || (qtype == dns.TypeDS && z == name && name != ".") {
			continue
		}
		if signer == "" || labels(z) > labels(signer) {
			signer = z
		}
	}
	if signer == "" {
		at := name
		if qtype == dns.TypeDS {
			at = parent(name)
		}
		st, f, err := r.statusOfName(at)
		if err != nil {
			return denial{}, err
		}
		if st == Secure {
			if records {
				return denial{status: Bogus, fail: fail(dns.ExtendedErrorCodeRRSIGsMissing, reasonNoSig, "denial of "+what+" is not signed")}, nil
			}
			return denial{status: Bogus, fail: fail(dns.ExtendedErrorCodeNSECMissing, reasonNoNSEC, "no NSEC or NSEC3 records deny "+what)}, nil
		}
		ttl := bogusTTL
		if st != Bogus {
			ttl = minTTL(auth.sets)
		}
		return denial{status: st, fail: f, ttl: ttl}, nil
	}
	zk, err := r.keysFor(signer)
	if err != nil {
		return denial{}, err
	}
	if zk.status != Secure {
		if zk.status == Insecure && r.v.anchors.below(signer, name) {
			return denial{status: Bogus, fail: fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "denial of "+what+" signed above its trust anchor")}, nil
		}
		return denial{status: zk.status, fail: zk.fail, ttl: zk.expires.Sub(r.now)}, nil
	}
	d, err := r.denialsBy(signer, zk.keys, auth)
	if err != nil {
		return denial{}, err
	}
	if d.fail != nil {
		return denial{status: Bogus, fail: d.fail}, nil
	}
	noProof := func() denial {
		return denial{status: Bogus, fail: fail(dns.ExtendedErrorCodeNSECMissing, reasonNoNSEC, "no valid proof denies "+what)}
	}
	var out denial
	switch {
	case len(d.nsec) > 0:
		if nx {
			if !nsecProvesNX(signer, name, d.nsec) {
				return noProof(), nil
			}
			out = denial{status: Secure}
		} else {
			ok, deleg := nsecProvesNodata(signer, name, qtype, d.nsec)
			if !ok {
				return noProof(), nil
			}
			out = denial{status: Secure, nodata: true, delegation: deleg}
		}
	case len(d.nsec3) > 0:
		p := r.nsec3Proof(signer, d.nsec3)
		if p == nil {
			return noProof(), nil
		}
		if p.tooCostly {
			out = denial{status: Insecure} // RFC 9276 section 3.2
			break
		}
		if out, err = p.deny(name, qtype, nx); err != nil {
			return denial{}, err
		}
		if out.status == Bogus {
			return noProof(), nil
		}
	default:
		return denial{status: Bogus, fail: fail(dns.ExtendedErrorCodeNSECMissing, reasonNoNSEC, "no NSEC or NSEC3 records from "+signer+" deny "+what)}, nil
	}
	out.ttl = min(d.ttl, zk.expires.Sub(r.now))
	return out, nil
}

// checkWildcard validates the proof that an answer owner, synthesized from
// the wildcard at "*."+ce in zone, does not exist itself (RFC 4035
// section 5.3.4, RFC 5155 section 8.8).
func (r *run) checkWildcard(owner, ce, zone string, auth *authority) (Status, *failure, error) {
	zk, err := r.keysFor(zone)
	if err != nil {
		return 0, nil, err
	}
	d, err := r.denialsBy(zone, zk.keys, auth)
	if err != nil {
		return 0, nil, err
	}
	if d.fail != nil {
		return Bogus, d.fail, nil
	}
	if len(d.nsec) == 0 && len(d.nsec3) == 0 {
		return Bogus, fail(dns.ExtendedErrorCodeNSECMissing, reasonNoNSEC, "no proof that "+owner+" does not exist, for its wildcard answer"), nil
	}
	for _, n := range d.nsec {
		if nsecCovers(zone, n, owner) && nsecClosestEncloser(owner, n) == ce {
			return Secure, nil, nil
		}
	}
	if p := r.nsec3Proof(zone, d.nsec3); p != nil {
		if p.tooCostly {
			return Insecure, nil, nil
		}
		h, err := p.hash(nextCloser(owner, ce))
		if err != nil {
			return 0, nil, err
		}
		if p.cover(h) != nil {
			return Secure, nil, nil
		}
	}
	return Bogus, fail(dns.ExtendedErrorCodeDNSBogus, reasonNoNSEC, "wildcard answer for "+owner+" without proof that the name does not exist"), nil
}

func wildcardOf(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + ce
}

func hasType(bitmap []uint16, t uint16) bool { return slices.Contains(bitmap, t) }

// isDelegation reports whether a bitmap marks a parent-side delegation
// point: NS without SOA.
func isDelegation(bitmap []uint16) bool {
	return hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeSOA)
}

// nsecCovers reports whether NSEC n of zone proves that name does not
// exist: name sorts strictly between n's owner and next name, and n is not
// a delegation point or DNAME above name, whose NSEC says nothing about
// names below it (RFC 6840 section 4.1).
func nsecCovers(zone string, n *dns.NSEC, name string) bool {
	owner, next := dns.CanonicalName(n.Hdr.Name), dns.CanonicalName(n.NextDomain)
	if owner == name || !isAncestor(zone, owner) || !isAncestor(zone, name) {
		return false
	}
	if isProperAncestor(owner, name) && (isDelegation(n.TypeBitMap) || hasType(n.TypeBitMap, dns.TypeDNAME)) {
		return false
	}
	if canonicalCompare(owner, name) >= 0 {
		return false
	}
	if canonicalCompare(owner, next) < 0 {
		return canonicalCompare(name, next) < 0
	}
	return true // the zone's last NSEC: next wraps around to the apex
}

// nsecClosestEncloser returns the closest encloser of a name that n covers:
// the longer of the name's common ancestors with n's owner and next name.
func nsecClosestEncloser(name string, n *dns.NSEC) string {
	a := commonAncestor(name, dns.CanonicalName(n.Hdr.Name))
	b := commonAncestor(name, dns.CanonicalName(n.NextDomain))
	if labels(b) > labels(a) {
		return b
	}
	return a
}

// nsecProvesNX reports whether nsecs prove that name does not exist and no
// wildcard could have answered for it (RFC 4035 section 5.4).
func nsecProvesNX(zone, name string, nsecs []*dns.NSEC) bool {
	var cover *dns.NSEC
	for _, n := range nsecs {
		if dns.CanonicalName(n.Hdr.Name) == name {
			return false
		}
		if cover == nil && nsecCovers(zone, n, name) {
			cover = n
		}
	}
	if cover == nil || isProperAncestor(name, dns.CanonicalName(cover.NextDomain)) {
		return false // nothing covers name, or name is an empty non-terminal
	}
	wc := wildcardOf(nsecClosestEncloser(name, cover))
	for _, n := range nsecs {
		if dns.CanonicalName(n.Hdr.Name) == wc {
			return false
		}
	}
	for _, n := range nsecs {
		if nsecCovers(zone, n, wc) {
			return true
		}
	}
	return false
}

// nsecProvesNodata reports whether nsecs prove that name has no qtype data
// and, if so, whether name is a delegation point.
func nsecProvesNodata(zone, name string, qtype uint16, nsecs []*dns.NSEC) (ok, delegation bool) {
	for _, n := range nsecs {
		if dns.CanonicalName(n.Hdr.Name) != name {
			continue
		}
		bm := n.TypeBitMap
		if hasType(bm, qtype) || hasType(bm, dns.TypeCNAME) {
			return false, false
		}
		if qtype == dns.TypeDS {
			if hasType(bm, dns.TypeSOA) && name != "." {
				return false, false // the child's apex NSEC cannot deny the parent's DS
			}
		} else if isDelegation(bm) {
			return false, false // the parent's NSEC cannot deny the child's data
		}
		return true, isDelegation(bm)
	}
	for _, n := range nsecs {
		if !nsecCovers(zone, n, name) {
			continue
		}
		// An empty non-terminal: the next name lies below name.
		if isProperAncestor(name, dns.CanonicalName(n.NextDomain)) {
			return true, false
		}
		// Wildcard NODATA (RFC 4035 section 3.1.3.4): name does not exist
		// and the wildcard that would answer has no qtype data.
		wc := wildcardOf(nsecClosestEncloser(name, n))
		for _, w := range nsecs {
			if dns.CanonicalName(w.Hdr.Name) == wc && !hasType(w.TypeBitMap, qtype) && !hasType(w.TypeBitMap, dns.TypeCNAME) {
				return true, false
			}
		}
	}
	return false, false
}

// nsec3Proof holds one zone's NSEC3 records that share parameters, and
// hashes names against them within the run's budget.
type nsec3Proof struct {
	r         *run
	zone      string
	recs      []*dns.NSEC3
	hashes    []string // owner hash of each record, upper case
	iter      uint16
	salt      string
	tooCostly bool // iterations above the limit: the proof is not checked
	cache     map[string]string
}

// nsec3Proof returns the proof context for zone's NSEC3 records, or nil
// when none is usable. Records with an unknown hash algorithm or flags, or
// with parameters other than the first usable record's, are ignored (RFC
// 5155 section 8.1 and 8.2).
func (r *run) nsec3Proof(zone string, recs []*dns.NSEC3) *nsec3Proof {
	p := &nsec3Proof{r: r, zone: zone, cache: make(map[string]string)}
	for _, n := range recs {
		h, rest, _ := strings.Cut(dns.CanonicalName(n.Hdr.Name), ".")
		if rest == "" {
			rest = "."
		}
		if n.Hash != dns.SHA1 || n.Flags > 1 || rest != zone || len(h) != 32 {
			continue
		}
		if len(p.recs) == 0 {
			p.iter, p.salt = n.Iterations, n.Salt
		} else if n.Iterations != p.iter || !strings.EqualFold(n.Salt, p.salt) {
			continue
		}
		p.recs = append(p.recs, n)
		p.hashes = append(p.hashes, strings.ToUpper(h))
	}
	if len(p.recs) == 0 {
		return nil
	}
	p.tooCostly = p.iter > r.v.cfg.NSEC3MaxIterations
	return p
}

// hash returns name's NSEC3 hash, upper-case base32hex.
func (p *nsec3Proof) hash(name string) (string, error) {
	if h, ok := p.cache[name]; ok {
		return h, nil
	}
	if err := p.r.spendHash(p.iter); err != nil {
		return "", err
	}
	h := dns.HashName(name, dns.SHA1, p.iter, p.salt)
	p.cache[name] = h
	return h, nil
}

// match returns the record whose owner hash is h.
func (p *nsec3Proof) match(h string) *dns.NSEC3 {
	if h == "" {
		return nil
	}
	for i, o := range p.hashes {
		if o == h {
			return p.recs[i]
		}
	}
	return nil
}

// cover returns the record whose span strictly covers h.
func (p *nsec3Proof) cover(h string) *dns.NSEC3 {
	if h == "" {
		return nil
	}
	for i, o := range p.hashes {
		next := strings.ToUpper(p.recs[i].NextDomain)
		if h == o {
			continue
		}
		if o < next {
			if o < h && h < next {
				return p.recs[i]
			}
		} else if h > o || h < next { // the last span wraps around
			return p.recs[i]
		}
	}
	return nil
}

// closestEncloser finds the closest provable encloser of name (RFC 5155
// section 8.3): the longest ancestor whose hash matches a record, which
// must be neither a delegation nor a DNAME, with the next closer name's
// hash covered. It returns the encloser and the covering record.
func (p *nsec3Proof) closestEncloser(name string) (string, *dns.NSEC3, bool, error) {
	for s := name; isAncestor(p.zone, s); s = parent(s) {
		h, err := p.hash(s)
		if err != nil {
			return "", nil, false, err
		}
		if m := p.match(h); m != nil {
			if s == name || hasType(m.TypeBitMap, dns.TypeDNAME) || isDelegation(m.TypeBitMap) {
				return "", nil, false, nil
			}
			hn, err := p.hash(nextCloser(name, s))
			if err != nil {
				return "", nil, false, err
			}
			cov := p.cover(hn)
			return s, cov, cov != nil, nil
		}
		if s == p.zone {
			break
		}
	}
	return "", nil, false, nil
}

// deny checks an NSEC3 proof of NXDOMAIN (RFC 5155 section 8.4) or NODATA
// (8.5 to 8.7). Opt-out spans make the answer insecure (section 9.2).
func (p *nsec3Proof) deny(name string, qtype uint16, nx bool) (denial, error) {
	bogus := denial{status: Bogus}
	if nx {
		ce, cov, ok, err := p.closestEncloser(name)
		if err != nil || !ok {
			return bogus, err
		}
		if cov.Flags&1 != 0 {
			return denial{status: Insecure}, nil // name may exist in an unsigned delegation
		}
		h, err := p.hash(wildcardOf(ce))
		if err != nil {
			return bogus, err
		}
		if p.cover(h) == nil {
			return bogus, nil
		}
		return denial{status: Secure}, nil
	}
	h, err := p.hash(name)
	if err != nil {
		return bogus, err
	}
	if m := p.match(h); m != nil {
		bm := m.TypeBitMap
		if hasType(bm, qtype) || hasType(bm, dns.TypeCNAME) {
			return bogus, nil
		}
		if qtype == dns.TypeDS {
			if hasType(bm, dns.TypeSOA) && name != "." {
				return bogus, nil
			}
		} else if isDelegation(bm) {
			return bogus, nil
		}
		return denial{status: Secure, nodata: true, delegation: isDelegation(bm)}, nil
	}
	ce, cov, ok, err := p.closestEncloser(name)
	if err != nil || !ok {
		return bogus, err
	}
	hw, err := p.hash(wildcardOf(ce))
	if err != nil {
		return bogus, err
	}
	if w := p.match(hw); w != nil && !hasType(w.TypeBitMap, qtype) && !hasType(w.TypeBitMap, dns.TypeCNAME) {
		return denial{status: Secure, nodata: true}, nil // wildcard NODATA
	}
	if cov.Flags&1 != 0 {
		// No matching record, but an opt-out span over the next closer
		// name: for DS, an unsigned delegation may sit there (RFC 5155
		// section 8.6); for other types Unbound too calls this insecure.
		return denial{status: Insecure}, nil
	}
	return bogus, nil
}

// minTTL returns the smallest TTL in sets, or bogusTTL when there is none.
func minTTL(sets []*rrset) time.Duration {
	ttl := time.Duration(-1)
	for _, s := range sets {
		if t := ttlOf(s); ttl < 0 || t < ttl {
			ttl = t
		}
	}
	if ttl < 0 {
		return bogusTTL
	}
	return ttl
}
