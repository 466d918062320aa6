package recursor_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// The first server of example.org misbehaves; the second answers.
func TestRecursor_Resolve_lame(t *testing.T) {
	zone := dnstest.NewZone(t, exampleOrgZone)
	reply := func(f func(q, m *dns.Msg)) dns.Handler {
		return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			f(q, m)
			_ = w.WriteMsg(m)
		})
	}
	tests := []struct {
		name string
		h    dns.Handler
		hold time.Duration // how long it is set aside
	}{
		{name: "refused", h: dnstest.Rcode(dns.RcodeRefused), hold: 15 * time.Minute},
		{name: "servfail", h: dnstest.Rcode(dns.RcodeServerFailure), hold: time.Minute},
		{name: "notauth rcode", h: dnstest.Rcode(dns.RcodeNotAuth), hold: 15 * time.Minute},
		{name: "not authoritative", h: dnstest.Mangle(zone, func(_, m *dns.Msg) { m.Authoritative = false }), hold: 15 * time.Minute},
		{name: "upward referral", h: reply(func(_, m *dns.Msg) {
			m.Ns = []dns.RR{dnstest.RR(t, "org. 3600 IN NS ns1.nic.org.")}
		}), hold: 15 * time.Minute},
		{name: "referral to itself", h: reply(func(_, m *dns.Msg) {
			m.Ns = []dns.RR{dnstest.RR(t, "example.org. 3600 IN NS ns1.example.org.")}
		}), hold: 15 * time.Minute},
		{name: "sideways referral", h: reply(func(_, m *dns.Msg) {
			m.Ns = []dns.RR{dnstest.RR(t, "example.net. 3600 IN NS ns.example.net.")}
		}), hold: 15 * time.Minute},
		{name: "answer about another zone", h: reply(func(q, m *dns.Msg) {
			m.Authoritative = true
			m.Answer = []dns.RR{dnstest.RR(t, q.Question[0].Name+" 300 IN CNAME www.example.net."),
				dnstest.RR(t, "www.example.net. 300 IN A 203.0.113.66")}
			m.Answer[0].Header().Name = "www.example.net." // owner outside example.org
		}), hold: 15 * time.Minute},
		{name: "empty non-authoritative", h: reply(func(*dns.Msg, *dns.Msg) {}), hold: 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w["203.0.113.1"] = tt.h
				n := w.net()
				r := newRecursor(t, n)
				resolve(t, r, "www.example.org.", dns.TypeA)
				n.Reset()

				// Remembered: the next query goes to the good server.
				m := resolve(t, r, "alias.example.org.", dns.TypeA)
				checkMsg(t, m, dns.RcodeSuccess, rrs(t, "alias.example.org. 300 IN CNAME www.example.org.", "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
				checkLog(t, n, "203.0.113.2 udp alias.example.org. A")
				n.Reset()

				// Until the hold ends: then it is a candidate again. (Which
				// of the two is asked then depends on their statistics,
				// which age too: check the choice offered.)
				var offered []int
				recursor.SetRand(r, func(n int) int { offered = append(offered, n); return 0 })
				time.Sleep(tt.hold - time.Second)
				resolve(t, r, "www.example.org.", dns.TypeA)
				checkLog(t, n, "203.0.113.2 udp www.example.org. A")
				time.Sleep(2 * time.Second)
				resolve(t, r, "www.example.org.", dns.TypeA)
				if want := []int{1, 2}; len(offered) < 2 || !slices.Equal(offered[:2], want) {
					t.Errorf("servers to choose from = %v, want %v (the first server set aside, then back)", offered, want)
				}
			})
		})
	}
}

