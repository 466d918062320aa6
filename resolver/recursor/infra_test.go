package recursor_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver/recursor"
)

// Glue learnt from one referral serves every delegation naming the same
// name server: other.net. is delegated to ns1.example.org., whose address
// the org. referral gave, so no address lookup is needed.
func TestRecursor_Resolve_glueShared(t *testing.T) {
	w := newWorld(t)
	otherNet := dnstest.NewZone(t, `
other.net.      3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300
other.net.      3600 IN NS  ns1.example.org.
www.other.net.   300 IN A   192.0.2.99
`)
	mux := dns.NewServeMux()
	mux.Handle("example.org.", w["203.0.113.1"])
	mux.Handle("other.net.", otherNet)
	w["203.0.113.1"] = mux
	w["198.51.100.11"] = dnstest.NewZone(t, netZone+"other.net. 86400 IN NS ns1.example.org.\n")
	// org. gives ns1.example.org.'s glue a TTL of 60 s, under its NS TTL.
	w["198.51.100.1"] = dnstest.NewZone(t, strings.Replace(orgZone,
		"ns1.example.org.  86400 IN A   203.0.113.1", "ns1.example.org.  60 IN A   203.0.113.1", 1))
	w["198.51.100.2"] = w["198.51.100.1"]
	n := w.net()
	clock := time.Now()
	r := newRecursor(t, n, func(c *recursor.Config) { c.Now = func() time.Time { return clock } })
	resolve(t, r, "www.example.org.", dns.TypeA)
	n.Reset()
	m := resolve(t, r, "www.other.net.", dns.TypeA)
	checkAnswer(t, m, dns.RcodeSuccess, rrs(t, "www.other.net. 300 IN A 192.0.2.99"))
	checkLog(t, n,
		"192.0.2.1 udp www.other.net. A",
		"198.51.100.11 udp www.other.net. A",
		"203.0.113.1 udp www.other.net. A",
	)
	n.Reset()

	// Past the glue's TTL the address is looked up (from example.org.'s
	// servers, whose delegation is still cached).
	clock = clock.Add(61 * time.Second)
	resolve(t, r, "mail.other.net.", dns.TypeA)
	checkLog(t, n,
		"203.0.113.1 udp ns1.example.org. A",
		"203.0.113.1 udp mail.other.net. A",
	)
}

// With QNAME minimisation, names found to exist without being zone cuts
// (here the empty non-terminals c. and b.c.example.org.) are remembered:
// the next resolution below them asks for the full name straight away.
func TestRecursor_Resolve_qminRemembersNames(t *testing.T) {
	n := newWorld(t).net()
	r := newRecursor(t, n, qmin)
	m := resolve(t, r, "b.c.example.org.", dns.TypeA)
	checkAnswer(t, m, dns.RcodeSuccess, rrs(t))
	n.Reset()
	m = resolve(t, r, "a.b.c.example.org.", dns.TypeTXT)
	checkAnswer(t, m, dns.RcodeSuccess, rrs(t, `a.b.c.example.org. 300 IN TXT "deep"`))
	checkLog(t, n, "203.0.113.1 udp a.b.c.example.org. TXT")
}

// Concurrent resolutions share identical steps: two clients asking the same
// cold question at once, and the two parallel glueless lookups of one
// resolution (both minimised through net. and dnshost.net.), send each
// query once.
func TestRecursor_Resolve_sharedSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newWorld(t).delayed(10 * time.Millisecond).net()
		r := newRecursor(t, n, qmin)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				m, err := r.Resolve(t.Context(), question("www.glueless.org.", dns.TypeA))
				if err != nil {
					t.Error(err)
					return
				}
				checkAnswer(t, m, dns.RcodeSuccess, rrs(t, "www.glueless.org. 300 IN A 192.0.2.90"))
			})
		}
		wg.Wait()
		lines := n.Lines()
		seen := map[string]int{}
		for _, l := range lines {
			seen[l]++
		}
		for l, c := range seen {
			if c > 1 {
				t.Errorf("%q sent %d times:\n\t%s", l, c, strings.Join(lines, "\n\t"))
			}
		}
		// Priming, org., glueless.org. (referral), then for both name
		// servers: net., dnshost.net., and each name; then the answer.
		want := []string{
			"192.0.2.1 udp . NS",
			"192.0.2.1 udp org. A",
			"198.51.100.1 udp glueless.org. A",
			"192.0.2.1 udp net. A",
			"198.51.100.11 udp dnshost.net. A",
			"203.0.113.20 udp ns1.dnshost.net. A",
			"203.0.113.20 udp ns2.dnshost.net. A",
			"203.0.113.21 udp www.glueless.org. A",
		}
		got := slices.Sorted(slices.Values(lines))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("exchanges =\n\t%s\nwant (in any order)\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	})
}

// The reply for a CNAME target resolved shortly before is reused, within
// its TTL; the first question of a resolution is always asked (the answer
// cache above is where client questions are cached).
func TestRecursor_Resolve_chaseReusesReplies(t *testing.T) {
	n := newWorld(t).net()
	clock := time.Now()
	r := newRecursor(t, n, func(c *recursor.Config) { c.Now = func() time.Time { return clock } })
	resolve(t, r, "www.example.net.", dns.TypeA)
	resolve(t, r, "www.example.org.", dns.TypeA)
	n.Reset()
	want := rrs(t, "away.example.org. 300 IN CNAME www.example.net.", "www.example.net. 300 IN A 192.0.2.81")
	m := resolve(t, r, "away.example.org.", dns.TypeA)
	checkAnswer(t, m, dns.RcodeSuccess, want)
	checkLog(t, n, "203.0.113.1 udp away.example.org. A")
	n.Reset()
	resolve(t, r, "www.example.net.", dns.TypeA)
	checkLog(t, n, "203.0.113.11 udp www.example.net. A")
	n.Reset()

	// Reused records leave with what is left of their TTL.
	clock = clock.Add(100 * time.Second)
	m = resolve(t, r, "away.example.org.", dns.TypeA)
	checkAnswer(t, m, dns.RcodeSuccess, rrs(t, "away.example.org. 300 IN CNAME www.example.net.", "www.example.net. 200 IN A 192.0.2.81"))
	checkLog(t, n, "203.0.113.1 udp away.example.org. A")
	n.Reset()

	// www.example.net.'s A record has a TTL of 300 s.
	clock = clock.Add(201 * time.Second)
	m = resolve(t, r, "away.example.org.", dns.TypeA)
	checkAnswer(t, m, dns.RcodeSuccess, want)
	checkLog(t, n, "203.0.113.1 udp away.example.org. A", "203.0.113.11 udp www.example.net. A")
}
