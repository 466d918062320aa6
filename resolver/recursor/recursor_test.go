package recursor_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

const (
	exampleOrgSOA = "example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300"
	orgSOA        = "org. 86400 IN SOA ns1.nic.org. hostmaster.nic.org. 1 1800 900 604800 3600"
	priming       = "192.0.2.1 udp . NS"
)

func TestRecursor_Resolve(t *testing.T) {
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		wantRcode int
		wantAns   []string
		wantNs    []string
		wantLog   []string
	}{
		{
			name: "answer from root to leaf", qname: "www.example.org.", qtype: dns.TypeA,
			wantAns: []string{"www.example.org. 300 IN A 192.0.2.80"},
			wantLog: []string{
				priming,
				"192.0.2.1 udp www.example.org. A",
				"198.51.100.1 udp www.example.org. A",
				"203.0.113.1 udp www.example.org. A",
			},
		},
		{
			name: "mixed-case question", qname: "WWW.Example.ORG.", qtype: dns.TypeAAAA,
			wantAns: []string{"www.example.org. 300 IN AAAA 2001:db8::80"},
			wantLog: []string{
				priming,
				"192.0.2.1 udp www.example.org. AAAA",
				"198.51.100.1 udp www.example.org. AAAA",
				"203.0.113.1 udp www.example.org. AAAA",
			},
		},
		{
			name: "cname inside the zone", qname: "alias.example.org.", qtype: dns.TypeA,
			wantAns: []string{"alias.example.org. 300 IN CNAME www.example.org.", "www.example.org. 300 IN A 192.0.2.80"},
			wantLog: []string{
				priming,
				"192.0.2.1 udp alias.example.org. A",
				"198.51.100.1 udp alias.example.org. A",
				"203.0.113.1 udp alias.example.org. A",
			},
		},
		{
			name: "cname to another zone", qname: "away.example.org.", qtype: dns.TypeA,
			wantAns: []string{"away.example.org. 300 IN CNAME www.example.net.", "www.example.net. 300 IN A 192.0.2.81"},
			wantLog: []string{
				priming,
				"192.0.2.1 udp away.example.org. A",
				"198.51.100.1 udp away.example.org. A",
				"203.0.113.1 udp away.example.org. A",
				"192.0.2.1 udp www.example.net. A",
				"198.51.100.11 udp www.example.net. A",
				"203.0.113.11 udp www.example.net. A",
			},
		},
		{
			name: "cname chain back and forth", qname: "chain.example.net.", qtype: dns.TypeA,
			wantAns: []string{
				"chain.example.net. 300 IN CNAME alias.example.org.",
				"alias.example.org. 300 IN CNAME www.example.org.",
				"www.example.org. 300 IN A 192.0.2.80",
			},
			wantLog: []string{
				priming,
				"192.0.2.1 udp chain.example.net. A",
				"198.51.100.11 udp chain.example.net. A",
				"203.0.113.11 udp chain.example.net. A",
				"192.0.2.1 udp alias.example.org. A",
				"198.51.100.1 udp alias.example.org. A",
				"203.0.113.1 udp alias.example.org. A",
			},
		},
		{
			name: "nxdomain", qname: "nope.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError,
			wantNs: []string{exampleOrgSOA},
			wantLog: []string{
				priming,
				"192.0.2.1 udp nope.example.org. A",
				"198.51.100.1 udp nope.example.org. A",
				"203.0.113.1 udp nope.example.org. A",
			},
		},
		{
			name: "nodata", qname: "www.example.org.", qtype: dns.TypeTXT,
			wantNs: []string{exampleOrgSOA},
			wantLog: []string{
				priming,
				"192.0.2.1 udp www.example.org. TXT",
				"198.51.100.1 udp www.example.org. TXT",
				"203.0.113.1 udp www.example.org. TXT",
			},
		},
		{
			name: "empty non-terminal", qname: "b.c.example.org.", qtype: dns.TypeA,
			wantNs: []string{exampleOrgSOA},
			wantLog: []string{
				priming,
				"192.0.2.1 udp b.c.example.org. A",
				"198.51.100.1 udp b.c.example.org. A",
				"203.0.113.1 udp b.c.example.org. A",
			},
		},
		{
			name: "ds asked of the parent", qname: "example.org.", qtype: dns.TypeDS,
			wantNs: []string{orgSOA},
			wantLog: []string{
				priming,
				"192.0.2.1 udp example.org. DS",
				"198.51.100.1 udp example.org. DS",
			},
		},
		{
			name: "ns asked of the child", qname: "example.org.", qtype: dns.TypeNS,
			wantAns: []string{"example.org. 3600 IN NS ns1.example.org.", "example.org. 3600 IN NS ns2.example.org."},
			wantLog: []string{
				priming,
				"192.0.2.1 udp example.org. NS",
				"198.51.100.1 udp example.org. NS",
				"203.0.113.1 udp example.org. NS",
			},
		},
		{
			name: "glueless delegation", qname: "www.glueless.org.", qtype: dns.TypeA,
			wantAns: []string{"www.glueless.org. 300 IN A 192.0.2.90"},
			wantLog: []string{
				priming,
				"192.0.2.1 udp www.glueless.org. A",
				"198.51.100.1 udp www.glueless.org. A",
				// Both name servers' addresses, looked up in parallel
				// (sorted below: their order is not fixed).
				"192.0.2.1 udp ns1.dnshost.net. A",
				"192.0.2.1 udp ns2.dnshost.net. A",
				"198.51.100.11 udp ns1.dnshost.net. A",
				"198.51.100.11 udp ns2.dnshost.net. A",
				"203.0.113.20 udp ns1.dnshost.net. A",
				"203.0.113.20 udp ns2.dnshost.net. A",
				"203.0.113.21 udp www.glueless.org. A",
			},
		},
		{
			name: "the root itself", qname: ".", qtype: dns.TypeNS,
			wantAns: []string{". 518400 IN NS a.root-servers.test."},
			wantLog: []string{priming, "192.0.2.1 udp . NS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Every server takes 10ms, so that parallel lookups
				// really overlap.
				n := newWorld(t).delayed(10 * time.Millisecond).net()
				r := newRecursor(t, n)
				m := resolve(t, r, tt.qname, tt.qtype)
				checkMsg(t, m, tt.wantRcode, rrs(t, tt.wantAns...), rrs(t, tt.wantNs...))
				if q := m.Question[0]; q.Name != dns.CanonicalName(tt.qname) || q.Qtype != tt.qtype || q.Qclass != dns.ClassINET {
					t.Errorf("question = %v, want the canonical question", q)
				}
				if !m.Response || !m.RecursionAvailable || m.Authoritative || m.AuthenticatedData {
					t.Errorf("flags = %v, want QR RA, not AA or AD", m.MsgHdr)
				}
				got := n.Lines()
				if tt.name == "glueless delegation" { // parallel lookups: order not fixed
					slices.Sort(got[3 : len(got)-1])
				}
				if !slices.Equal(got, tt.wantLog) {
					t.Errorf("exchanges =\n\t%q\nwant\n\t%q", got, tt.wantLog)
				}
			})
		})
	}
}

