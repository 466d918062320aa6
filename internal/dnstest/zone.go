package dnstest

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Zone is an authoritative server for one zone given as zone-file text. It
// answers what a real authority would: the records asked for, CNAME chains
// inside the zone, NODATA and NXDOMAIN with the SOA in the authority section,
// and referrals (NS plus glue) below zone cuts. It refuses names outside the
// zone. Wildcards and DNSSEC denial are not supported.
//
// A Zone is immutable after NewZone and safe for concurrent use.
type Zone struct {
	origin string
	soa    dns.RR
	rrs    map[string][]dns.RR // by canonical owner name
	names  map[string]bool     // owners and every ancestor up to origin (empty non-terminals)
}

// NewZone parses text (absolute names, or relative to a $ORIGIN line) and
// fails the test unless it holds exactly one SOA, whose owner becomes the
// zone's origin, and every record is at or below it.
func NewZone(t testing.TB, text string) *Zone {
	t.Helper()
	z := &Zone{rrs: make(map[string][]dns.RR), names: make(map[string]bool)}
	var all []dns.RR
	all, z.soa = parseZone(t, "dnstest.NewZone", text)
	z.origin = z.soa.Header().Name
	for _, rr := range all {
		name := rr.Header().Name
		if !dns.IsSubDomain(z.origin, name) {
			t.Fatalf("dnstest.NewZone: %s is outside zone %s", name, z.origin)
		}
		z.rrs[name] = append(z.rrs[name], rr)
		for off, end := 0, false; !end && !z.names[name[off:]]; off, end = dns.NextLabel(name, off) {
			z.names[name[off:]] = true
			if name[off:] == z.origin {
				break
			}
		}
	}
	return z
}

// Origin returns the zone's apex, such as "example.org.".
func (z *Zone) Origin() string { return z.origin }

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_ = w.WriteMsg(z.Reply(r))
}

// Reply returns the zone's answer to r, for fake networks that call handlers
// without sockets.
func (z *Zone) Reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		return m.SetRcode(r, dns.RcodeFormatError)
	}
	m.SetReply(r)
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, opt.Do())
	}
	qname := dns.CanonicalName(r.Question[0].Name)
	qtype := r.Question[0].Qtype
	if !dns.IsSubDomain(z.origin, qname) {
		m.Rcode = dns.RcodeRefused
		return m
	}
	if cut := z.cut(qname, qtype); cut != "" {
		z.referral(m, cut)
		return m
	}

	m.Authoritative = true
	for range 8 { // follow CNAMEs inside the zone, with a bound against loops
		var cname *dns.CNAME
		found := false
		for _, rr := range z.rrs[qname] {
			t := rr.Header().Rrtype
			switch {
			case t == qtype || qtype == dns.TypeANY:
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			case t == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if found || cname == nil {
			if !found {
				m.Ns = append(m.Ns, dns.Copy(z.soa))
				if !z.names[qname] {
					m.Rcode = dns.RcodeNameError
				}
			}
			return m
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		qname = dns.CanonicalName(cname.Target)
		if !dns.IsSubDomain(z.origin, qname) || z.cut(qname, qtype) != "" {
			return m // the target is elsewhere: the resolver follows it
		}
	}
	return m
}

// cut returns the highest delegation point (NS records below the apex) at or
// above qname, or "". A DS query at the cut itself is answered by this zone,
// the parent side (RFC 4035 section 3.1.4.1).
func (z *Zone) cut(qname string, qtype uint16) string {
	// Collect the names between qname and origin, then walk them top down.
	var below []string
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if qname[off:] == z.origin {
			break
		}
		below = append(below, qname[off:])
	}
	for i := len(below) - 1; i >= 0; i-- {
		name := below[i]
		if name == qname && qtype == dns.TypeDS {
			return ""
		}
		for _, rr := range z.rrs[name] {
			if rr.Header().Rrtype == dns.TypeNS {
				return name
			}
		}
	}
	return ""
}

// referral fills m with the NS set at cut and any glue this zone holds.
func (z *Zone) referral(m *dns.Msg, cut string) {
	for _, rr := range z.rrs[cut] {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		m.Ns = append(m.Ns, dns.Copy(ns))
		for _, g := range z.rrs[dns.CanonicalName(ns.Ns)] {
			if t := g.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
				m.Extra = append(m.Extra, dns.Copy(g))
			}
		}
	}
}

// parseZone reads zone-file text into records with canonical owner names
// and returns them with the zone's one SOA, failing the test (as caller)
// unless there is exactly one.
func parseZone(t testing.TB, caller, text string) ([]dns.RR, dns.RR) {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "zone")
	var all []dns.RR
	var soa dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		if rr.Header().Rrtype == dns.TypeSOA {
			if soa != nil {
				t.Fatalf("%s: more than one SOA", caller)
			}
			soa = rr
		}
		all = append(all, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("%s: %v", caller, err)
	}
	if soa == nil {
		t.Fatalf("%s: no SOA record", caller)
	}
	return all, soa
}
