package dnstest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
)

const signedText = `
example.org.        3600 IN SOA  ns1.example.org. host.example.org. 1 7200 900 1209600 300
example.org.        3600 IN NS   ns1.example.org.
ns1.example.org.    3600 IN A    192.0.2.53
www.example.org.     300 IN A    192.0.2.1
alias.example.org.   300 IN CNAME www.example.org.
away.example.org.    300 IN CNAME www.example.net.
*.wild.example.org.  300 IN TXT  "wild"
a.b.c.example.org.   300 IN TXT  "deep"
secure.example.org. 3600 IN NS   ns.secure.example.org.
secure.example.org. 3600 IN DS   12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.secure.example.org. 3600 IN A 198.51.100.53
plain.example.org.  3600 IN NS   ns.plain.example.org.
ns.plain.example.org. 3600 IN A  198.51.100.54
`

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	return m
}

// verifyAll checks that every RRset in the message that has RRSIGs
// verifies with one of keys, and returns the owner/type of each verified set.
func verifyAll(t *testing.T, m *dns.Msg, keys []*dnstest.Key) []string {
	t.Helper()
	var verified []string
	for _, section := range [][]dns.RR{m.Answer, m.Ns} {
		sets := map[string][]dns.RR{}
		var sigs []*dns.RRSIG
		for _, rr := range section {
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs = append(sigs, sig)
				continue
			}
			k := rr.Header().Name + "/" + dns.Type(rr.Header().Rrtype).String()
			sets[k] = append(sets[k], rr)
		}
		for _, sig := range sigs {
			k := sig.Hdr.Name + "/" + dns.Type(sig.TypeCovered).String()
			set := sets[k]
			if len(set) == 0 {
				t.Errorf("RRSIG without its RRset: %s", sig)
				continue
			}
			ok := false
			for _, key := range keys {
				if key.DNSKEY.KeyTag() == sig.KeyTag && sig.Verify(key.DNSKEY, set) == nil {
					ok = true
				}
			}
			if !ok {
				t.Errorf("RRSIG over %s does not verify", k)
			}
			if !sig.ValidityPeriod(time.Now()) {
				t.Errorf("RRSIG over %s is not valid now", k)
			}
			verified = append(verified, k)
		}
	}
	slices.Sort(verified)
	return verified
}

func types(rrs []dns.RR, typ uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == typ {
			out = append(out, rr)
		}
	}
	return out
}

