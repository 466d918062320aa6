package recursor_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver/recursor"
)

// The hints name one root server; priming learns the real set, with
// another server at another address, and that is what gets used.
func TestRecursor_Resolve_priming(t *testing.T) {
	const newRoot = `
.                    86400 IN SOA b.root-servers.test. nstld.root-servers.test. 1 1800 900 604800 86400
.                   518400 IN NS  b.root-servers.test.
b.root-servers.test. 518400 IN A   192.0.2.2
org.                172800 IN NS  ns1.nic.org.
ns1.nic.org.        172800 IN A   198.51.100.1
net.                172800 IN NS  ns1.nic.net.
ns1.nic.net.        172800 IN A   198.51.100.11
`
	root := dnstest.NewZone(t, newRoot)
	w := newWorld(t)
	// The Zone does not add glue to the apex NS answer: add it, as root
	// servers do.
	w["192.0.2.1"] = dnstest.Mangle(root, func(q, m *dns.Msg) {
		if q.Question[0].Qtype == dns.TypeNS && q.Question[0].Name == "." {
			m.Extra = append(m.Extra, dnstest.RR(t, "b.root-servers.test. 518400 IN A 192.0.2.2"))
		}
	})
	w["192.0.2.2"] = root
	reg := newRegistry(t)
	n := w.net()
	r := newRecursor(t, n, func(c *recursor.Config) { c.Metrics = reg.m })
	resolve(t, r, "www.example.org.", dns.TypeA)
	checkLog(t, n,
		"192.0.2.1 udp . NS",
		"192.0.2.2 udp www.example.org. A",
		"198.51.100.1 udp www.example.org. A",
		"203.0.113.1 udp www.example.org. A",
	)
	reg.want(t, `gatehouse_recursor_primings_total{result="success"} 1`)
}

func TestRecursor_Resolve_primingFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		root := w["192.0.2.1"]
		w["192.0.2.1"] = dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
			if q.Question[0].Name == "." {
				dnstest.Rcode(dns.RcodeServerFailure).ServeDNS(rw, q)
				return
			}
			root.ServeDNS(rw, q)
		})
		reg := newRegistry(t)
		n := w.net()
		r := newRecursor(t, n, func(c *recursor.Config) { c.Metrics = reg.m })
		// Priming fails: the hints are used as they are.
		resolve(t, r, "www.example.org.", dns.TypeA)
		checkLog(t, n,
			"192.0.2.1 udp . NS",
			"192.0.2.1 udp www.example.org. A", // set aside for ".", but the only one: probed
			"198.51.100.1 udp www.example.org. A",
			"203.0.113.1 udp www.example.org. A",
		)
		reg.want(t, `gatehouse_recursor_primings_total{result="failure"} 1`)
		n.Reset()
		// Not retried at once...
		resolve(t, r, "www.example.net.", dns.TypeA)
		checkLog(t, n,
			"192.0.2.1 udp www.example.net. A",
			"198.51.100.11 udp www.example.net. A",
			"203.0.113.11 udp www.example.net. A",
		)
		n.Reset()
		// ...but after a while.
		time.Sleep(11 * time.Second)
		resolve(t, r, "nope.", dns.TypeA)
		checkLog(t, n, "192.0.2.1 udp . NS", "192.0.2.1 udp nope. A")
	})
}

// Cached delegations and addresses expire with their TTLs.
func TestRecursor_Resolve_infraExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newWorld(t).net()
		r := newRecursor(t, n)
		resolve(t, r, "www.example.org.", dns.TypeA)
		resolve(t, r, "www.glueless.org.", dns.TypeA)
		n.Reset()

		// After an hour the glueless name servers' addresses (TTL 3600)
		// are gone; their zone's delegation (86400) is not.
		time.Sleep(time.Hour + time.Second)
		resolve(t, r, "www.glueless.org.", dns.TypeA)
		got := n.Lines()
		slices.Sort(got[:2]) // looked up in parallel
		if want := []string{
			"203.0.113.20 udp ns1.dnshost.net. A",
			"203.0.113.20 udp ns2.dnshost.net. A",
			"203.0.113.21 udp www.glueless.org. A",
		}; !slices.Equal(got, want) {
			t.Errorf("exchanges = %q, want %q", got, want)
		}
		n.Reset()

		// Nothing is kept longer than a day, whatever its TTL (the root's
		// is six days): after a day, resolution starts from priming again.
		time.Sleep(23 * time.Hour)
		resolve(t, r, "www.example.org.", dns.TypeA)
		checkLog(t, n,
			priming,
			"192.0.2.1 udp www.example.org. A",
			"198.51.100.1 udp www.example.org. A",
			"203.0.113.1 udp www.example.org. A",
		)
	})
}
