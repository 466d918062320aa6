package recursor_test

import (
	"testing"
	"testing/synctest"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// fuzzSeeds are replies a real server might send, packed: the fuzzer
// mutates them.
func fuzzSeeds(t testing.TB) [][]byte {
	msg := func(aa bool, rcode int, ans, ns, extra []string) []byte {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.Response, m.Authoritative, m.Rcode = true, aa, rcode
		for _, s := range ans {
			m.Answer = append(m.Answer, dnstest.RR(t, s))
		}
		for _, s := range ns {
			m.Ns = append(m.Ns, dnstest.RR(t, s))
		}
		for _, s := range extra {
			m.Extra = append(m.Extra, dnstest.RR(t, s))
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return [][]byte{
		msg(true, dns.RcodeSuccess, []string{"www.example.org. 300 IN A 192.0.2.80"}, nil, nil),
		msg(false, dns.RcodeSuccess, nil, []string{"example.org. 300 IN NS ns1.example.org."}, []string{"ns1.example.org. 300 IN A 203.0.113.1"}),
		msg(false, dns.RcodeSuccess, nil, []string{"www.example.org. 300 IN NS ns.elsewhere.net."}, nil),
		msg(true, dns.RcodeNameError, nil, []string{exampleOrgSOA}, nil),
		msg(true, dns.RcodeSuccess, []string{"www.example.org. 300 IN CNAME www.example.net."}, nil, nil),
		msg(true, dns.RcodeSuccess, []string{"example.org. 300 IN DNAME example.net.", "www.example.org. 300 IN CNAME www.example.net."}, nil, nil),
		msg(true, dns.RcodeSuccess, []string{"www.example.org. 300 IN CNAME x.example.org.", "x.example.org. 300 IN CNAME www.example.org."}, nil, nil),
		{0, 0, 0x84, 0},
	}
}

// FuzzRecursor lets the servers of org. and example.org. send anything: the
// recursor must not panic, must stay within its budget, and must return
// only records from the zones it asked.
func FuzzRecursor(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, qmin bool) {
		synctest.Test(t, func(t *testing.T) {
			fuzzed := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
				m := new(dns.Msg)
				if err := m.Unpack(data); err != nil {
					_, _ = w.Write(data) // garbage: ignored, as the Transport would
					return
				}
				// Make it a reply to this query so the fake network
				// passes it to the recursor.
				m.Id, m.Response = q.Id, true
				m.Question = q.Question
				_ = w.WriteMsg(m)
			})
			w := newWorld(t)
			for _, a := range []string{"198.51.100.1", "198.51.100.2", "203.0.113.1", "203.0.113.2"} {
				w[a] = fuzzed
			}
			n := w.net()
			const maxQueries = 20
			r := newRecursor(t, n, func(c *recursor.Config) {
				c.QNameMinimisation = qmin
				c.Budget.MaxQueries = maxQueries
			})
			m, err := r.Resolve(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true})
			udp := 0
			for _, e := range n.Log() {
				if e.Proto == "udp" {
					udp++
				}
			}
			if udp > maxQueries {
				t.Errorf("%d queries, budget %d", udp, maxQueries)
			}
			if err != nil {
				return
			}
			if len(m.Question) != 1 || m.Question[0].Name != "www.example.org." {
				t.Errorf("question = %v", m.Question)
			}
			for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
				// The root and net. servers are honest: "." records come
				// from the root (say NXDOMAIN for a CNAME target).
				if owner := rr.Header().Name; owner != "." && !dns.IsSubDomain("org.", owner) && !dns.IsSubDomain("net.", owner) {
					t.Errorf("record %v from outside the zones asked", rr)
				}
			}
			if len(m.Extra) > 1 {
				t.Errorf("additional section %v, want only OPT", m.Extra)
			}
		})
	})
}