func TestSignedZone_NSEC(t *testing.T) {
	z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{})
	keys := z.Keys()
	tests := []struct {
		name         string
		qname        string
		qtype        uint16
		wantRcode    int
		wantAA       bool
		wantVerified []string
		wantNSEC     []string // owner -> next of each NSEC in the authority section
	}{
		{
			name: "positive", qname: "www.example.org.", qtype: dns.TypeA, wantAA: true,
			wantVerified: []string{"www.example.org./A"},
		},
		{
			name: "cname in zone", qname: "alias.example.org.", qtype: dns.TypeA, wantAA: true,
			wantVerified: []string{"alias.example.org./CNAME", "www.example.org./A"},
		},
		{
			name: "dnskey", qname: "example.org.", qtype: dns.TypeDNSKEY, wantAA: true,
			wantVerified: []string{"example.org./DNSKEY"},
		},
		{
			name: "nodata", qname: "www.example.org.", qtype: dns.TypeAAAA, wantAA: true,
			wantVerified: []string{"example.org./SOA", "www.example.org./NSEC"},
			wantNSEC:     []string{"www.example.org.>example.org."},
		},
		{
			name: "empty non-terminal", qname: "c.example.org.", qtype: dns.TypeA, wantAA: true,
			wantVerified: []string{"away.example.org./NSEC", "example.org./SOA"},
			wantNSEC:     []string{"away.example.org.>a.b.c.example.org."},
		},
		{
			name: "nxdomain", qname: "nope.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantVerified: []string{"a.b.c.example.org./NSEC", "example.org./NSEC", "example.org./SOA"},
			wantNSEC:     []string{"a.b.c.example.org.>ns1.example.org.", "example.org.>alias.example.org."},
		},
		{
			name: "wildcard", qname: "x.wild.example.org.", qtype: dns.TypeTXT, wantAA: true,
			wantVerified: []string{"*.wild.example.org./NSEC", "x.wild.example.org./TXT"},
			wantNSEC:     []string{"*.wild.example.org.>www.example.org."},
		},
		{
			name: "wildcard nodata", qname: "x.wild.example.org.", qtype: dns.TypeA, wantAA: true,
			wantVerified: []string{"*.wild.example.org./NSEC", "example.org./SOA"},
			wantNSEC:     []string{"*.wild.example.org.>www.example.org."},
		},
		{
			name: "signed delegation", qname: "host.secure.example.org.", qtype: dns.TypeA,
			wantVerified: []string{"secure.example.org./DS"},
		},
		{
			name: "insecure delegation", qname: "host.plain.example.org.", qtype: dns.TypeA,
			wantVerified: []string{"plain.example.org./NSEC"},
			wantNSEC:     []string{"plain.example.org.>secure.example.org."},
		},
		{
			name: "ds at insecure cut", qname: "plain.example.org.", qtype: dns.TypeDS, wantAA: true,
			wantVerified: []string{"example.org./SOA", "plain.example.org./NSEC"},
			wantNSEC:     []string{"plain.example.org.>secure.example.org."},
		},
		{
			name: "ds at signed cut", qname: "secure.example.org.", qtype: dns.TypeDS, wantAA: true,
			wantVerified: []string{"secure.example.org./DS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := z.Reply(query(tt.qname, tt.qtype))
			if m.Rcode != tt.wantRcode || m.Authoritative != tt.wantAA {
				t.Fatalf("rcode %s AA %v, want %s AA %v\n%s", dns.RcodeToString[m.Rcode], m.Authoritative,
					dns.RcodeToString[tt.wantRcode], tt.wantAA, m)
			}
			if got := verifyAll(t, m, keys); !slices.Equal(got, tt.wantVerified) {
				t.Errorf("verified %v, want %v\n%s", got, tt.wantVerified, m)
			}
			var nsec []string
			for _, rr := range types(m.Ns, dns.TypeNSEC) {
				nsec = append(nsec, rr.Header().Name+">"+rr.(*dns.NSEC).NextDomain)
			}
			slices.Sort(nsec)
			if !slices.Equal(nsec, tt.wantNSEC) {
				t.Errorf("NSEC %v, want %v", nsec, tt.wantNSEC)
			}
		})
	}
}

func TestSignedZone_noDO(t *testing.T) {
	z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.example.org.", dns.TypeA}, {"nope.example.org.", dns.TypeA}, {"x.wild.example.org.", dns.TypeTXT}} {
		r := new(dns.Msg)
		r.SetQuestion(q.name, q.qtype)
		m := z.Reply(r)
		for _, rr := range append(slices.Clone(m.Answer), m.Ns...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				t.Errorf("%s: DNSSEC record without DO: %s", q.name, rr)
			}
		}
		if len(m.Answer)+len(m.Ns) == 0 {
			t.Errorf("%s: empty reply", q.name)
		}
	}
}

func TestSignedZone_wildcardSignature(t *testing.T) {
	z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{})
	m := z.Reply(query("x.wild.example.org.", dns.TypeTXT))
	sigs := types(m.Answer, dns.TypeRRSIG)
	if len(sigs) != 1 {
		t.Fatalf("want one RRSIG, got\n%s", m)
	}
	sig := sigs[0].(*dns.RRSIG)
	if sig.Hdr.Name != "x.wild.example.org." || sig.Labels != 3 {
		t.Errorf("RRSIG owner %s labels %d, want x.wild.example.org. labels 3", sig.Hdr.Name, sig.Labels)
	}
}