func TestRecursor_Resolve_lameFirstQuery(t *testing.T) {
	w := newWorld(t)
	w["203.0.113.1"] = dnstest.Rcode(dns.RcodeRefused)
	n := w.net()
	r := newRecursor(t, n)
	m := resolve(t, r, "www.example.org.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
	checkLog(t, n,
		priming,
		"192.0.2.1 udp www.example.org. A",
		"198.51.100.1 udp www.example.org. A",
		"203.0.113.1 udp www.example.org. A",
		"203.0.113.2 udp www.example.org. A",
	)
}

func TestRecursor_Resolve_unresponsive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w["203.0.113.1"] = dnstest.Drop()
		n := w.net()
		r := newRecursor(t, n)
		start := time.Now()
		m := resolve(t, r, "www.example.org.", dns.TypeA)
		checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
		checkLog(t, n,
			priming,
			"192.0.2.1 udp www.example.org. A",
			"198.51.100.1 udp www.example.org. A",
			"203.0.113.1 udp www.example.org. A", // times out
			"203.0.113.2 udp www.example.org. A",
		)
		if waited := time.Since(start); waited != 400*time.Millisecond {
			t.Errorf("resolution took %v, want the 400ms timeout for a server never measured", waited)
		}
		n.Reset()

		// Its timeout doubled: the answering server is preferred.
		resolve(t, r, "alias.example.org.", dns.TypeA)
		checkLog(t, n, "203.0.113.2 udp alias.example.org. A")
	})
}

func TestRecursor_Resolve_allUnresponsive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w["203.0.113.1"] = dnstest.Drop()
		w["203.0.113.2"] = dnstest.Drop()
		n := w.net()
		r := newRecursor(t, n)
		for i, tt := range []struct {
			name    string
			wantLog []string
		}{
			{"x.example.org.", []string{
				priming, "192.0.2.1 udp x.example.org. A", "198.51.100.1 udp x.example.org. A",
				"203.0.113.1 udp x.example.org. A", "203.0.113.2 udp x.example.org. A", // first timeouts
				"203.0.113.1 udp x.example.org. A", "203.0.113.2 udp x.example.org. A", // one more round; second timeouts: now held
			}},
			{"www.example.org.", []string{"203.0.113.1 udp www.example.org. A"}}, // all held: one probe only
			{"y.example.org.", []string{"203.0.113.2 udp y.example.org. A"}},     // the other, held for less time
		} {
			n.Reset()
			_, err := r.Resolve(t.Context(), question(tt.name, dns.TypeA))
			if !errors.Is(err, resolver.ErrNoUpstream) {
				t.Errorf("query %d: Resolve error = %v, want ErrNoUpstream", i, err)
			}
			checkLog(t, n, tt.wantLog...)
		}
	})
}

// A zone whose only server lost one packet is asked again, with a doubled
// timeout, rather than failed.
func TestRecursor_Resolve_lostPacketRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var dropped atomic.Bool
		h := w["203.0.113.11"]
		w["203.0.113.11"] = dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
			if dropped.CompareAndSwap(false, true) {
				return // lost
			}
			h.ServeDNS(rw, q)
		})
		n := w.net()
		r := newRecursor(t, n)
		start := time.Now()
		m := resolve(t, r, "www.example.net.", dns.TypeA)
		checkAnswer(t, m, dns.RcodeSuccess, rrs(t, "www.example.net. 300 IN A 192.0.2.81"))
		checkLog(t, n,
			priming,
			"192.0.2.1 udp www.example.net. A",
			"198.51.100.11 udp www.example.net. A",
			"203.0.113.11 udp www.example.net. A", // lost
			"203.0.113.11 udp www.example.net. A",
		)
		if waited := time.Since(start); waited != 400*time.Millisecond {
			t.Errorf("resolution took %v, want the 400ms timeout of the lost packet", waited)
		}
	})
}

func TestRecursor_Resolve_preferFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w["203.0.113.1"] = dnstest.Delay(200*time.Millisecond, w["203.0.113.1"])
		w["203.0.113.2"] = dnstest.Delay(10*time.Millisecond, w["203.0.113.2"])
		n := w.net()
		r := newRecursor(t, n)
		resolve(t, r, "www.example.org.", dns.TypeA) // .1 first: both unknown, lower address
		for _, name := range []string{"alias.example.org.", "www.example.org.", "nope.example.org."} {
			n.Reset()
			if _, err := r.Resolve(t.Context(), question(name, dns.TypeA)); err != nil {
				t.Fatal(err)
			}
			// .1, measured at 200ms, has a timeout (its score) of
			// 600ms: worse than .2's 400ms while unknown, and outside
			// the 400ms band once .2 is measured at 10ms.
			checkLog(t, n, "203.0.113.2 udp "+name+" A")
		}
	})
}

