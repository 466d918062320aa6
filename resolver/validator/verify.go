package validator

import (
	"time"

	"github.com/miekg/dns"
)

// rrset is one RRset of a message with the RRSIGs that cover it. The
// records are the message's own, so clamping their TTLs changes the
// message.
type rrset struct {
	name string // canonical owner
	typ  uint16
	rrs  []dns.RR
	sigs []*dns.RRSIG
}

func (s *rrset) String() string { return s.name + " " + dns.Type(s.typ).String() }

// groupRRsets splits a section into RRsets in order of first appearance
// and attaches each RRSIG to the RRset it covers. RRSIGs covering nothing
// in the section are dropped.
func groupRRsets(section []dns.RR) []*rrset {
	type key struct {
		name string
		typ  uint16
	}
	var out []*rrset
	idx := make(map[key]*rrset)
	for _, rr := range section {
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeOPT {
			continue
		}
		k := key{dns.CanonicalName(h.Name), h.Rrtype}
		s := idx[k]
		if s == nil {
			s = &rrset{name: k.name, typ: k.typ}
			idx[k] = s
			out = append(out, s)
		}
		s.rrs = append(s.rrs, rr)
	}
	for _, rr := range section {
		if sig, ok := rr.(*dns.RRSIG); ok {
			if s := idx[key{dns.CanonicalName(sig.Hdr.Name), sig.TypeCovered}]; s != nil {
				s.sigs = append(s.sigs, sig)
			}
		}
	}
	return out
}

// find returns the RRset (name, typ) in sets, or nil.
func find(sets []*rrset, name string, typ uint16) *rrset {
	for _, s := range sets {
		if s.name == name && s.typ == typ {
			return s
		}
	}
	return nil
}

// signerOf returns the zone that signed s: the deepest signer name among
// its RRSIGs that may hold s (an ancestor of the owner; a proper ancestor
// for DS, which lives in the parent). "" when s has no usable RRSIG.
func signerOf(s *rrset) string {
	best := ""
	for _, sig := range s.sigs {
		z := dns.CanonicalName(sig.SignerName)
		if !isAncestor(z, s.name) || (s.typ == dns.TypeDS && z == s.name && z != ".") {
			continue
		}
		if best == "" || labels(z) > labels(best) {
			best = z
		}
	}
	return best
}

// zkey is a validated DNSKEY with its precomputed tag.
type zkey struct {
	k   *dns.DNSKEY
	tag uint16
}