func TestSignedZone_NSEC3(t *testing.T) {
	for _, optOut := range []bool{false, true} {
		t.Run(fmt.Sprintf("optout=%v", optOut), func(t *testing.T) {
			opts := &dnstest.NSEC3Options{Iterations: 5, Salt: "abcd", OptOut: optOut}
			z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{NSEC3: opts})
			keys := z.Keys()
			n3 := func(m *dns.Msg) []*dns.NSEC3 {
				var out []*dns.NSEC3
				for _, rr := range types(m.Ns, dns.TypeNSEC3) {
					out = append(out, rr.(*dns.NSEC3))
				}
				return out
			}
			matches := func(set []*dns.NSEC3, name string) *dns.NSEC3 {
				for _, n := range set {
					if n.Match(name) {
						return n
					}
				}
				return nil
			}
			covers := func(set []*dns.NSEC3, name string) *dns.NSEC3 {
				for _, n := range set {
					if n.Cover(name) {
						return n
					}
				}
				return nil
			}

			// NXDOMAIN: closest encloser, next closer and wildcard.
			m := z.Reply(query("x.nope.example.org.", dns.TypeA))
			verifyAll(t, m, keys)
			set := n3(m)
			if m.Rcode != dns.RcodeNameError || matches(set, "example.org.") == nil ||
				covers(set, "nope.example.org.") == nil || covers(set, "*.example.org.") == nil {
				t.Errorf("NXDOMAIN proof incomplete:\n%s", m)
			}
			for _, n := range set {
				if n.Iterations != 5 || !strings.EqualFold(n.Salt, "abcd") || (n.Flags == 1) != optOut {
					t.Errorf("NSEC3 parameters %s", n)
				}
			}

			// NODATA at an empty non-terminal: NSEC3 records exist for ENTs.
			m = z.Reply(query("b.c.example.org.", dns.TypeA))
			verifyAll(t, m, keys)
			if n := matches(n3(m), "b.c.example.org."); n == nil || len(n.TypeBitMap) != 0 {
				t.Errorf("ENT NODATA proof wrong:\n%s", m)
			}

			// Wildcard expansion: the next closer name is covered.
			m = z.Reply(query("x.wild.example.org.", dns.TypeTXT))
			verifyAll(t, m, keys)
			if covers(n3(m), "x.wild.example.org.") == nil {
				t.Errorf("wildcard proof missing:\n%s", m)
			}

			// DS at the insecure cut: matching NSEC3, or with opt-out the
			// closest encloser proof with an opt-out span over the cut.
			m = z.Reply(query("plain.example.org.", dns.TypeDS))
			verifyAll(t, m, keys)
			set = n3(m)
			if !optOut {
				if n := matches(set, "plain.example.org."); n == nil || !slices.Contains(n.TypeBitMap, dns.TypeNS) ||
					slices.Contains(n.TypeBitMap, dns.TypeDS) {
					t.Errorf("no DS proof wrong:\n%s", m)
				}
			} else {
				if matches(set, "plain.example.org.") != nil {
					t.Errorf("opted-out delegation has an NSEC3:\n%s", m)
				}
				if n := covers(set, "plain.example.org."); n == nil || n.Flags&1 == 0 || matches(set, "example.org.") == nil {
					t.Errorf("opt-out proof wrong:\n%s", m)
				}
			}
			// The referral carries the same proof.
			m = z.Reply(query("www.plain.example.org.", dns.TypeA))
			if len(n3(m)) == 0 || m.Authoritative {
				t.Errorf("referral without NSEC3 proof:\n%s", m)
			}
		})
	}
}

func TestSignedZone_DS(t *testing.T) {
	ksk := dnstest.NewKey(t, "example.org.", dns.ECDSAP256SHA256, true)
	zsk := dnstest.NewKey(t, "example.org.", dns.ECDSAP256SHA256, false)
	z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{Keys: []*dnstest.Key{ksk, zsk}})
	ds := z.DS()
	if len(ds) != 1 || ds[0].(*dns.DS).KeyTag != ksk.DNSKEY.KeyTag() || ds[0].Header().Name != "example.org." {
		t.Fatalf("DS() = %v, want one DS for the KSK", ds)
	}
	if !strings.Contains(z.DSText(), strings.ToUpper(ds[0].(*dns.DS).Digest)) {
		t.Errorf("DSText() = %q", z.DSText())
	}
	// The KSK signs only the DNSKEY RRset, the ZSK the rest.
	m := z.Reply(query("example.org.", dns.TypeDNSKEY))
	for _, rr := range types(m.Answer, dns.TypeRRSIG) {
		if rr.(*dns.RRSIG).KeyTag != ksk.DNSKEY.KeyTag() {
			t.Errorf("DNSKEY RRset signed by %d, want KSK %d", rr.(*dns.RRSIG).KeyTag, ksk.DNSKEY.KeyTag())
		}
	}
	if n := len(types(m.Answer, dns.TypeDNSKEY)); n != 2 {
		t.Errorf("DNSKEY RRset has %d keys, want 2", n)
	}
	m = z.Reply(query("www.example.org.", dns.TypeA))
	for _, rr := range types(m.Answer, dns.TypeRRSIG) {
		if rr.(*dns.RRSIG).KeyTag != zsk.DNSKEY.KeyTag() {
			t.Errorf("A RRset signed by %d, want ZSK %d", rr.(*dns.RRSIG).KeyTag, zsk.DNSKEY.KeyTag())
		}
	}
}

