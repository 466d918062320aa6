package recursor_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver/recursor"
)

func qmin(c *recursor.Config) { c.QNameMinimisation = true }

func TestRecursor_Resolve_qnameMinimisation(t *testing.T) {
	// example.org's servers answer NXDOMAIN for empty non-terminals, as
	// some broken servers do, or fail on them.
	entNXDomain := func(h dns.Handler) dns.Handler {
		return dnstest.Mangle(h, func(q, m *dns.Msg) {
			if name := dns.CanonicalName(q.Question[0].Name); name == "c.example.org." || name == "b.c.example.org." {
				m.Rcode = dns.RcodeNameError
			}
		})
	}
	entServfail := func(h dns.Handler) dns.Handler {
		return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			if dns.CanonicalName(q.Question[0].Name) == "c.example.org." {
				dnstest.Rcode(dns.RcodeServerFailure).ServeDNS(w, q)
				return
			}
			h.ServeDNS(w, q)
		})
	}
	tests := []struct {
		name      string
		broken    func(dns.Handler) dns.Handler // applied to example.org's servers
		qname     string
		qtype     uint16
		wantRcode int
		wantAns   []string
		wantLog   []string
	}{
		{
			name: "deep name", qname: "a.b.c.example.org.", qtype: dns.TypeTXT,
			wantAns: []string{`a.b.c.example.org. 300 IN TXT "deep"`},
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. A",
				"203.0.113.1 udp c.example.org. A",
				"203.0.113.1 udp b.c.example.org. A",
				"203.0.113.1 udp a.b.c.example.org. TXT",
			},
		},
		{
			name: "nxdomain for an empty non-terminal: full name", broken: entNXDomain,
			qname: "a.b.c.example.org.", qtype: dns.TypeTXT,
			wantAns: []string{`a.b.c.example.org. 300 IN TXT "deep"`},
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. A",
				"203.0.113.1 udp c.example.org. A",
				"203.0.113.1 udp a.b.c.example.org. TXT",
			},
		},
		{
			name: "servfail for a minimised query: full name", broken: entServfail,
			qname: "a.b.c.example.org.", qtype: dns.TypeTXT,
			wantAns: []string{`a.b.c.example.org. 300 IN TXT "deep"`},
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. A",
				"203.0.113.1 udp c.example.org. A",
				"203.0.113.2 udp c.example.org. A",
				"203.0.113.1 udp a.b.c.example.org. TXT", // both set aside: one probe
			},
		},
		{
			name: "real nxdomain", qname: "x.nope.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError,
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. A",
				"203.0.113.1 udp nope.example.org. A",
				"203.0.113.1 udp x.nope.example.org. A", // relaxed: NXDOMAIN is not trusted to cover what is below
			},
		},
		{
			name: "alias above the name", qname: "x.alias.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError,
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. A",
				"203.0.113.1 udp alias.example.org. A",
				"203.0.113.1 udp x.alias.example.org. A",
			},
		},
		{
			name: "ds", qname: "example.org.", qtype: dns.TypeDS,
			wantLog: []string{
				priming,
				"192.0.2.1 udp org. A",
				"198.51.100.1 udp example.org. DS",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.broken != nil {
				w["203.0.113.1"] = tt.broken(w["203.0.113.1"])
				w["203.0.113.2"] = tt.broken(w["203.0.113.2"])
			}
			n := w.net()
			r := newRecursor(t, n, qmin)
			m := resolve(t, r, tt.qname, tt.qtype)
			checkAnswer(t, m, tt.wantRcode, rrs(t, tt.wantAns...))
			checkLog(t, n, tt.wantLog...)
		})
	}
}

func TestRecursor_Resolve_qnameMinimisationGlueless(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newWorld(t).delayed(10 * time.Millisecond).net()
		r := newRecursor(t, n, qmin)
		m := resolve(t, r, "www.glueless.org.", dns.TypeA)
		checkAnswer(t, m, dns.RcodeSuccess, rrs(t, "www.glueless.org. 300 IN A 192.0.2.90"))
		for _, e := range n.Log() {
			if e.Server.Addr().String() != "203.0.113.20" && strings.HasPrefix(e.Name, "ns") {
				t.Errorf("%v: a full name server name sent above its zone", e)
			}
		}
	})
}