func TestRecursor_Resolve_warm(t *testing.T) {
	n := newWorld(t).net()
	r := newRecursor(t, n)
	resolve(t, r, "www.example.org.", dns.TypeA)
	n.Reset()

	// The delegation to example.org is cached: straight to its server.
	m := resolve(t, r, "alias.example.org.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "alias.example.org. 300 IN CNAME www.example.org.", "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
	checkLog(t, n, "203.0.113.1 udp alias.example.org. A")
	n.Reset()

	// org. is cached too, and the root delegation is primed.
	resolve(t, r, "nope.org.", dns.TypeA)
	checkLog(t, n, "198.51.100.1 udp nope.org. A")
	n.Reset()
	resolve(t, r, "www.example.net.", dns.TypeA)
	checkLog(t, n,
		"192.0.2.1 udp www.example.net. A",
		"198.51.100.11 udp www.example.net. A",
		"203.0.113.11 udp www.example.net. A",
	)
	n.Reset()

	// Name server addresses looked up for a glueless delegation are cached.
	resolve(t, r, "www.glueless.org.", dns.TypeA)
	n.Reset()
	resolve(t, r, "www.glueless.org.", dns.TypeAAAA)
	checkLog(t, n, "203.0.113.21 udp www.glueless.org. AAAA")
}

func TestRecursor_Resolve_gluelessParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newWorld(t).delayed(10 * time.Millisecond).net()
		r := newRecursor(t, n)
		start := time.Now()
		m := resolve(t, r, "www.glueless.org.", dns.TypeA)
		checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.glueless.org. 300 IN A 192.0.2.90"), rrs(t))
		// Priming, root, org, then both name servers looked up at once
		// (root, net, dnshost.net: three round trips for both), then
		// glueless.org: seven round trips. Looked up one after the other,
		// the second lookup (from the cached net. delegation) would add
		// one more.
		if elapsed := time.Since(start); elapsed != 70*time.Millisecond {
			t.Errorf("resolution took %v of fake time, want 70ms (7 round trips of 10ms)", elapsed)
		}
	})
}