func TestSignedZone_algorithms(t *testing.T) {
	for _, alg := range []uint8{dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{Algorithm: alg})
			m := z.Reply(query("www.example.org.", dns.TypeA))
			if got := verifyAll(t, m, z.Keys()); len(got) != 1 {
				t.Errorf("verified %v, want the A RRset", got)
			}
		})
	}
}

func TestSignedZone_validity(t *testing.T) {
	past := time.Now().Add(-48 * time.Hour)
	z := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{Inception: past.Add(-time.Hour), Expiration: past})
	m := z.Reply(query("www.example.org.", dns.TypeA))
	sigs := types(m.Answer, dns.TypeRRSIG)
	if len(sigs) != 1 || sigs[0].(*dns.RRSIG).ValidityPeriod(time.Now()) {
		t.Errorf("want one expired RRSIG, got %v", sigs)
	}
}

func TestRecursive(t *testing.T) {
	child := dnstest.NewSignedZone(t, `
example.net. 3600 IN SOA ns.example.net. host.example.net. 1 7200 900 1209600 300
example.net. 3600 IN NS  ns.example.net.
www.example.net. 300 IN A 203.0.113.1
`, dnstest.SignOptions{})
	parent := dnstest.NewSignedZone(t, `
net. 3600 IN SOA ns.net. host.net. 1 7200 900 1209600 300
net. 3600 IN NS  ns.net.
example.net. 3600 IN NS ns.example.net.
`+child.DSText(), dnstest.SignOptions{})
	org := dnstest.NewSignedZone(t, signedText, dnstest.SignOptions{})
	r := dnstest.NewRecursive(parent, child, org)

	m := r.Reply(query("away.example.org.", dns.TypeA))
	var got []string
	for _, rr := range m.Answer {
		got = append(got, rr.Header().Name+"/"+dns.Type(rr.Header().Rrtype).String())
	}
	want := []string{"away.example.org./CNAME", "away.example.org./RRSIG", "www.example.net./A", "www.example.net./RRSIG"}
	if !slices.Equal(got, want) || m.Rcode != dns.RcodeSuccess || !m.RecursionAvailable || m.Authoritative {
		t.Errorf("chased answer %v rcode %d, want %v\n%s", got, m.Rcode, want, m)
	}

	m = r.Reply(query("example.net.", dns.TypeDS))
	if ds := types(m.Answer, dns.TypeDS); len(ds) != 1 || ds[0].(*dns.DS).KeyTag != child.DS()[0].(*dns.DS).KeyTag {
		t.Errorf("DS from the parent side: got\n%s", m)
	}
	m = r.Reply(query("nope.example.net.", dns.TypeA))
	if m.Rcode != dns.RcodeNameError || len(types(m.Ns, dns.TypeNSEC)) == 0 {
		t.Errorf("NXDOMAIN with proof: got\n%s", m)
	}
	m = r.Reply(query("example.com.", dns.TypeA))
	if m.Rcode != dns.RcodeServerFailure {
		t.Errorf("unknown zone: rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
}

func TestCanonicalCompare(t *testing.T) {
	// RFC 4034 section 6.1's example, in order.
	names := []string{
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example.",
	}
	for i := range names {
		for j := range names {
			got := dnstest.CanonicalCompare(names[i], names[j])
			if (got < 0) != (i < j) || (got == 0) != (i == j) {
				t.Errorf("CanonicalCompare(%q, %q) = %d", names[i], names[j], got)
			}
		}
	}
}

func TestSignedZone_DNAME(t *testing.T) {
	z := dnstest.NewSignedZone(t, signedText+"dn.example.org. 300 IN DNAME example.net.\n", dnstest.SignOptions{})
	m := z.Reply(query("www.dn.example.org.", dns.TypeA))
	var got []string
	for _, rr := range m.Answer {
		got = append(got, rr.String())
	}
	if len(m.Answer) != 3 || m.Answer[2].(*dns.CNAME).Target != "www.example.net." {
		t.Fatalf("DNAME answer = %v", got)
	}
	if v := verifyAll(t, m, z.Keys()); !slices.Equal(v, []string{"dn.example.org./DNAME"}) {
		t.Errorf("verified %v, want the DNAME", v)
	}
}
