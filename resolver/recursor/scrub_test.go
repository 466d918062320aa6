package recursor_test

import (
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
)

// A leaf server and a TLD server try to poison the resolver with records
// outside their bailiwick.
func TestRecursor_Resolve_poison(t *testing.T) {
	w := newWorld(t)
	w["203.0.113.1"] = dnstest.Mangle(w["203.0.113.1"], func(_, m *dns.Msg) {
		m.Answer = append(m.Answer, dnstest.RR(t, "www.example.net. 300 IN A 203.0.113.66"))
		m.Ns = append(m.Ns,
			dnstest.RR(t, "example.net. 3600 IN NS ns.evil.example.org."),
			dnstest.RR(t, "net. 3600 IN NS ns.evil.example.org."))
		m.Extra = append(m.Extra,
			dnstest.RR(t, "ns.example.net. 3600 IN A 203.0.113.66"),
			dnstest.RR(t, "www.example.net. 300 IN A 203.0.113.66"),
			dnstest.RR(t, "ns.evil.example.org. 300 IN A 203.0.113.66"))
	})
	w["198.51.100.1"] = dnstest.Mangle(w["198.51.100.1"], func(_, m *dns.Msg) {
		m.Extra = append(m.Extra,
			dnstest.RR(t, "ns.example.net. 86400 IN A 203.0.113.66"), // not org's to say
			dnstest.RR(t, "ns1.example.org. 86400 IN A 127.0.0.1"),   // glue to ourselves
			dnstest.RR(t, "a.root-servers.test. 86400 IN A 203.0.113.66"))
	})
	w["203.0.113.66"] = dnstest.Rcode(dns.RcodeRefused)
	n := w.net()
	r := newRecursor(t, n)

	m := resolve(t, r, "www.example.org.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
	if len(m.Extra) != 0 {
		t.Errorf("additional = %v, want none", m.Extra)
	}
	m = resolve(t, r, "www.example.net.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.net. 300 IN A 192.0.2.81"), rrs(t))
	resolve(t, r, "example.org.", dns.TypeNS)
	resolve(t, r, "www.example.org.", dns.TypeAAAA)
	for _, e := range n.Log() {
		if a := e.Server.Addr().String(); a == "203.0.113.66" || a == "127.0.0.1" {
			t.Errorf("exchange with poisoned address: %v", e)
		}
	}
	checkLog(t, n,
		priming,
		"192.0.2.1 udp www.example.org. A",
		"198.51.100.1 udp www.example.org. A",
		"203.0.113.1 udp www.example.org. A",
		"192.0.2.1 udp www.example.net. A",
		"198.51.100.11 udp www.example.net. A",
		"203.0.113.11 udp www.example.net. A",
		"203.0.113.1 udp example.org. NS",
		"203.0.113.1 udp www.example.org. AAAA",
	)
}

// dnameServer serves example.org, plus DNAMEs: old.example.org to
// example.net (with a bogus synthesised CNAME, which must be ignored), and
// inner.example.org to example.org (with the target's records included).
func dnameServer(t *testing.T) dns.Handler {
	zone := dnstest.NewZone(t, exampleOrgZone)
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		qname := dns.CanonicalName(q.Question[0].Name)
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		switch {
		case dns.IsSubDomain("old.example.org.", qname) && qname != "old.example.org.":
			m.Answer = []dns.RR{
				dnstest.RR(t, "old.example.org. 300 IN DNAME example.net."),
				dnstest.RR(t, qname+" 300 IN CNAME bogus.example.org."),
			}
		case qname == "www.inner.example.org.":
			m.Answer = []dns.RR{
				dnstest.RR(t, "inner.example.org. 600 IN DNAME example.org."),
				dnstest.RR(t, "www.inner.example.org. 600 IN CNAME www.example.org."),
				dnstest.RR(t, "www.example.org. 300 IN A 192.0.2.80"),
			}
		default:
			zone.ServeDNS(w, q)
			return
		}
		_ = w.WriteMsg(m)
	})
}

func TestRecursor_Resolve_dname(t *testing.T) {
	tests := []struct {
		name    string
		qname   string
		wantAns []string
		wantLog int
	}{
		{
			name: "to another zone", qname: "www.old.example.org.",
			wantAns: []string{
				"old.example.org. 300 IN DNAME example.net.",
				"www.old.example.org. 300 IN CNAME www.example.net.",
				"www.example.net. 300 IN A 192.0.2.81",
			},
			wantLog: 7,
		},
		{
			name: "inside the zone", qname: "www.inner.example.org.",
			wantAns: []string{
				"inner.example.org. 600 IN DNAME example.org.",
				"www.inner.example.org. 600 IN CNAME www.example.org.",
				"www.example.org. 300 IN A 192.0.2.80",
			},
			wantLog: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w["203.0.113.1"] = dnameServer(t)
			n := w.net()
			r := newRecursor(t, n)
			m := resolve(t, r, tt.qname, dns.TypeA)
			checkMsg(t, m, dns.RcodeSuccess, rrs(t, tt.wantAns...), rrs(t))
			if got := len(n.Log()); got != tt.wantLog {
				t.Errorf("%d exchanges, want %d: %q", got, tt.wantLog, n.Lines())
			}
		})
	}
}

