package dnstest_test

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
)

const exampleZone = `
example.org.        3600 IN SOA  ns1.example.org. host.example.org. 1 7200 900 1209600 300
example.org.        3600 IN NS   ns1.example.org.
ns1.example.org.    3600 IN A    192.0.2.53
www.example.org.     300 IN A    192.0.2.1
www.example.org.     300 IN A    192.0.2.2
alias.example.org.   300 IN CNAME www.example.org.
away.example.org.    300 IN CNAME www.example.net.
dangling.example.org. 300 IN CNAME nothing.example.org.
a.b.c.example.org.   300 IN TXT  "deep"
sub.example.org.    3600 IN NS   ns.sub.example.org.
sub.example.org.    3600 IN DS   12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub.example.org. 3600 IN A    198.51.100.53
`

// sorted renders a section as sorted record strings.
func sorted(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

func TestZone_Reply(t *testing.T) {
	z := dnstest.NewZone(t, exampleZone)
	if got := z.Origin(); got != "example.org." {
		t.Fatalf("Origin() = %q, want example.org.", got)
	}
	soa := "example.org.\t3600\tIN\tSOA\tns1.example.org. host.example.org. 1 7200 900 1209600 300"
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		wantRcode int
		wantAA    bool
		wantAns   []string
		wantNs    []string
		wantExtra []string
	}{
		{
			name: "answer", qname: "WWW.Example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAns: []string{"www.example.org.\t300\tIN\tA\t192.0.2.1", "www.example.org.\t300\tIN\tA\t192.0.2.2"},
		},
		{
			name: "cname followed in zone", qname: "alias.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAns: []string{
				"alias.example.org.\t300\tIN\tCNAME\twww.example.org.",
				"www.example.org.\t300\tIN\tA\t192.0.2.1",
				"www.example.org.\t300\tIN\tA\t192.0.2.2",
			},
		},
		{
			name: "cname query returns the cname", qname: "alias.example.org.", qtype: dns.TypeCNAME, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAns: []string{"alias.example.org.\t300\tIN\tCNAME\twww.example.org."},
		},
		{
			name: "cname out of zone", qname: "away.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAns: []string{"away.example.org.\t300\tIN\tCNAME\twww.example.net."},
		},
		{
			name: "cname to missing name", qname: "dangling.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantAns: []string{"dangling.example.org.\t300\tIN\tCNAME\tnothing.example.org."},
			wantNs:  []string{soa},
		},
		{
			name: "nodata", qname: "www.example.org.", qtype: dns.TypeAAAA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantNs: []string{soa},
		},
		{
			name: "empty non-terminal is nodata", qname: "b.c.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantNs: []string{soa},
		},
		{
			name: "nxdomain", qname: "nope.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantNs: []string{soa},
		},
		{
			name: "referral with glue", qname: "host.sub.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess,
			wantNs:    []string{"sub.example.org.\t3600\tIN\tNS\tns.sub.example.org."},
			wantExtra: []string{"ns.sub.example.org.\t3600\tIN\tA\t198.51.100.53"},
		},
		{
			name: "ds at the cut answered by parent", qname: "sub.example.org.", qtype: dns.TypeDS, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAns: []string{"sub.example.org.\t3600\tIN\tDS\t12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"},
		},
		{
			name: "outside the zone", qname: "example.net.", qtype: dns.TypeA, wantRcode: dns.RcodeRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := dnstest.Msg(t, tt.qname, tt.qtype)
			r := z.Reply(q)
			if r.Id != q.Id || !r.Response || r.Question[0] != q.Question[0] {
				t.Errorf("reply header/question = %v %v, want the query's echoed", r.MsgHdr, r.Question)
			}
			if r.Rcode != tt.wantRcode || r.Authoritative != tt.wantAA {
				t.Errorf("rcode, AA = %s, %v, want %s, %v", dns.RcodeToString[r.Rcode], r.Authoritative, dns.RcodeToString[tt.wantRcode], tt.wantAA)
			}
			if got := sorted(r.Answer); !slices.Equal(got, tt.wantAns) {
				t.Errorf("answer = %q, want %q", got, tt.wantAns)
			}
			if got := sorted(r.Ns); !slices.Equal(got, tt.wantNs) {
				t.Errorf("authority = %q, want %q", got, tt.wantNs)
			}
			if got := sorted(r.Extra); !slices.Equal(got, tt.wantExtra) {
				t.Errorf("additional = %q, want %q", got, tt.wantExtra)
			}
		})
	}
}

func TestZone_Reply_edns(t *testing.T) {
	z := dnstest.NewZone(t, exampleZone)
	q := dnstest.Msg(t, "www.example.org.", dns.TypeA)
	q.SetEdns0(4096, true)
	opt := z.Reply(q).IsEdns0()
	if opt == nil || !opt.Do() {
		t.Errorf("reply OPT = %v, want one with DO", opt)
	}
	if opt := z.Reply(dnstest.Msg(t, "www.example.org.", dns.TypeA)).IsEdns0(); opt != nil {
		t.Errorf("reply to a query without EDNS has OPT %v", opt)
	}
}

func TestRR(t *testing.T) {
	rr := dnstest.RR(t, "example.org. 300 IN A 192.0.2.1")
	a, ok := rr.(*dns.A)
	if !ok || a.A.String() != "192.0.2.1" || a.Hdr.Ttl != 300 {
		t.Errorf("RR = %v, want the A record", rr)
	}
}

// echo answers every query with one TXT record naming the transport used.
func echo(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Answer = append(m.Answer, &dns.TXT{
		Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		Txt: []string{w.RemoteAddr().Network()},
	})
	_ = w.WriteMsg(m)
}

func TestNewServer(t *testing.T) {
	addr := dnstest.NewServer(t, dns.HandlerFunc(echo))
	if !addr.Addr().IsLoopback() {
		t.Fatalf("NewServer address %v is not loopback", addr)
	}
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network}
		r, _, err := c.Exchange(dnstest.Msg(t, "example.org.", dns.TypeTXT), addr.String())
		if err != nil {
			t.Fatalf("%s exchange: %v", network, err)
		}
		if got := strings.Join(r.Answer[0].(*dns.TXT).Txt, ""); got != network {
			t.Errorf("%s exchange answered over %q", network, got)
		}
	}
}

func TestNewTLSServer(t *testing.T) {
	addr, pool, name := dnstest.NewTLSServer(t, dns.HandlerFunc(echo))
	c := &dns.Client{Net: "tcp-tls", TLSConfig: &tls.Config{RootCAs: pool, ServerName: name}}
	r, _, err := c.Exchange(dnstest.Msg(t, "example.org.", dns.TypeTXT), addr.String())
	if err != nil {
		t.Fatalf("tls exchange: %v", err)
	}
	if len(r.Answer) != 1 {
		t.Errorf("tls answer = %v, want one record", r.Answer)
	}

	// A client that does not trust the pool must fail the handshake.
	c.TLSConfig = &tls.Config{ServerName: name, RootCAs: nil}
	if _, _, err := c.Exchange(dnstest.Msg(t, "example.org.", dns.TypeTXT), addr.String()); err == nil {
		t.Errorf("exchange with an untrusting client succeeded")
	}
}