func TestRecursor_Resolve_qnameMinimisationWarm(t *testing.T) {
	n := newWorld(t).net()
	r := newRecursor(t, n, qmin)
	resolve(t, r, "www.example.org.", dns.TypeA)
	n.Reset()
	resolve(t, r, "a.b.c.example.org.", dns.TypeTXT)
	checkLog(t, n,
		"203.0.113.1 udp c.example.org. A",
		"203.0.113.1 udp b.c.example.org. A",
		"203.0.113.1 udp a.b.c.example.org. TXT",
	)
	n.Reset()
	resolve(t, r, "nope.org.", dns.TypeA)
	checkLog(t, n, "198.51.100.1 udp nope.org. A")
}

func use0x20(c *recursor.Config) { c.Use0x20 = true }

func TestRecursor_Resolve_0x20(t *testing.T) {
	n := newWorld(t).net()
	r := newRecursor(t, n, use0x20)
	m := resolve(t, r, "www.example.org.", dns.TypeA)
	checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
	mixed := false
	for _, e := range n.Log() {
		mixed = mixed || e.Name != strings.ToLower(e.Name)
	}
	if len(n.Log()) != 4 || !mixed {
		// 4 exchanges of 15 or more letters: all lower case by chance
		// has a probability of 2^-60.
		t.Errorf("exchanges = %q, want 4 with names in random case", n.Lines())
	}
	if q := m.Question[0].Name; q != "www.example.org." {
		t.Errorf("reply question %q, want the canonical name", q)
	}
	for _, rr := range m.Answer {
		if rr.Header().Name != "www.example.org." {
			t.Errorf("answer owner %q, want lower case", rr.Header().Name)
		}
	}
}

// A server that does not echo the query name's case exactly is taken for a
// spoofer under 0x20.
func TestRecursor_Resolve_0x20Mismatch(t *testing.T) {
	lower := func(h dns.Handler) dns.Handler {
		return dnstest.Mangle(h, func(_, m *dns.Msg) { m.Question[0].Name = strings.ToLower(m.Question[0].Name) })
	}
	for _, on := range []bool{false, true} {
		w := newWorld(t)
		w["203.0.113.1"] = lower(w["203.0.113.1"])
		n := w.net()
		var mods []func(*recursor.Config)
		if on {
			mods = append(mods, use0x20)
		}
		r := newRecursor(t, n, mods...)
		resolve(t, r, "www.example.org.", dns.TypeA)
		var leaf []string
		for _, e := range n.Log() {
			if strings.HasPrefix(e.Server.Addr().String(), "203.") {
				leaf = append(leaf, e.Server.Addr().String())
			}
		}
		want := "203.0.113.1"
		if on {
			want = "203.0.113.1 203.0.113.2"
		}
		if got := strings.Join(leaf, " "); got != want {
			t.Errorf("0x20 %v: leaf servers asked = %q, want %q", on, got, want)
		}
	}
}

// exchangerFunc adapts a function to resolver.Exchanger.
type exchangerFunc func(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)

func (f exchangerFunc) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	return f(ctx, m, server)
}

// Replies to another question are rejected even when the Exchanger lets
// them through.
func TestRecursor_Resolve_questionMismatch(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(r *dns.Msg)
	}{
		{name: "name", mangle: func(r *dns.Msg) { r.Question[0].Name = "www.example.net." }},
		{name: "type", mangle: func(r *dns.Msg) { r.Question[0].Qtype = dns.TypeAAAA }},
		{name: "class", mangle: func(r *dns.Msg) { r.Question[0].Qclass = dns.ClassCHAOS }},
		{name: "none", mangle: func(r *dns.Msg) { r.Question = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newWorld(t).net()
			ex := exchangerFunc(func(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
				r, err := n.Exchange(ctx, m, server)
				if err == nil && server.Addr().String() == "203.0.113.1" {
					tt.mangle(r)
				}
				return r, err
			})
			r := newRecursor(t, ex)
			m := resolve(t, r, "www.example.org.", dns.TypeA)
			checkMsg(t, m, dns.RcodeSuccess, rrs(t, "www.example.org. 300 IN A 192.0.2.80"), rrs(t))
			checkLog(t, n,
				priming,
				"192.0.2.1 udp www.example.org. A",
				"198.51.100.1 udp www.example.org. A",
				"203.0.113.1 udp www.example.org. A",
				"203.0.113.2 udp www.example.org. A",
			)
		})
	}
}