// wildServer serves example.org with a signed-looking wildcard below
// wild.example.org and signed-looking denial of existence.
func wildServer(t *testing.T) dns.Handler {
	zone := dnstest.NewZone(t, exampleOrgZone)
	const sig = " 20300101000000 20200101000000 12345 example.org. AAAA"
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		qname := dns.CanonicalName(q.Question[0].Name)
		do := q.IsEdns0() != nil && q.IsEdns0().Do()
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if q.IsEdns0() != nil {
			m.SetEdns0(1232, do)
		}
		switch {
		case dns.IsSubDomain("wild.example.org.", qname) && qname != "wild.example.org.":
			m.Answer = []dns.RR{dnstest.RR(t, qname+" 300 IN A 192.0.2.99")}
			if do {
				m.Answer = append(m.Answer, dnstest.RR(t, qname+" 300 IN RRSIG A 13 3 300"+sig))
				m.Ns = []dns.RR{
					dnstest.RR(t, "wild.example.org. 300 IN NSEC zz.wild.example.org. NS RRSIG NSEC"),
					dnstest.RR(t, "wild.example.org. 300 IN RRSIG NSEC 13 3 300"+sig),
				}
			}
		case qname == "wildalias.example.org.":
			m.Answer = []dns.RR{dnstest.RR(t, qname+" 300 IN CNAME www.example.net.")}
			if do {
				m.Answer = append(m.Answer, dnstest.RR(t, qname+" 300 IN RRSIG CNAME 13 2 300"+sig))
				m.Ns = []dns.RR{
					dnstest.RR(t, "away.example.org. 300 IN NSEC www.example.org. CNAME RRSIG NSEC"),
					dnstest.RR(t, "away.example.org. 300 IN RRSIG NSEC 13 3 300"+sig),
				}
			}
		case qname == "gone.example.org.":
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{dnstest.RR(t, exampleOrgSOA)}
			if do {
				m.Ns = append(m.Ns,
					dnstest.RR(t, "example.org. 3600 IN RRSIG SOA 13 2 3600"+sig),
					dnstest.RR(t, "alias.example.org. 300 IN NSEC loop1.example.org. CNAME RRSIG NSEC"),
					dnstest.RR(t, "alias.example.org. 300 IN RRSIG NSEC 13 3 300"+sig))
			}
		default:
			zone.ServeDNS(w, q)
			return
		}
		_ = w.WriteMsg(m)
	})
}

func TestRecursor_Resolve_dnssecRecords(t *testing.T) {
	const sig = " 20300101000000 20200101000000 12345 example.org. AAAA"
	tests := []struct {
		name      string
		qname     string
		do        bool
		wantRcode int
		wantAns   []string
		wantNs    []string
	}{
		{
			name: "wildcard", qname: "a.wild.example.org.",
			wantAns: []string{"a.wild.example.org. 300 IN A 192.0.2.99"},
		},
		{
			name: "wildcard with do", qname: "a.wild.example.org.", do: true,
			wantAns: []string{"a.wild.example.org. 300 IN A 192.0.2.99", "a.wild.example.org. 300 IN RRSIG A 13 3 300" + sig},
			wantNs: []string{
				"wild.example.org. 300 IN NSEC zz.wild.example.org. NS RRSIG NSEC",
				"wild.example.org. 300 IN RRSIG NSEC 13 3 300" + sig,
			},
		},
		{
			name: "wildcard cname to another zone with do", qname: "wildalias.example.org.", do: true,
			wantAns: []string{
				"wildalias.example.org. 300 IN CNAME www.example.net.",
				"wildalias.example.org. 300 IN RRSIG CNAME 13 2 300" + sig,
				"www.example.net. 300 IN A 192.0.2.81",
			},
			wantNs: []string{ // the proof from the first zone's reply
				"away.example.org. 300 IN NSEC www.example.org. CNAME RRSIG NSEC",
				"away.example.org. 300 IN RRSIG NSEC 13 3 300" + sig,
			},
		},
		{
			name: "wildcard cname to another zone", qname: "wildalias.example.org.",
			wantAns: []string{"wildalias.example.org. 300 IN CNAME www.example.net.", "www.example.net. 300 IN A 192.0.2.81"},
		},
		{
			name: "nxdomain", qname: "gone.example.org.", wantRcode: dns.RcodeNameError,
			wantNs: []string{exampleOrgSOA},
		},
		{
			name: "nxdomain with do", qname: "gone.example.org.", do: true, wantRcode: dns.RcodeNameError,
			wantNs: []string{
				exampleOrgSOA,
				"example.org. 3600 IN RRSIG SOA 13 2 3600" + sig,
				"alias.example.org. 300 IN NSEC loop1.example.org. CNAME RRSIG NSEC",
				"alias.example.org. 300 IN RRSIG NSEC 13 3 300" + sig,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w["203.0.113.1"] = wildServer(t)
			n := w.net()
			r := newRecursor(t, n)
			m, err := r.Resolve(t.Context(), resolver.Question{Name: tt.qname, Type: dns.TypeA, DO: tt.do})
			if err != nil {
				t.Fatal(err)
			}
			checkMsg(t, m, tt.wantRcode, rrs(t, tt.wantAns...), rrs(t, tt.wantNs...))
			if opt := m.IsEdns0(); (opt != nil && opt.Do()) != tt.do {
				t.Errorf("reply OPT = %v, want DO %v", opt, tt.do)
			}
			last := n.Log()[len(n.Log())-1]
			if last.DO != tt.do || !last.EDNS {
				t.Errorf("last exchange %v, want EDNS with DO %v", last, tt.do)
			}
		})
	}
}

// Asking for DNSSEC types without DO still gets them.
func TestRecursor_Resolve_dnssecTypes(t *testing.T) {
	const sig = " 20300101000000 20200101000000 12345 example.org. AAAA"
	zone := exampleOrgZone + "www.example.org. 300 IN RRSIG A 13 3 300" + sig + "\n"
	w := newWorld(t)
	w["203.0.113.1"] = dnstest.NewZone(t, zone)
	r := newRecursor(t, w.net())
	m := resolve(t, r, "www.example.org.", dns.TypeRRSIG)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN RRSIG A 13 3 300"+sig), rrs(t))
}