// supportedAlgorithm reports whether we validate signatures of algorithm
// a: RSA/SHA-256 (8), RSA/SHA-512 (10), ECDSA P-256 (13) and P-384 (14),
// and Ed25519 (15). Zones signed only with others are insecure (RFC 4035
// section 5.2, RFC 6840 section 5.2). The SHA-1 algorithms 5 and 7 are
// left out on purpose: RFC 8624 already advises against signing with them
// and the IETF is withdrawing them for validation too, so zones still
// signed only with SHA-1 come out insecure, as on systems whose crypto
// policy disables SHA-1.
func supportedAlgorithm(a uint8) bool {
	switch a {
	case dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}

// usableKey reports whether k may verify RRSIGs: a zone key (RFC 4034
// 2.1.1), protocol 3, not revoked (RFC 5011), of a supported algorithm.
func usableKey(k *dns.DNSKEY) bool {
	return k.Flags&dns.ZONE != 0 && k.Flags&dns.REVOKE == 0 && k.Protocol == 3 && supportedAlgorithm(k.Algorithm)
}

func zkeys(keys []*dns.DNSKEY) []zkey {
	out := make([]zkey, 0, len(keys))
	for _, k := range keys {
		if usableKey(k) {
			out = append(out, zkey{k: k, tag: k.KeyTag()})
		}
	}
	return out
}

// timeCheck returns 0 when now lies in sig's validity period widened by
// the clock skew, else the EDE for why not. Times are 32-bit serial
// numbers (RFC 4034 section 3.1.5, RFC 1982).
func timeCheck(sig *dns.RRSIG, now time.Time, skew time.Duration) uint16 {
	n := uint32(now.Unix())
	s := int64(skew / time.Second)
	if int32(sig.Expiration-sig.Inception) < 0 {
		return dns.ExtendedErrorCodeSignatureExpired // an empty period never validates
	}
	if int64(int32(sig.Inception-n)) > s {
		return dns.ExtendedErrorCodeSignatureNotYetValid
	}
	if int64(int32(n-sig.Expiration)) > s {
		return dns.ExtendedErrorCodeSignatureExpired
	}
	return 0
}

// verifySet checks that one RRSIG by zone over s verifies with one of keys,
// within the work limits, and clamps the TTLs of s to what that signature
// allows (RFC 4035 section 5.3.3). It returns the signature used.
func (r *run) verifySet(s *rrset, zone string, keys []zkey) (*dns.RRSIG, *failure, error) {
	var (
		tried, noKey, bad int
		timeCode          uint16
	)
	owner := labels(s.name)
	for _, sig := range s.sigs {
		if dns.CanonicalName(sig.SignerName) != zone || !supportedAlgorithm(sig.Algorithm) || int(sig.Labels) > owner {
			continue
		}
		if tried == maxSigsPerRRset {
			break
		}
		tried++
		if code := timeCheck(sig, r.now, r.v.cfg.ClockSkew); code != 0 {
			timeCode = code
			continue
		}
		cands := 0
		for _, k := range keys {
			if k.tag != sig.KeyTag || k.k.Algorithm != sig.Algorithm {
				continue
			}
			if cands == maxKeysPerTag {
				break
			}
			cands++
			key, cacheable := r.v.sigs.key(sig, k.k, s.rrs)
			if cacheable && r.v.sigs.verified(key) {
				r.v.metrics.sigCacheHits.Inc()
				r.clamp(s, sig)
				return sig, nil, nil
			}
			if err := r.spendVerify(); err != nil {
				return nil, nil, err
			}
			if sig.Verify(k.k, s.rrs) == nil {
				if cacheable {
					r.v.sigs.add(key)
				}
				r.clamp(s, sig)
				return sig, nil, nil
			}
			bad++
		}
		if cands == 0 {
			noKey++
		}
	}
	what := s.String()
	switch {
	case tried == 0:
		return nil, fail(dns.ExtendedErrorCodeRRSIGsMissing, reasonNoSig, "no RRSIG by "+zone+" over "+what), nil
	case timeCode != 0:
		r.v.metrics.timeFailures.Inc()
		if timeCode == dns.ExtendedErrorCodeSignatureExpired {
			return nil, fail(timeCode, reasonExpired, "RRSIG over "+what+" expired"), nil
		}
		return nil, fail(timeCode, reasonNotYetValid, "RRSIG over "+what+" not yet valid"), nil
	case bad > 0:
		return nil, fail(dns.ExtendedErrorCodeDNSBogus, reasonBadSig, "RRSIG over "+what+" does not verify"), nil
	default:
		return nil, fail(dns.ExtendedErrorCodeDNSBogus, reasonNoKey, "no DNSKEY of "+zone+" matches the RRSIG over "+what), nil
	}
}

// clamp lowers the TTLs of s and sig to the signature's original TTL and
// to the time left before it expires.
func (r *run) clamp(s *rrset, sig *dns.RRSIG) {
	limit := sig.OrigTtl
	if left := int64(int32(sig.Expiration - uint32(r.now.Unix()))); left < int64(limit) {
		limit = uint32(max(left, 0))
	}
	for _, rr := range s.rrs {
		rr.Header().Ttl = min(rr.Header().Ttl, limit)
	}
	for _, sg := range s.sigs {
		sg.Hdr.Ttl = min(sg.Hdr.Ttl, limit)
	}
}

// ttlOf returns the lifetime of s after clamping, for caching what it
// proves.
func ttlOf(s *rrset) time.Duration {
	t := ^uint32(0)
	for _, rr := range s.rrs {
		t = min(t, rr.Header().Ttl)
	}
	return time.Duration(t) * time.Second
}

// failure is why an answer is bogus.
type failure struct {
	code   uint16 // RFC 8914 info-code
	reason string // metrics label, one of the reason* constants
	text   string // short, for the client's EDE text and logs
}

func fail(code uint16, reason, text string) *failure {
	return &failure{code: code, reason: reason, text: text}
}
