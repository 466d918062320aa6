package validator

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// The chain of trust. A zone's keys are trusted when its DNSKEY RRset is
// signed by a key that a trust anchor or a validated DS RRset in the
// parent points at; the DS RRset is trusted when the parent's keys sign
// it; and so on up to an anchor. An unsigned zone is proven insecure by a
// signed parent's proof that no DS exists at the delegation. Both results
// are cached per zone (zoneKeys) and per DS owner name (dsResult), each
// for as long as the records they rest on live.

// zoneKeys is what we know about a zone's keys.
type zoneKeys struct {
	status  Status // Secure, Insecure, Indeterminate or Bogus
	keys    []zkey // the zone's usable keys, when Secure
	set     *rrset // the validated DNSKEY RRset with its RRSIGs, when Secure (copies)
	fail    *failure
	expires time.Time
}

// dsKind is what a DS lookup proved about a name.
type dsKind uint8

const (
	dsFound         dsKind = iota // a validated DS RRset with supported entries: a signed zone starts here
	dsInsecure                    // an unsigned delegation, only unsupported DS entries, or an insecure parent
	dsNoCut                       // the name exists and is not a delegation point
	dsNoName                      // the name does not exist
	dsBogus                       // the proof failed
	dsIndeterminate               // no trust anchor covers the name
)

type dsResult struct {
	kind    dsKind
	ds      []*dns.DS // when dsFound
	fail    *failure  // when dsBogus
	expires time.Time
}

// lifetime returns when a result resting on records valid for ttl expires.
func (r *run) lifetime(ttl time.Duration) time.Time {
	return r.now.Add(min(ttl, maxKeyTTL))
}

// keysFor returns the validated keys of zone, or why there are none.
func (r *run) keysFor(zone string) (*zoneKeys, error) {
	if e, ok := r.v.keys.Get(zone); ok && r.now.Before(e.expires) {
		return e, nil
	}
	if e := r.awaitKeys(zone); e != nil {
		return e, nil
	}
	return r.loadKeys(zone)
}

// loadKeys is keysFor without the caches: it fetches zone's keys, checks
// them against the chain of trust and caches the result.
func (r *run) loadKeys(zone string) (*zoneKeys, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	var (
		e   *zoneKeys
		err error
	)
	if a := r.v.anchors[zone]; a != nil {
		e, err = r.keysFromTrust(zone, a.ds, a.keys, maxKeyTTL)
	} else {
		ds, derr := r.dsFor(zone)
		if derr != nil {
			return nil, derr
		}
		left := ds.expires.Sub(r.now)
		switch ds.kind {
		case dsFound:
			e, err = r.keysFromTrust(zone, ds.ds, nil, left)
		case dsInsecure:
			e = &zoneKeys{status: Insecure, expires: ds.expires}
		case dsIndeterminate:
			e = &zoneKeys{status: Indeterminate, expires: ds.expires}
		case dsBogus:
			e = &zoneKeys{status: Bogus, fail: ds.fail, expires: ds.expires}
		default: // dsNoCut, dsNoName
			e = &zoneKeys{status: Bogus, expires: r.now.Add(min(left, bogusTTL)),
				fail: fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, zone+" signs records but is not a delegated zone")}
		}
	}
	if err != nil {
		return nil, err
	}
	r.v.keys.Add(zone, e)
	return e, nil
}

// copySet returns a deep copy of s: the records also go to the client.
func copySet(s *rrset) *rrset {
	c := &rrset{name: s.name, typ: s.typ}
	for _, rr := range s.rrs {
		c.rrs = append(c.rrs, dns.Copy(rr))
	}
	for _, sig := range s.sigs {
		c.sigs = append(c.sigs, dns.Copy(sig).(*dns.RRSIG))
	}
	return c
}

// keysFromTrust fetches zone's DNSKEY RRset and validates it against the
// DS records or anchor keys that vouch for it, whose own lifetime is
// left.
func (r *run) keysFromTrust(zone string, dss []*dns.DS, anchorKeys []*dns.DNSKEY, left time.Duration) (*zoneKeys, error) {
	dss = supportedDS(dss)
	var akeys []*dns.DNSKEY
	for _, k := range anchorKeys {
		if usableKey(k) {
			akeys = append(akeys, k)
		}
	}
	if len(dss) == 0 && len(akeys) == 0 {
		// Only algorithms or digests we do not implement: insecure, not
		// bogus (RFC 4035 section 5.2, RFC 6840 section 5.2).
		return &zoneKeys{status: Insecure, expires: r.lifetime(left)}, nil
	}
	bogus := func(f *failure) *zoneKeys {
		return &zoneKeys{status: Bogus, fail: f, expires: r.now.Add(min(left, bogusTTL))}
	}
	m, err := r.fetchKeys(zone)
	if err != nil {
		return nil, err
	}
	set := find(groupRRsets(m.Answer), zone, dns.TypeDNSKEY)
	if set == nil {
		return bogus(fail(dns.ExtendedErrorCodeDNSKEYMissing, reasonNoKey, "no DNSKEY RRset for "+zone)), nil
	}
	var all []*dns.DNSKEY
	for _, rr := range set.rrs {
		all = append(all, rr.(*dns.DNSKEY))
	}
	keys := zkeys(all)
	var trusted []zkey
	for _, k := range keys {
		if matchesKey(k.k, akeys) || matchesDS(k, dss) {
			trusted = append(trusted, k)
		}
	}
	if len(trusted) == 0 {
		return bogus(fail(dns.ExtendedErrorCodeDNSKEYMissing, reasonNoKey, "no DNSKEY of "+zone+" matches its DS")), nil
	}
	_, f, err := r.verifySet(set, zone, trusted)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return bogus(f), nil
	}
	return &zoneKeys{status: Secure, keys: keys, set: copySet(set), expires: r.lifetime(min(left, ttlOf(set)))}, nil
}