func TestRecursor_Resolve_truncated(t *testing.T) {
	w := newWorld(t)
	w["203.0.113.1"] = dnstest.TruncateUDP(w["203.0.113.1"])
	n := w.net()
	r := newRecursor(t, n)
	m := resolve(t, r, "www.example.org.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
	checkLog(t, n,
		priming,
		"192.0.2.1 udp www.example.org. A",
		"198.51.100.1 udp www.example.org. A",
		"203.0.113.1 udp www.example.org. A",
		"203.0.113.1 tcp www.example.org. A",
	)
}

func TestRecursor_Resolve_ednsFallback(t *testing.T) {
	for _, rcode := range []int{dns.RcodeFormatError, dns.RcodeNotImplemented} {
		t.Run(dns.RcodeToString[rcode], func(t *testing.T) {
			w := newWorld(t)
			zone := w["203.0.113.1"]
			w["203.0.113.1"] = dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
				if q.IsEdns0() != nil {
					m := new(dns.Msg)
					_ = rw.WriteMsg(m.SetRcode(q, rcode))
					return
				}
				zone.ServeDNS(rw, q)
			})
			n := w.net()
			r := newRecursor(t, n)
			m := resolve(t, r, "www.example.org.", dns.TypeA)
			checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
			checkLog(t, n,
				priming,
				"192.0.2.1 udp www.example.org. A",
				"198.51.100.1 udp www.example.org. A",
				"203.0.113.1 udp www.example.org. A",
				"203.0.113.1 udp www.example.org. A noedns",
			)
			n.Reset()
			// Remembered: no EDNS for that server from now on.
			resolve(t, r, "alias.example.org.", dns.TypeA)
			checkLog(t, n, "203.0.113.1 udp alias.example.org. A noedns")
		})
	}
}

func TestRecursor_Resolve_ipv6(t *testing.T) {
	const v6Zone = `
v6only.org.      3600 IN SOA ns.v6only.org. hostmaster.v6only.org. 1 7200 900 1209600 300
v6only.org.      3600 IN NS  ns.v6only.org.
ns.v6only.org.   3600 IN AAAA 2001:db8::53
www.v6only.org.   300 IN A   192.0.2.66
`
	org := orgZone + `
v6only.org.      86400 IN NS   ns.v6only.org.
ns.v6only.org.   86400 IN AAAA 2001:db8::53
`
	for _, ipv6 := range []bool{false, true} {
		w := newWorld(t)
		w["198.51.100.1"] = dnstest.NewZone(t, org)
		w["2001:db8::53"] = dnstest.NewZone(t, v6Zone)
		n := w.net()
		r := newRecursor(t, n, func(c *recursor.Config) { c.IPv6 = ipv6 })
		m, err := r.Resolve(t.Context(), question("www.v6only.org.", dns.TypeA))
		if !ipv6 {
			if !errors.Is(err, resolver.ErrNoUpstream) {
				t.Errorf("without IPv6: Resolve = %v, %v; want ErrNoUpstream", m, err)
			}
			checkLog(t, n, priming, "192.0.2.1 udp www.v6only.org. A", "198.51.100.1 udp www.v6only.org. A")
			continue
		}
		if err != nil {
			t.Fatalf("with IPv6: %v", err)
		}
		checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.v6only.org. 300 IN A 192.0.2.66"), rrs(t))
		checkLog(t, n, priming, "192.0.2.1 udp www.v6only.org. A", "198.51.100.1 udp www.v6only.org. A", "2001:db8::53 udp www.v6only.org. A")
	}
}
