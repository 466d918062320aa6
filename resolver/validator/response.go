package validator

import (
	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// validateMsg validates an upstream answer to q: it follows the CNAME and
// DNAME chain from q.Name through the answer section, validating each
// RRset by its own signer (so a chain may cross from signed into unsigned
// zones, and the answer is then insecure), checks wildcard expansions, and
// checks the denial for the name the chain ends at when it has no data.
// On success it leaves only the chain in the answer section.
func (r *run) validateMsg(q resolver.Question, m *dns.Msg) (Status, *failure, error) {
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return Indeterminate, nil, nil // a failure: nothing to prove
	}
	if q.Type == dns.TypeRRSIG {
		return Indeterminate, nil, nil // RRSIGs are not an RRset one can validate (RFC 4035 3.2.1)
	}
	answer := groupRRsets(m.Answer)
	auth := newAuthority(m.Ns)
	status := Secure
	var keep []*rrset
	seen := make(map[string]bool)
	add := func(s *rrset) (bool, *failure, error) {
		st, f, err := r.checkAnswer(s, auth)
		if err != nil {
			return false, nil, err
		}
		status = worse(status, st)
		keep = append(keep, s)
		return st != Bogus, f, nil
	}
	name := q.Name
	for {
		if seen[name] || len(seen) == maxChain {
			return Bogus, fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "CNAME chain from "+q.Name+" loops or is too long"), nil
		}
		seen[name] = true

		if data := dataAt(answer, name, q.Type); len(data) > 0 {
			for _, s := range data {
				if ok, f, err := add(s); !ok || err != nil {
					return Bogus, f, err
				}
			}
			break
		}
		if dn := dnameAbove(answer, name); dn != nil {
			// RFC 6672: the DNAME is signed, the CNAME synthesized from it
			// is not; it must say exactly what the DNAME implies.
			if ok, f, err := add(dn); !ok || err != nil {
				return Bogus, f, err
			}
			target, ok := substitute(name, dn)
			if !ok {
				return Bogus, fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "DNAME at "+dn.name+" makes a name too long"), nil
			}
			if cn := find(answer, name, dns.TypeCNAME); cn != nil {
				if dns.CanonicalName(cn.rrs[0].(*dns.CNAME).Target) != target || len(cn.rrs) != 1 {
					return Bogus, fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "CNAME at "+name+" contradicts the DNAME at "+dn.name), nil
				}
				keep = append(keep, cn)
			}
			name = target
			continue
		}
		if q.Type != dns.TypeCNAME {
			if cn := find(answer, name, dns.TypeCNAME); cn != nil {
				if ok, f, err := add(cn); !ok || err != nil {
					return Bogus, f, err
				}
				name = dns.CanonicalName(cn.rrs[0].(*dns.CNAME).Target)
				continue
			}
		}
		d, err := r.checkDenial(name, q.Type, m.Rcode == dns.RcodeNameError, auth)
		if err != nil {
			return 0, nil, err
		}
		if d.status == Bogus {
			return Bogus, d.fail, nil
		}
		status = worse(status, d.status)
		break
	}
	m.Answer = only(m.Answer, keep)
	return status, nil, nil
}

// checkAnswer validates one answer RRset and, when its signature shows it
// was synthesized from a wildcard, the proof that its owner does not exist
// (RFC 4035 section 5.3.4).
func (r *run) checkAnswer(s *rrset, auth *authority) (Status, *failure, error) {
	st, sig, signer, f, err := r.checkSet(s)
	if err != nil || st != Secure {
		return st, f, err
	}
	n := labels(s.name)
	if int(sig.Labels) >= n || (isWildcard(s.name) && int(sig.Labels) == n-1) {
		return Secure, nil, nil // not an expansion (or the literal "*" name)
	}
	return r.checkWildcard(s.name, suffix(s.name, int(sig.Labels)), signer, auth)
}

// dataAt returns the RRsets answering qtype at name: the one of that type,
// or for ANY all of them.
func dataAt(sets []*rrset, name string, qtype uint16) []*rrset {
	if qtype != dns.TypeANY {
		if s := find(sets, name, qtype); s != nil {
			return []*rrset{s}
		}
		return nil
	}
	var out []*rrset
	for _, s := range sets {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// dnameAbove returns the deepest DNAME RRset owned by a proper ancestor of
// name.
func dnameAbove(sets []*rrset, name string) *rrset {
	var best *rrset
	for _, s := range sets {
		if s.typ == dns.TypeDNAME && isProperAncestor(s.name, name) && (best == nil || labels(s.name) > labels(best.name)) {
			best = s
		}
	}
	return best
}

// substitute applies the DNAME in dn to name (RFC 6672 section 2.2).
func substitute(name string, dn *rrset) (string, bool) {
	target := dns.CanonicalName(dn.rrs[0].(*dns.DNAME).Target)
	prefix := name[:len(name)-len(dn.name)]
	out := prefix + target
	if target == "." {
		out = prefix
	}
	if _, ok := dns.IsDomainName(out); !ok || len(out) > 254 {
		return "", false
	}
	return out, true
}

// only returns the records of section that belong to the kept RRsets, with
// their RRSIGs, in their original order.
func only(section []dns.RR, keep []*rrset) []dns.RR {
	type key struct {
		name string
		typ  uint16
	}
	want := make(map[key]bool, len(keep))
	for _, s := range keep {
		want[key{s.name, s.typ}] = true
	}
	out := section[:0:0]
	for _, rr := range section {
		h := rr.Header()
		t := h.Rrtype
		if sig, ok := rr.(*dns.RRSIG); ok {
			t = sig.TypeCovered
		}
		if want[key{dns.CanonicalName(h.Name), t}] {
			out = append(out, rr)
		}
	}
	return out
}