// supportedDS returns the DS records we can check: supported algorithm
// and a SHA-1, SHA-256 or SHA-384 digest, SHA-1 only when no stronger
// digest is offered (RFC 4509 section 3), at most maxDSPerZone. Others
// are ignored (RFC 4035 section 5.2).
func supportedDS(dss []*dns.DS) []*dns.DS {
	strong := false
	for _, ds := range dss {
		if supportedAlgorithm(ds.Algorithm) && (ds.DigestType == dns.SHA256 || ds.DigestType == dns.SHA384) {
			strong = true
		}
	}
	var out []*dns.DS
	for _, ds := range dss {
		if !supportedAlgorithm(ds.Algorithm) {
			continue
		}
		switch ds.DigestType {
		case dns.SHA256, dns.SHA384:
		case dns.SHA1:
			if strong {
				continue
			}
		default:
			continue
		}
		if len(out) == maxDSPerZone {
			break
		}
		out = append(out, ds)
	}
	return out
}

// matchesDS reports whether one of dss is the digest of k.
func matchesDS(k zkey, dss []*dns.DS) bool {
	for _, ds := range dss {
		if ds.KeyTag != k.tag || ds.Algorithm != k.k.Algorithm {
			continue
		}
		if d := k.k.ToDS(ds.DigestType); d != nil && strings.EqualFold(d.Digest, ds.Digest) {
			return true
		}
	}
	return false
}

// matchesKey reports whether k is one of the anchor keys.
func matchesKey(k *dns.DNSKEY, anchorKeys []*dns.DNSKEY) bool {
	for _, a := range anchorKeys {
		if a.Algorithm == k.Algorithm && a.Protocol == k.Protocol && a.PublicKey == k.PublicKey {
			return true
		}
	}
	return false
}

// dsFor returns what the parent side says about a DS RRset at name.
func (r *run) dsFor(name string) (*dsResult, error) {
	if e, ok := r.v.ds.Get(name); ok && r.now.Before(e.expires) {
		return e, nil
	}
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	e, err := r.dsFromReferral(name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		m, err := r.fetch(name, dns.TypeDS)
		if err != nil {
			return nil, err
		}
		if e, err = r.dsFromMsg(name, m); err != nil {
			return nil, err
		}
	}
	r.v.ds.Add(name, e)
	return e, nil
}

// ReferralDS is implemented by an upstream that keeps what the parent's
// referral to a zone cut said about its DS RRset (the recursor does): a
// reply like one to a DS query, with the DS records and RRSIGs in the
// answer section or the NSEC/NSEC3 proof that there are none in the
// authority section; nil when it has nothing.
type ReferralDS interface {
	ReferralDS(name string) *dns.Msg
}

// dsFromReferral validates the DS records or proof of their absence that
// the upstream learnt from the referral to name, exactly as a DS reply is
// validated. Only a clean result is used (a validated DS RRset, or a
// validated proof of an unsigned delegation); anything else, nil, sends
// the validator to ask upstream, whose answer decides: a referral's copy
// must not be able to make a zone bogus that its parent's answer would
// not.
func (r *run) dsFromReferral(name string) (*dsResult, error) {
	up, ok := r.v.cfg.Upstream.(ReferralDS)
	if !ok {
		return nil, nil
	}
	m := up.ReferralDS(name)
	if m == nil {
		return nil, nil
	}
	e, err := r.dsFromMsg(name, m)
	if err != nil {
		return nil, err
	}
	switch e.kind {
	case dsFound, dsInsecure:
		r.v.metrics.referralDS.Inc()
		return e, nil
	}
	return nil, nil
}

func (r *run) dsFromMsg(name string, m *dns.Msg) (*dsResult, error) {
	answer := groupRRsets(m.Answer)
	bogus := func(f *failure) *dsResult {
		return &dsResult{kind: dsBogus, fail: f, expires: r.now.Add(bogusTTL)}
	}
	if set := find(answer, name, dns.TypeDS); set != nil {
		st, _, _, f, err := r.checkSet(set)
		if err != nil {
			return nil, err
		}
		exp := r.lifetime(ttlOf(set))
		switch st {
		case Secure:
			var dss []*dns.DS
			for _, rr := range set.rrs {
				dss = append(dss, rr.(*dns.DS))
			}
			if len(supportedDS(dss)) == 0 {
				return &dsResult{kind: dsInsecure, expires: exp}, nil
			}
			return &dsResult{kind: dsFound, ds: dss, expires: exp}, nil
		case Insecure:
			return &dsResult{kind: dsInsecure, expires: exp}, nil
		case Indeterminate:
			return &dsResult{kind: dsIndeterminate, expires: exp}, nil
		default:
			return bogus(f), nil
		}
	}
	if cn := find(answer, name, dns.TypeCNAME); cn != nil {
		// A CNAME owner is never a zone apex.
		if signerOf(cn) == name {
			return bogus(fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "CNAME at "+name+" signed by itself")), nil
		}
		st, _, _, f, err := r.checkSet(cn)
		if err != nil {
			return nil, err
		}
		exp := r.lifetime(ttlOf(cn))
		switch st {
		case Secure:
			return &dsResult{kind: dsNoCut, expires: exp}, nil
		case Insecure:
			return &dsResult{kind: dsInsecure, expires: exp}, nil
		case Indeterminate:
			return &dsResult{kind: dsIndeterminate, expires: exp}, nil
		default:
			return bogus(f), nil
		}
	}
	d, err := r.checkDenial(name, dns.TypeDS, m.Rcode == dns.RcodeNameError, newAuthority(m.Ns))
	if err != nil {
		return nil, err
	}
	exp := r.lifetime(d.ttl)
	switch d.status {
	case Secure:
		switch {
		case d.nodata && d.delegation:
			return &dsResult{kind: dsInsecure, expires: exp}, nil // NS without DS: an unsigned delegation
		case d.nodata:
			return &dsResult{kind: dsNoCut, expires: exp}, nil
		default:
			return &dsResult{kind: dsNoName, expires: exp}, nil
		}
	case Insecure:
		return &dsResult{kind: dsInsecure, expires: exp}, nil
	case Indeterminate:
		return &dsResult{kind: dsIndeterminate, expires: exp}, nil
	default:
		return bogus(d.fail), nil
	}
}

// statusOfName returns the status of the zone holding name, walking DS
// lookups down from the closest trust anchor: Insecure once an unsigned
// delegation (or an insecure zone) is proven on the way, Secure when name
// lies in a signed zone, Bogus when a proof on the way fails. This is how
// unsigned data is told apart from stripped signatures.
func (r *run) statusOfName(name string) (Status, *failure, error) {
	if err := r.enter(); err != nil {
		return 0, nil, err
	}
	defer r.leave()
	top, ok := r.v.anchors.closest(name)
	if !ok {
		return Indeterminate, nil, nil
	}
	zk, err := r.keysFor(top)
	if err != nil {
		return 0, nil, err
	}
	if zk.status != Secure {
		return zk.status, zk.fail, nil
	}
	for _, c := range between(top, name) {
		if r.v.anchors[c] == nil {
			ds, err := r.dsFor(c)
			if err != nil {
				return 0, nil, err
			}
			switch ds.kind {
			case dsFound: // a signed zone starts at c: its keys must validate
			case dsInsecure:
				return Insecure, nil, nil
			case dsIndeterminate:
				return Indeterminate, nil, nil
			case dsNoCut:
				continue
			case dsNoName:
				return Secure, nil, nil // nothing below c exists, in a signed zone
			default:
				return Bogus, ds.fail, nil
			}
		}
		zk, err := r.keysFor(c)
		if err != nil {
			return 0, nil, err
		}
		if zk.status != Secure {
			return zk.status, zk.fail, nil
		}
	}
	return Secure, nil, nil
}

// checkSet validates one RRset: with a signature by the zone that holds
// it, or, unsigned, as data in a provably insecure zone. It returns the
// status, and when Secure the signature that verified and its zone.
func (r *run) checkSet(s *rrset) (Status, *dns.RRSIG, string, *failure, error) {
	signer := signerOf(s)
	if signer == "" {
		at := s.name
		if s.typ == dns.TypeDS {
			at = parent(s.name)
		}
		st, f, err := r.statusOfName(at)
		if err != nil {
			return 0, nil, "", nil, err
		}
		if st == Secure {
			return Bogus, nil, "", fail(dns.ExtendedErrorCodeRRSIGsMissing, reasonNoSig, "no RRSIG over "+s.String()), nil
		}
		return st, nil, "", f, nil
	}
	zk, err := r.keysFor(signer)
	if err != nil {
		return 0, nil, "", nil, err
	}
	if zk.status != Secure {
		if zk.status == Insecure && r.v.anchors.below(signer, s.name) {
			return Bogus, nil, "", fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, s.String()+" is signed by "+signer+", above its trust anchor"), nil
		}
		return zk.status, nil, signer, zk.fail, nil
	}
	sig, f, err := r.verifySet(s, signer, zk.keys)
	if err != nil {
		return 0, nil, "", nil, err
	}
	if f != nil {
		return Bogus, nil, signer, f, nil
	}
	return Secure, sig, signer, nil, nil
}
